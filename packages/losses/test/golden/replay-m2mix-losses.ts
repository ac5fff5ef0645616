import * as tf from '@tensorflow/tfjs-core';
import {
  clipContrastiveLoss,
  lmixLoss,
  type MixTerm,
  m2mixLogits,
  m2mixLoss,
  m2mixObjective,
  vlmixLoss,
  vmixLoss,
} from '../../src/index';
import { type CaseResult, compare, type Golden, record, toTensor } from './compare';

type PairLoss = (image: tf.Tensor2D, text: tf.Tensor2D) => tf.Scalar;

/** Value and gradients w.r.t. the unit img/txt leaves (no re-normalisation, as in the file). */
function valueAndGrads(fn: PairLoss, image: tf.Tensor2D, text: tf.Tensor2D) {
  const { value, grads } = tf.valueAndGrads((i: tf.Tensor, t: tf.Tensor) =>
    fn(i as tf.Tensor2D, t as tf.Tensor2D),
  )([image, text]);
  return { value, gradImage: grads[0]!, gradText: grads[1]! };
}

/** `m2mix_losses.json`: every branch value, the scaled m²-mix logits, gradients, do_train totals, README variant. */
export function replayM2mixLosses(file: Golden): CaseResult[] {
  const results: CaseResult[] = [];
  const inputs = record(file, 'inputs');
  const image = toTensor(record(inputs, 'img')) as tf.Tensor2D;
  const text = toTensor(record(inputs, 'txt')) as tf.Tensor2D;
  const tau = record(inputs, 'tau') as number;
  const tau2 = record(inputs, 'tau2') as number;
  const divt = record(inputs, 'divt') as number;
  const lambdas = record(inputs, 'lambdas');
  const lam = (k: string) => record(lambdas, k) as number;
  // The reference scales by (1/τ)/divt, i.e. an effective temperature τ·divt.
  const t1 = tau * divt;
  const t2 = tau2 * divt;

  const branches = record(file, 'branch_values') as Record<string, Golden>;
  for (const [key, values] of Object.entries(branches)) {
    const originalNegatives = /original_neg=True/.test(key);
    const separate = /sep_scale=True/.test(key);
    const mixT = separate ? t2 : t1;
    const opts = { temperature: t1, originalNegatives };
    results.push(
      compare(`${key}/clip`, clipContrastiveLoss(image, text, { temperature: t1 }), record(values, 'clip')),
    );
    results.push(compare(`${key}/vmix`, vmixLoss(image, text, lam('vmix'), opts), record(values, 'vmix')));
    results.push(compare(`${key}/lmix`, lmixLoss(image, text, lam('lmix'), opts), record(values, 'lmix')));
    results.push(
      compare(`${key}/vlmix`, vlmixLoss(image, text, lam('vlmix'), opts), record(values, 'vlmix')),
    );
    results.push(
      compare(
        `${key}/mmmix`,
        m2mixLoss(image, text, lam('mmmix'), { temperature: mixT }),
        record(values, 'mmmix'),
      ),
    );
    const logits = m2mixLogits(image, text, lam('mmmix'), { temperature: mixT });
    results.push(
      compare(
        `${key}/mmmix_logits_per_image`,
        logits.perImage,
        record(values, '_mmmix_logits_per_image_scaled'),
      ),
    );
    results.push(
      compare(
        `${key}/mmmix_logits_per_text`,
        logits.perText,
        record(values, '_mmmix_logits_per_text_scaled'),
      ),
    );
  }

  const gradients = record(file, 'gradients') as Record<string, Golden>;
  const gradientFns: Record<string, PairLoss> = {
    clip: (i, t) => clipContrastiveLoss(i, t, { temperature: t1, validate: false }),
    vmix: (i, t) => vmixLoss(i, t, lam('vmix'), { temperature: t1, validate: false }),
    lmix: (i, t) => lmixLoss(i, t, lam('lmix'), { temperature: t1, validate: false }),
    vlmix: (i, t) => vlmixLoss(i, t, lam('vlmix'), { temperature: t1, validate: false }),
    mmmix_sep_scale: (i, t) => m2mixLoss(i, t, lam('mmmix'), { temperature: t2, validate: false }),
  };
  for (const [key, expected] of Object.entries(gradients)) {
    const fn = gradientFns[key];
    if (fn === undefined) {
      results.push({
        name: `gradients/${key}`,
        ok: false,
        maxAbsError: Number.NaN,
        note: 'no mapping for this key',
      });
      continue;
    }
    const { value, gradImage, gradText } = valueAndGrads(fn, image, text);
    results.push(compare(`gradients/${key}/value`, value, record(expected, 'value')));
    results.push(compare(`gradients/${key}/grad_img`, gradImage, record(expected, 'grad_img')));
    results.push(compare(`gradients/${key}/grad_txt`, gradText, record(expected, 'grad_txt')));
  }

  const totals = record(file, 'totals_do_train') as Record<string, Golden>;
  for (const [key, total] of Object.entries(totals)) {
    const w = record(total, 'weights');
    const objective = m2mixObjective({
      temperature: t1,
      mixTemperature: t2,
      separateTemperature: record(total, 'sep_scale') as boolean,
      epochSchedule: record(total, 'schedule') as boolean,
      weights: {
        vmix: record(w, 'vmix') as number,
        lmix: record(w, 'lmix') as number,
        vlmix: record(w, 'vlmix') as number,
        m2mix: record(w, 'mmmix') as number,
      },
    });
    const given: Partial<Record<MixTerm, number>> = {
      vmix: lam('vmix'),
      lmix: lam('lmix'),
      vlmix: lam('vlmix'),
      m2mix: lam('mmmix'),
    };
    const epoch = record(total, 'epoch') as number;
    const { value, gradImage, gradText } = valueAndGrads(
      (i, t) => objective(i, t, { lambdas: given, epoch }).loss,
      image,
      text,
    );
    results.push(compare(`totals/${key}/value`, value, record(total, 'value')));
    results.push(compare(`totals/${key}/grad_img`, gradImage, record(total, 'grad_img')));
    results.push(compare(`totals/${key}/grad_txt`, gradText, record(total, 'grad_txt')));
  }

  // The README's OpenCLIP preview: learnable logit scale s for the base loss and the diagonal, m_tau
  // (a multiplier, i.e. temperature 1/m_tau) off the diagonal, the two directions averaged.
  const readme = record(file, 'readme_openclip_variant') as Record<string, Golden>;
  for (const [key, variant] of Object.entries(readme)) {
    const s = record(variant, 'logit_scale') as number;
    const logitScale = tf.scalar(Math.log(s));
    const base = clipContrastiveLoss(image, text, { logitScale });
    results.push(compare(`readme/${key}/base_contrastive`, base, record(variant, 'base_contrastive')));
    const mix = m2mixLoss(image, text, record(variant, 'lambda') as number, {
      temperature: 1 / (record(variant, 'm_tau') as number),
      positiveScale: s,
      combineDirections: 'mean',
    });
    results.push(compare(`readme/${key}/mmix_loss`, mix, record(variant, 'mmix_loss')));
    const totalValue = tf.add(base, tf.mul(record(variant, 'mmix') as number, mix));
    results.push(compare(`readme/${key}/total`, totalValue, record(variant, 'total')));
  }
  return results;
}
