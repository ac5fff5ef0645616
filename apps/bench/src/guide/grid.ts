import { type ApgdNorm, CORRUPTION_FAMILIES, type CorruptionFamily } from '@robust-ft/eval';

/** The Guide's losses (Classic AT, TRADES β = 1) and plain cross-entropy as the non-robust reference. */
export const GUIDE_LOSSES = ['ce', 'at', 'trades'] as const;
export type GuideLoss = (typeof GUIDE_LOSSES)[number];

/** The Guide's protocols, scaled down: LP-50 → `lp`, FFT-5 → `fft-short`, FFT-50 → `fft-long`. */
export const GUIDE_PROTOCOLS = ['lp', 'fft-short', 'fft-long'] as const;
export type GuideProtocol = (typeof GUIDE_PROTOCOLS)[number];

/** AdamW is the Guide's optimizer; FTP and SPD are what it did not try. */
export const GUIDE_OPTIMIZERS = ['adamw', 'ftp', 'spd'] as const;
export type GuideOptimizer = (typeof GUIDE_OPTIMIZERS)[number];

export interface GuideCell {
  backbone: string;
  loss: GuideLoss;
  protocol: GuideProtocol;
  optimizer: GuideOptimizer;
}

export const LOSS_LABELS: Record<GuideLoss, string> = { ce: 'CE', at: 'Classic AT', trades: 'TRADES β=1' };
export const PROTOCOL_LABELS: Record<GuideProtocol, string> = {
  lp: 'linear probe',
  'fft-short': 'full FT, short',
  'fft-long': 'full FT, long',
};
export const OPTIMIZER_LABELS: Record<GuideOptimizer, string> = { adamw: 'AdamW', ftp: 'FTP', spd: 'SPD' };

/** `loss/protocol/optimizer`, the cell's name in flags and logs. */
export function cellName(c: Omit<GuideCell, 'backbone'>): string {
  return `${c.loss}/${c.protocol}/${c.optimizer}`;
}

/** Every cell of the grid for one backbone, losses outermost (the report's row order). */
export function gridCells(
  backbone: string,
  losses: readonly GuideLoss[] = GUIDE_LOSSES,
  protocols: readonly GuideProtocol[] = GUIDE_PROTOCOLS,
  optimizers: readonly GuideOptimizer[] = GUIDE_OPTIMIZERS,
): GuideCell[] {
  return losses.flatMap((loss) =>
    protocols.flatMap((protocol) => optimizers.map((optimizer) => ({ backbone, loss, protocol, optimizer }))),
  );
}

/**
 * The ε rule for 28×28×1 inputs. The Guide measures at L∞ 4/255, L2 2.0 and L1 75 on 224×224×3 images
 * (d = 150,528). L∞ is per pixel, so it stays at 4/255. A perturbation spread evenly over the pixels has
 * ‖δ‖₂ = ε∞·√d and ‖δ‖₁ = ε∞·d, so L2 scales with √d and L1 with d: on d = 784 that is 2.0·√(784/150528)
 * ≈ 0.144 and 75·784/150528 ≈ 0.391. The stronger budget of each norm is 4× that.
 */
export const GUIDE_DIM = 224 * 224 * 3;
export function scaledEpsilons(dim: number): Record<ApgdNorm, number> {
  return {
    linf: 4 / 255,
    l2: 2.0 * Math.sqrt(dim / GUIDE_DIM),
    l1: (75 * dim) / GUIDE_DIM,
  };
}
export const STRONG_FACTOR = 4;

/**
 * The Guide's common-corruption portfolio: 11 types at severity 3, one type per test image. It is the
 * ImageNet-C set minus the four its loader comments out (Gaussian noise, glass blur, frost, fog).
 */
export const GUIDE_EXCLUDED_CORRUPTIONS: readonly CorruptionFamily[] = [
  'gaussian_noise',
  'glass_blur',
  'frost',
  'fog',
];
export const GUIDE_CORRUPTIONS: readonly CorruptionFamily[] = CORRUPTION_FAMILIES.filter(
  (f) => !GUIDE_EXCLUDED_CORRUPTIONS.includes(f),
);
export const GUIDE_SEVERITY = 3;
