/**
 * `@robust-ft/backend-node/testing`: test infrastructure — WebGPU in Node through Dawn on SwiftShader,
 * for correctness tests and benches (software WebGPU is far too slow to train on).
 */
export {
  type DawnModule,
  installNodeWebGpu,
  type NodeWebGpuOptions,
  type NodeWebGpuProbe,
  probeNodeWebGpu,
  SWIFTSHADER_VULKAN_ICD,
  uninstallNodeWebGpu,
} from './node-webgpu';
