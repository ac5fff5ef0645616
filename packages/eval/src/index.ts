export * from './attacks/apgd';
export {
  type AttackBudget,
  type AttackNorm,
  crossEntropyPerSample,
  type LogitsModel,
} from './attacks/attack-common';
export * from './attacks/fgsm';
export * from './attacks/pgd';
export * from './attacks/robust-accuracy';
export type { Labels } from './checks';
export * from './corruptions/corrupt';
export { type CorruptionFamily, SEVERITY_PARAMETERS } from './corruptions/families';
export { quantizationTable } from './corruptions/jpeg';
export * from './ensembles/output-ensemble';
export * from './ensembles/temperature';
export * from './ensembles/vrf';
export * from './ensembles/wise-ft';
export * from './evaluate';
export * from './metrics/calibration';
export * from './metrics/corruption-metrics';
export * from './metrics/effective-robustness';
export * from './metrics/representation';
export * from './metrics/retrieval';
export * from './metrics/top-k';
export * from './report/corruption-heatmap';
export * from './report/corruption-preview';
export * from './report/id-ood-scatter';
export { base64, encodePng, pngDataUri } from './report/png';
export * from './report/render';
