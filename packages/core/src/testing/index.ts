export {
  type CaseComparison,
  type CaseValues,
  CONFORMANCE_CASES,
  type ConformanceCase,
  type ConformanceInput,
  compareCase,
  computeCase,
  type RunConformanceOptions,
  runConformance,
  TOLERANCE,
  type Tolerance,
} from './conformance';
export { expectNoTensorLeaks, type LeakCheckOptions, liveTensors } from './leaks';
export { type SavableModel, saveToMemory } from './save-to-memory';
