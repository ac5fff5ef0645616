export { expectNoTensorLeaks, type LeakCheckOptions, liveTensors } from './leaks';
