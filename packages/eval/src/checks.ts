import { RobustFtError } from '@robust-ft/core';
import { assertRank, invalidArgument } from '@robust-ft/core/internal';
import type { Tensor } from '@tensorflow/tfjs-core';

/** Labels as the caller may hold them: an int tensor `[N]` or a plain array. */
export type Labels = Tensor | readonly number[] | Int32Array;

/** Throws unless `x` has at least one row. */
export function assertNonEmpty(argument: string, x: Tensor): void {
  if (x.rank === 0 || x.shape[0] === 0) {
    throw new RobustFtError(
      'INVALID_ARGUMENT',
      `${argument} must be a non-empty batch, got shape [${x.shape}]`,
      {
        argument,
        expected: 'a non-empty batch',
      },
    );
  }
}

/** Image batches are `[N, H, W, C]`, N > 0. Range is the caller's contract ([0, 1]); checking it would sync. */
export function assertImageBatch(argument: string, x: Tensor): void {
  assertRank(argument, x, 4);
  assertNonEmpty(argument, x);
}

/**
 * Reads labels to a JS array (`await data()` for a tensor: synchronous reads return zeros on WebGPU) and
 * checks count and range; class ids must be integers in [0, numClasses).
 */
export async function labelIds(
  argument: string,
  labels: Labels,
  count: number,
  numClasses: number,
): Promise<Int32Array> {
  const values: ArrayLike<number> =
    labels instanceof Int32Array || Array.isArray(labels)
      ? (labels as ArrayLike<number>)
      : await (labels as Tensor).data();
  return checkLabelIds(argument, values, count, numClasses);
}

/** The checks of `labelIds` on values already on the host. */
export function checkLabelIds(
  argument: string,
  values: ArrayLike<number>,
  count: number,
  numClasses: number,
): Int32Array {
  if (values.length !== count)
    throw invalidArgument(argument, `${count} labels (one per row)`, values.length);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw invalidArgument(`${argument}[${i}]`, `an integer class id in [0, ${numClasses})`, v);
    }
    out[i] = v;
  }
  return out;
}

/** Logits / probabilities are `[N, K]`, N > 0. */
export function assertScores(argument: string, x: Tensor): { n: number; k: number } {
  assertRank(argument, x, 2);
  assertNonEmpty(argument, x);
  return { n: x.shape[0] as number, k: x.shape[1] as number };
}
