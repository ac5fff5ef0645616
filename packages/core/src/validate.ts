import type { Tensor } from '@tensorflow/tfjs-core';
import { invalidArgument, RobustFtError } from './errors';

/** Argument checks that throw a `RobustFtError` naming the argument; used before anything is mutated. */
export function assertFiniteNumber(argument: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalidArgument(argument, 'a finite number', value);
}

export function assertNonNegative(argument: string, value: unknown): asserts value is number {
  assertFiniteNumber(argument, value);
  if (value < 0) throw invalidArgument(argument, 'a finite number >= 0', value);
}

export function assertPositive(argument: string, value: unknown): asserts value is number {
  assertFiniteNumber(argument, value);
  if (value <= 0) throw invalidArgument(argument, 'a finite number > 0', value);
}

/** Inclusive on both ends unless `openLow`/`openHigh` is set. */
export function assertInRange(
  argument: string,
  value: unknown,
  low: number,
  high: number,
  { openLow = false, openHigh = false }: { openLow?: boolean; openHigh?: boolean } = {},
): asserts value is number {
  assertFiniteNumber(argument, value);
  const belowLow = openLow ? value <= low : value < low;
  const aboveHigh = openHigh ? value >= high : value > high;
  if (belowLow || aboveHigh) {
    throw invalidArgument(
      argument,
      `a number in ${openLow ? '(' : '['}${low}, ${high}${openHigh ? ')' : ']'}`,
      value,
    );
  }
}

export function assertInteger(argument: string, value: unknown, min = 0): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalidArgument(argument, `an integer >= ${min}`, value);
  }
}

export function assertOneOf<T extends string>(
  argument: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgument(argument, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  }
}

export function shapeToString(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(argument: string, tensor: Tensor, expected: readonly number[]): void {
  if (!sameShape(tensor.shape, expected)) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `${argument} has shape ${shapeToString(tensor.shape)}, expected ${shapeToString(expected)}`,
      { argument, expected: `shape ${shapeToString(expected)}` },
    );
  }
}

export function assertRank(argument: string, tensor: Tensor, rank: number): void {
  if (tensor.rank !== rank) {
    throw new RobustFtError(
      'SHAPE_MISMATCH',
      `${argument} must have rank ${rank}, got shape ${shapeToString(tensor.shape)}`,
      {
        argument,
        expected: `a rank-${rank} tensor`,
      },
    );
  }
}
