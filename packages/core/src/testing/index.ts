export {
  type CaseComparison,
  type CaseValues,
  CONFORMANCE_CASES,
  type ConformanceCase,
  type ConformanceInput,
  casesFor,
  compareCase,
  computeCase,
  type RunConformanceOptions,
  runConformance,
  TOLERANCE,
  type Tolerance,
} from './conformance';
export {
  attemptDamagedLoad,
  type DamageTally,
  damageSummary,
  damageTally,
  modelSnapshot,
  mutateBytes,
  optimizerSnapshot,
  type Snapshot,
  sameSnapshot,
  tensorBytes,
} from './damage';
export { expectNoTensorLeaks, type LeakCheckOptions, liveTensors } from './leaks';
export { type SavableModel, saveToMemory } from './save-to-memory';
