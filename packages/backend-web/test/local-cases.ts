import * as tf from '@tensorflow/tfjs-core';

/**
 * Interim conformance cases (a forward function of float inputs; values and gradients are compared
 * with the cpu backend). Kept to the ops whose backward kernels differ most between backends.
 */
export interface LocalCase {
  name: string;
  shapes: number[][];
  fn: (...xs: tf.Tensor[]) => tf.Tensor;
  tolerance: number;
}

export const LOCAL_CASES: LocalCase[] = [
  {
    name: 'conv2d stride 2 same',
    shapes: [
      [1, 5, 5, 2],
      [3, 3, 2, 3],
    ],
    fn: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
    tolerance: 1e-4,
  },
  {
    name: 'matMul transposeA',
    shapes: [
      [3, 2],
      [3, 4],
    ],
    fn: (a, b) => tf.matMul(a!, b!, true, false),
    tolerance: 1e-4,
  },
  {
    name: 'maxPool 2x2 stride 2',
    shapes: [[1, 4, 4, 2]],
    fn: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'),
    tolerance: 1e-5,
  },
];
