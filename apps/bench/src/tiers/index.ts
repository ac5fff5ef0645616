import type { BenchTier } from '../tier';
import { digits } from './digits';
import { guide } from './guide';
import { mobilenetv2 } from './mobilenetv2';

/** Every tier `--tier` can select; the first is the default. */
export const TIERS: readonly BenchTier[] = [digits, mobilenetv2, guide];

export function tierByName(name: string): BenchTier {
  const tier = TIERS.find((t) => t.name === name);
  if (!tier) throw new Error(`--tier ${name}: choose one of ${TIERS.map((t) => t.name).join(', ')}`);
  return tier;
}
