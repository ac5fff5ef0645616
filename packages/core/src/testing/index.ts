export { expectNoTensorLeaks, liveTensors, type LeakCheckOptions } from './leaks';
