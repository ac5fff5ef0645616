/**
 * The live demo's data: a SYNTHETIC STAND-IN for the benchmark's digits model and data (those were not
 * committed when the page was built). Three classes are decided by two "core" features; fine-tuning
 * data (ID) comes from a rotated domain where three "spurious" features also reveal the label, and
 * the OOD test set is the same domain with the spurious features scrambled. A model that leans on the
 * shortcut gains ID accuracy and loses OOD accuracy.
 */
import type * as TF from '@tensorflow/tfjs';

export type Split = 'pretrain' | 'id-train' | 'id-test' | 'ood-test';

export interface Batch {
  x: TF.Tensor2D;
  y: TF.Tensor1D;
}

export const FEATURES = 6;
export const CLASSES = 3;
const ROTATION = (35 * Math.PI) / 180;
const SEEDS: Record<Split, number> = { pretrain: 11, 'id-train': 12, 'id-test': 13, 'ood-test': 14 };

export function makeSplit(tf: typeof TF, split: Split, n: number): Batch {
  return tf.tidy(() => {
    const seed = SEEDS[split];
    let core = tf.randomNormal([n, 2], 0, 1, 'float32', seed) as TF.Tensor2D;
    if (split !== 'pretrain') {
      const c = Math.cos(ROTATION);
      const s = Math.sin(ROTATION);
      core = tf.matMul(
        core,
        tf.tensor2d([
          [c, s],
          [-s, c],
        ]),
      );
    }
    // Class prototypes at 0°, 120° and 240°: the label is the nearest direction.
    const protos = tf.tensor2d([
      [1, 0],
      [-0.5, Math.sqrt(3) / 2],
      [-0.5, -Math.sqrt(3) / 2],
    ]);
    const y = tf.argMax(
      tf.matMul(tf.randomNormal([n, 2], 0, 0, 'float32', seed).add(core), protos, false, true),
      1,
    );
    const shortcutLabels =
      split === 'id-train' || split === 'id-test'
        ? y
        : tf.cast(tf.floor(tf.randomUniform([n], 0, CLASSES, 'float32', seed + 100)), 'int32');
    const shortcut =
      split === 'pretrain'
        ? tf.randomNormal([n, CLASSES], 0, 1, 'float32', seed + 200)
        : tf.add(
            tf.mul(tf.oneHot(shortcutLabels as TF.Tensor1D, CLASSES), 1.5),
            tf.randomNormal([n, CLASSES], 0, 0.5, 'float32', seed + 300),
          );
    const noise = tf.randomNormal([n, 1], 0, 1, 'float32', seed + 400);
    const x = tf.concat([core, shortcut, noise], 1) as TF.Tensor2D;
    return { x, y: tf.cast(y, 'int32') as TF.Tensor1D };
  });
}
