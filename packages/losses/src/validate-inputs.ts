import { invalidArgument, RobustFtError } from '@robust-ft/core';
import { assertInRange, assertRank, shapeToString } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * Input checks shared by the losses. Every check runs before any tensor is created, reads values only
 * with `dataSync` (no ops recorded on a gradient tape) and throws a `RobustFtError` naming the argument.
 */

/** Default tolerance on |‖row‖ − 1|: float32 normalisation is exact to ~1e-7, fp16 features to ~1e-3. */
export const DEFAULT_UNIT_NORM_TOLERANCE = 1e-3;

export function assertFloatTensor(argument: string, value: unknown): asserts value is Tensor {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('shape' in value) ||
    !('dtype' in value) ||
    typeof (value as { dataSync?: unknown }).dataSync !== 'function'
  ) {
    throw invalidArgument(argument, 'a tf.Tensor', value);
  }
  if ((value as Tensor).isDisposed) throw invalidArgument(argument, 'a live (not disposed) tensor');
  if ((value as Tensor).dtype !== 'float32')
    throw invalidArgument(argument, 'a float32 tensor', (value as Tensor).dtype);
}

export function assertFinite(argument: string, tensor: Tensor): void {
  const values = tensor.dataSync();
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RobustFtError('NON_FINITE', `${argument} contains a non-finite value at flat index ${i}`, {
        argument,
        expected: 'finite values',
      });
    }
  }
}

/** A rank-2 float32 batch `[N, D]` with N ≥ `minBatch`, all finite. */
export function assertBatchMatrix(
  argument: string,
  tensor: unknown,
  minBatch: number,
): asserts tensor is Tensor {
  assertFloatTensor(argument, tensor);
  assertRank(argument, tensor, 2);
  const n = tensor.shape[0]!;
  if (n < minBatch) {
    throw invalidArgument(
      argument,
      `a batch of at least ${minBatch} rows`,
      `shape ${shapeToString(tensor.shape)}`,
    );
  }
  assertFinite(argument, tensor);
}

export function assertSameShape(argument: string, tensor: Tensor, otherName: string, other: Tensor): void {
  const same = tensor.rank === other.rank && tensor.shape.every((d, i) => d === other.shape[i]);
  if (!same) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `${argument} has shape ${shapeToString(tensor.shape)} but ${otherName} has shape ${shapeToString(other.shape)}`,
      { argument, expected: `shape ${shapeToString(other.shape)} (the shape of ${otherName})` },
    );
  }
}

/** Every row of a rank-2 tensor has unit L2 norm within `tolerance`. */
export function assertUnitRows(
  argument: string,
  tensor: Tensor,
  tolerance = DEFAULT_UNIT_NORM_TOLERANCE,
): void {
  const [n, d] = tensor.shape as [number, number];
  const values = tensor.dataSync();
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += values[i * d + j]! ** 2;
    const norm = Math.sqrt(sq);
    if (Math.abs(norm - 1) > tolerance) {
      throw invalidArgument(
        argument,
        `L2-normalised rows (|norm - 1| <= ${tolerance}); normalise the embeddings first`,
        `row ${i} with norm ${norm.toPrecision(6)}`,
      );
    }
  }
}

/** The two embedding batches of a dual encoder: same `[N, D]` shape, N ≥ 2, finite, optionally unit rows. */
export function assertEmbeddingPair(
  image: unknown,
  text: unknown,
  {
    unitNorm,
    tolerance,
    names = ['image', 'text'],
  }: { unitNorm: boolean; tolerance?: number; names?: [string, string] },
): asserts image is Tensor {
  const [imageName, textName] = names;
  assertBatchMatrix(imageName, image, 2);
  assertBatchMatrix(textName, text, 2);
  assertSameShape(textName, text as Tensor, imageName, image);
  if (unitNorm) {
    assertUnitRows(imageName, image, tolerance);
    assertUnitRows(textName, text as Tensor, tolerance);
  }
}

export function assertLambda(argument: string, lambda: unknown): asserts lambda is number {
  assertInRange(argument, lambda, 0, 1);
}

/**
 * What every mixup loss checks before it builds a tensor: λ in [0, 1] and, unless `validate` is false,
 * a pair of unit-norm embedding batches (the geodesic mixup is only defined on the sphere).
 */
export function assertMixupInputs(
  image: unknown,
  text: unknown,
  lambda: unknown,
  options: { validate?: boolean; unitNormTolerance?: number },
): asserts lambda is number {
  assertLambda('lambda', lambda);
  if (options.validate ?? true) {
    assertEmbeddingPair(image, text, {
      unitNorm: true,
      tolerance: options.unitNormTolerance ?? DEFAULT_UNIT_NORM_TOLERANCE,
    });
  }
}

/** Integer class labels `[N]` (int32) matching a batch of N rows, each in [0, numClasses). */
export function assertLabels(argument: string, labels: unknown, batch: number, numClasses: number): void {
  if (typeof labels !== 'object' || labels === null || !('dtype' in labels) || !('shape' in labels)) {
    throw invalidArgument(argument, 'an int32 tf.Tensor of class indices', labels);
  }
  const t = labels as Tensor;
  if (t.dtype !== 'int32') throw invalidArgument(argument, 'an int32 tensor of class indices', t.dtype);
  assertRank(argument, t, 1);
  if (t.shape[0] !== batch) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `${argument} has ${t.shape[0]} labels for a batch of ${batch}`,
      {
        argument,
        expected: `shape [${batch}]`,
      },
    );
  }
  const values = t.dataSync();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v >= numClasses) {
      throw invalidArgument(argument, `class indices in [0, ${numClasses})`, `label ${v} at index ${i}`);
    }
  }
}
