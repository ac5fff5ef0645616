import { RobustFtError } from '@robust-ft/core';
import { assertInRange, assertRank, invalidArgument, shapeToString } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';

type Tensor = tf.Tensor;

/**
 * Input checks shared by the losses. A loss runs inside a gradient tape, so it cannot await, and a
 * synchronous read returns zeros on WebGPU: nothing here reads a value back to the host.
 * - Form (type, dtype, rank, batch size, matching shapes) is checked up front and throws a
 *   `RobustFtError` naming the argument, before any tensor is created.
 * - Values (finite, unit-norm rows, label range) are checked on the device by `guardValues`: when one
 *   fails, the loss (and so every gradient) is NaN, which a guarded optimizer step detects and skips,
 *   so a bad batch is never applied.
 */

/** Default tolerance on |‖row‖ − 1|: float32 normalisation is exact to ~1e-7, fp16 features to ~1e-3. */
export const DEFAULT_UNIT_NORM_TOLERANCE = 1e-3;

export function assertFloatTensor(argument: string, value: unknown): asserts value is Tensor {
  if (
    typeof value !== 'object' ||
    value === null ||
    !('shape' in value) ||
    !('dtype' in value) ||
    typeof (value as { data?: unknown }).data !== 'function'
  ) {
    throw invalidArgument(argument, 'a tf.Tensor', value);
  }
  if ((value as Tensor).isDisposed) throw invalidArgument(argument, 'a live (not disposed) tensor');
  if ((value as Tensor).dtype !== 'float32')
    throw invalidArgument(argument, 'a float32 tensor', (value as Tensor).dtype);
}

/** A value check that `guardValues` runs on the device. */
export interface ValueCheck {
  tensor: Tensor;
  /** Every element finite (float tensors). Default true. */
  finite?: boolean;
  /** Every row of a rank-2 tensor has |‖row‖₂ − 1| ≤ this. */
  unitNormTolerance?: number;
  /** Every element an integer class id in [0, classes). */
  classes?: number;
}

function passes(check: ValueCheck): Tensor {
  const { tensor: t, finite = true, unitNormTolerance, classes } = check;
  const ok: Tensor[] = [];
  if (finite && t.dtype === 'float32') ok.push(tf.all(tf.isFinite(t)));
  if (unitNormTolerance !== undefined) {
    // A NaN norm fails as well: lessEqual(NaN, tolerance) is false.
    const off = tf.abs(tf.sub(tf.sqrt(tf.sum(tf.square(t), 1)), 1));
    ok.push(tf.all(tf.lessEqual(off, unitNormTolerance)));
  }
  if (classes !== undefined) ok.push(tf.all(tf.logicalAnd(tf.greaterEqual(t, 0), tf.less(t, classes))));
  return ok.reduce((a, b) => tf.logicalAnd(a, b), tf.scalar(true, 'bool'));
}

/**
 * `result` unchanged when every check passes, all NaN otherwise; computed on the device, never read.
 * The checks run inside a custom-gradient op with a zero gradient, so their comparisons (which have no
 * gradient in tfjs) stay off the tape; multiplying by exactly 1 leaves values and gradients bit-exact,
 * and by NaN makes every gradient NaN too, so the optimizer's non-finite guard sees the failure.
 */
export function guardValues<T extends Tensor>(result: T, checks: readonly ValueCheck[]): T {
  if (checks.length === 0) return result;
  const inputs = checks.map((c) => c.tensor);
  const factor = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const xs = args.slice(0, inputs.length) as Tensor[];
    const value = tf.tidy(() => {
      const ok = checks
        .map((c, i) => passes({ ...c, tensor: xs[i] as Tensor }))
        .reduce((a, b) => tf.logicalAnd(a, b));
      return tf.where(ok, tf.scalar(1), tf.scalar(Number.NaN));
    });
    return { value, gradFunc: () => xs.map((x) => tf.zerosLike(x)) };
  });
  return tf.tidy(() => tf.mul(result, factor(...inputs)) as T);
}

/** A rank-2 float32 batch `[N, D]` with N ≥ `minBatch` (its values: `guardValues`). */
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

/**
 * The two embedding batches of a dual encoder: same `[N, D]` shape, N ≥ 2. Returns the value checks
 * (finite, and unit rows when `unitNorm`) for `guardValues`.
 */
export function assertEmbeddingPair(
  image: unknown,
  text: unknown,
  {
    unitNorm,
    tolerance = DEFAULT_UNIT_NORM_TOLERANCE,
    names = ['image', 'text'],
  }: { unitNorm: boolean; tolerance?: number; names?: [string, string] },
): ValueCheck[] {
  const [imageName, textName] = names;
  assertBatchMatrix(imageName, image, 2);
  assertBatchMatrix(textName, text, 2);
  assertSameShape(textName, text as Tensor, imageName, image);
  const unit = unitNorm ? { unitNormTolerance: tolerance } : {};
  return [
    { tensor: image, ...unit },
    { tensor: text as Tensor, ...unit },
  ];
}

export function assertLambda(argument: string, lambda: unknown): asserts lambda is number {
  assertInRange(argument, lambda, 0, 1);
}

/**
 * What every mixup loss checks before it builds a tensor: λ in [0, 1] and, unless `validate` is false,
 * a pair of embedding batches; returns the value checks (unit-norm rows: the geodesic mixup is only
 * defined on the sphere) for `guardValues`.
 */
export function assertMixupInputs(
  image: unknown,
  text: unknown,
  lambda: unknown,
  options: { validate?: boolean; unitNormTolerance?: number },
): ValueCheck[] {
  assertLambda('lambda', lambda);
  if (!(options.validate ?? true)) return [];
  return assertEmbeddingPair(image, text, {
    unitNorm: true,
    tolerance: options.unitNormTolerance ?? DEFAULT_UNIT_NORM_TOLERANCE,
  });
}

/**
 * Integer class labels `[N]` (int32) matching a batch of N rows; returns the range check (each id in
 * [0, numClasses)) for `guardValues`.
 */
export function assertLabels(
  argument: string,
  labels: unknown,
  batch: number,
  numClasses: number,
): ValueCheck {
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
  return { tensor: t, classes: numClasses };
}
