/**
 * `@robust-ft/backend-node/testing`: test infrastructure — WebGPU in Node through Dawn on SwiftShader,
 * for correctness tests and benches (software WebGPU is far too slow to train on).
 */
export { type DawnModule, installNodeWebGpu, SWIFTSHADER_VULKAN_ICD } from './node-webgpu';
