// The stock cpu backend (the oracle) plus tfjs-backend-wasm, for the tests of robust-ft's wasm kernels.
// A devDependency only: core's src never imports a backend.
import './setup-backend';
import '@tensorflow/tfjs-backend-wasm';
