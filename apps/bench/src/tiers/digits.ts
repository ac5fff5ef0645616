import type * as tf from '@tensorflow/tfjs';
import { loadFontDigits, uciDigitsSplit } from '../data/datasets';
import { digitEvalSets, layersModelOps } from '../evaluate';
import {
  fineTune,
  isTrainedMethod,
  METHOD_LABELS,
  SHARED_FINE_TUNING,
  tpgmValidationLoss,
  trainedSpec,
} from '../methods';
import { buildCnn, cloneWithWeights, loadPretrained } from '../model';
import { vrfEnsemble, wiseFtSweep } from '../posthoc';
import { defineTier } from '../runner';

/**
 * Tier "digits" (default): a 55k-parameter CNN pre-trained on MNIST is fine-tuned on UCI handwritten
 * digits; OOD = MNIST test (the pre-training domain), printed font digits, and the ID test set under
 * corruptions.
 */
export const digits = defineTier<tf.LayersModel>({
  name: 'digits',
  help: `digits (default): a 55k-parameter CNN pre-trained on MNIST (assets/pretrained-cnn, made by
                      scripts/pretrain.ts) fine-tuned on UCI handwritten digits (8x8 scans of 13 other
                      writers, mapped to 28x28). OOD = MNIST test (the pre-training domain), printed font
                      digits (118 fonts), and the ID test set under corruptions at several severities.
                      tpgm learns its projection radii on batches of the ID validation split.`,
  defaults: {},
  reportDir: '.',
  methods: [
    { name: 'zero-shot', label: METHOD_LABELS['zero-shot'], kind: 'zero-shot' },
    ...SHARED_FINE_TUNING.map((m) => trainedSpec<tf.LayersModel>(m)),
    trainedSpec('tpgm'),
    trainedSpec('fsr'),
    wiseFtSweep({ name: 'wise-ft', label: METHOD_LABELS['wise-ft'], from: 'zero-shot', to: 'adamw' }),
    vrfEnsemble({ name: 'vrf', label: METHOD_LABELS.vrf, zeroShot: 'zero-shot', fineTuned: 'adamw' }),
  ],
  baseline: ['zero-shot', 'linear-probe', 'adamw'],
  report: {
    idLabel: 'UCI digits',
    describe: (r) =>
      `ID: UCI handwritten digits (fine-tune ${r.data.idTrain}, validation ${r.data.idVal}, test ${r.data.idTest}). ` +
      `OOD: MNIST test (first ${r.data.mnistTest}; the pre-training domain), ${r.data.fontDigits} printed font digits, and ` +
      `the ID test set under ${r.data.corruptions}.`,
  },
  async load(o, say) {
    const { train: idTrain, val, test } = uciDigitsSplit(o.seed, o.trainLimit);
    const fonts = loadFontDigits();
    const sets = digitEvalSets(test, fonts, o);
    say(
      `digits tier: fine-tune on ${idTrain.n} UCI digits (val ${val.n}, test ${test.n}); ` +
        `OOD: MNIST test ${o.mnistLimit}, font digits, ${o.families.length} corruptions × severities ${o.severities.join(',')}`,
    );
    const pretrained = await loadPretrained(o.modelDir);
    const w0 = pretrained.getWeights();
    return {
      train: idTrain,
      val,
      eval: sets,
      zeroShot: { model: pretrained, hyperparameters: { weights: 'assets/pretrained-cnn (MNIST)' } },
      ...layersModelOps(() => buildCnn(0)),
      async fineTune(method, init, seed) {
        if (!isTrainedMethod(method)) throw new Error(`digits tier: ${method} is not a training method`);
        const model = cloneWithWeights(init ? init.getWeights() : w0);
        // TPGM learns its projection radii on the ID validation split (never a test or OOD set).
        const validationLoss =
          method === 'tpgm' ? tpgmValidationLoss(model, val, o.batchSize, seed) : undefined;
        const tr = fineTune(
          method,
          model,
          pretrained,
          idTrain,
          {
            epochs: o.epochs,
            batchSize: o.batchSize,
            quiet: o.quiet,
            ...(validationLoss ? { validationLoss } : {}),
          },
          seed,
          o.hyperparameters,
        );
        return { model, seconds: tr.seconds, hyperparameters: tr.hyperparameters };
      },
      data: {
        idTrain: idTrain.n,
        idVal: val.n,
        idTest: test.n,
        mnistTest: o.mnistLimit,
        fontDigits: fonts.n,
        corruptions: `${o.families.join(', ')} at severities ${o.severities.join(', ')}`,
      },
      dispose: () => pretrained.dispose(),
    };
  },
});
