/**
 * Decides which package replays a file of `shared/golden/losses/`. Both the losses and the eval golden
 * replays import this one function, so a file is owned by exactly one package and a file neither knows
 * (`null`) fails both replays instead of being silently skipped.
 *
 * Files are recognised by content (the `source` field plus the top-level keys), never by file name, so a
 * renamed or copied file is still routed correctly.
 */
export type GoldenOwner = 'losses' | 'eval';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasKeys(json: Record<string, unknown>, keys: readonly string[]): boolean {
  return keys.every((key) => key in json);
}

interface Rule {
  readonly kind: string;
  readonly owner: GoldenOwner;
  /** Substring the `source` field must contain (case-sensitive). */
  readonly source: string;
  readonly keys: readonly string[];
}

const RULES: readonly Rule[] = [
  // losses: slerp, the m²-mix / CLIP losses, TRADES and Classic-AT.
  { kind: 'm2mix_slerp', owner: 'losses', source: 'sph_inter', keys: ['a', 'b', 'cases', 'edge_cases'] },
  {
    kind: 'm2mix_losses',
    owner: 'losses',
    source: 'clip_loss',
    keys: ['inputs', 'branch_values', 'gradients'],
  },
  {
    kind: 'guide_trades_at',
    owner: 'losses',
    source: 'trades',
    keys: ['inputs', 'attack_and_losses', 'trades_on_fixed_logits'],
  },
  // eval: representation metrics, retrieval, VRF, WiSE-FT.
  {
    kind: 'uniformity_alignment',
    owner: 'eval',
    source: 'lunif',
    keys: ['inputs', 'definitions', 'outputs', 'gradients_float64'],
  },
  {
    kind: 'm2mix_retrieval_metrics',
    owner: 'eval',
    source: 'compute_metrics_pytorch',
    keys: ['logits', 'i2t', 't2i'],
  },
  {
    kind: 'vrf_pipeline',
    owner: 'eval',
    source: 'knn_distance',
    keys: ['inputs', 'step1', 'calibration', 'step3'],
  },
  { kind: 'vrf_weight_curve', owner: 'eval', source: 'weight()', keys: ['x', 'weights'] },
  { kind: 'wiseft', owner: 'eval', source: 'wise_ft', keys: ['inputs', 'merged_plain', 'merged_fisher'] },
];

/** The golden kind of a parsed file (`'vrf_pipeline'`, ...), or `null` when no rule matches. */
export function goldenKind(json: unknown): string | null {
  if (!isRecord(json)) return null;
  const source = json.source;
  if (typeof source !== 'string') return null;
  const rule = RULES.find((r) => source.includes(r.source) && hasKeys(json, r.keys));
  return rule?.kind ?? null;
}

/** Which package replays this parsed golden file; `null` for a file no package knows. */
export function classifyLossesGoldenFile(json: unknown): GoldenOwner | null {
  const kind = goldenKind(json);
  if (kind === null) return null;
  return RULES.find((r) => r.kind === kind)?.owner ?? null;
}
