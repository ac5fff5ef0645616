import type { DataType, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { adamAttrs, checkSameSize, input, num, sizeOf } from './args';

/**
 * Fused AdamW for the `webgpu` backend as WGSL compute shaders run through the backend's own program
 * API, so the outputs stay on the GPU and tfjs manages their buffers like any other kernel's. This
 * module imports only tfjs-core: the backend is described by the structural interfaces below and
 * feature-detected at call time, so nothing here loads (or needs) `@tensorflow/tfjs-backend-webgpu`.
 *
 * A tfjs-webgpu program has exactly one output buffer, so one step is three programs per tensor:
 *   θ' reads θ, g, m, v (16 B) and writes θ' (4 B), recomputing m' and v' in registers;
 *   m' reads g, m (8 B) and writes m' (4 B);   v' reads g, v (8 B) and writes v' (4 B).
 * That is 44 B per parameter per step against the 28 B floor (read θ, g, m, v; write θ', m', v'); the
 * floor needs a multi-output program, which this backend's API does not offer. All three programs share
 * the same expressions (`M_NEXT`, `V_NEXT`), so θ' is computed from exactly the m', v' that are stored.
 * The step constants travel as uniforms, so each shader compiles once per tensor rank and is reused for
 * every step, learning rate and size.
 */

/** The parts of tfjs-webgpu's `WebGPUProgram` that these programs set. */
interface WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  /** Asks the backend to pass the output's element count as `uniforms.size`. */
  size: boolean;
  /** WGSL struct fields appended to the backend's uniform block, in the order of the uniform data. */
  uniforms: string;
  getUserCode: () => string;
}

type ProgramUniform = { type: 'float32'; data: number[] }[];

/** The one method of tfjs-webgpu's `WebGPUBackend` used here. */
interface WebGPUBackendLike {
  runWebGPUProgram(
    program: WgslProgram,
    inputs: TensorInfo[],
    outputDtype: DataType,
    uniforms?: ProgramUniform,
  ): TensorInfo;
}

function isWebGPUBackend(backend: unknown): backend is WebGPUBackendLike {
  return (
    typeof backend === 'object' &&
    backend !== null &&
    typeof (backend as { runWebGPUProgram?: unknown }).runWebGPUProgram === 'function'
  );
}

/** Uniform fields: the constants of `adamConstants`, in its order. */
const ADAM_UNIFORMS = 'b1 : f32, c1 : f32, b2 : f32, c2 : f32, rs2 : f32, e : f32, sk : f32, dk : f32,';

/** m' and v' exactly as the cpu loop computes them (`jsAdam`); every program that needs one uses these. */
const M_NEXT = 'uniforms.b1 * M[index] + uniforms.c1 * g';
const V_NEXT = 'uniforms.b2 * V[index] + uniforms.c2 * (g * g)';

type AdamOutput = 'param' | 'm' | 'v';

const WORKGROUP = 64;

const BODY: Record<AdamOutput, { variables: string[]; code: string }> = {
  // θ' = dk·θ + sk·m' / (√v'·rs2 + ε), the torch AdamW step with bias corrections folded in.
  param: {
    variables: ['P', 'G', 'M', 'V'],
    code: `let g = G[index];
  let mo = ${M_NEXT};
  let vo = ${V_NEXT};
  setOutputAtIndex(index, uniforms.dk * P[index] + (uniforms.sk * mo) / (sqrt(vo) * uniforms.rs2 + uniforms.e));`,
  },
  m: { variables: ['G', 'M'], code: `let g = G[index];\n  setOutputAtIndex(index, ${M_NEXT});` },
  v: { variables: ['G', 'V'], code: `let g = G[index];\n  setOutputAtIndex(index, ${V_NEXT});` },
};

function adamProgram(out: AdamOutput, shape: number[]): WgslProgram {
  const { variables, code } = BODY[out];
  const n = sizeOf(shape);
  return {
    outputShape: shape,
    shaderKey: `robustFtAdamW_${out}`,
    // A flat layout over all dims: the backend's `index` is then the linear element index.
    dispatchLayout: { x: shape.map((_, i) => i) },
    // The backend reshapes this when it exceeds the device's per-dimension workgroup limit.
    dispatch: [Math.ceil(n / WORKGROUP), 1, 1],
    variableNames: variables,
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    uniforms: ADAM_UNIFORMS,
    // `fn main(index : i32)` is what the backend's getMainHeaderString('index') emits: with a flat
    // dispatch layout the generated `_start` calls it with the global linear index.
    getUserCode: () => `
fn main(index : i32) {
  if (index >= uniforms.size) { return; }
  ${code}
}`,
  };
}

/** Same contract as the cpu/wasm `RobustFtAdamWStep`: inputs `param_i, grad_i, m_i, v_i`; outputs θ', m', v' per i. */
export const webgpuAdamWKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  if (!isWebGPUBackend(backend))
    throw new Error('fused optimizer kernel: the active backend is not a webgpu backend');
  const count = num(attrs, 'n');
  const constants = adamAttrs(attrs);
  const wd = num(attrs, 'weightDecay');
  const outs: TensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    const p = input(inputs, `param${i}`);
    const g = input(inputs, `grad${i}`);
    const m = input(inputs, `m${i}`);
    const v = input(inputs, `v${i}`);
    checkSameSize(p, [g, m, v]);
    const k = constants(i, wd);
    const uniforms: ProgramUniform = [k.b1, k.c1, k.b2, k.c2, k.rs2, k.e, k.sk, k.dk].map((x) => ({
      type: 'float32',
      data: [x],
    }));
    // Programs index flat buffers, so every input is read at the parameter's shape (reshape-free:
    // the buffers already hold the same number of contiguous float32 elements).
    const shape = [...p.shape];
    const as = (t: TensorInfo): TensorInfo => ({ ...t, shape });
    outs.push(
      backend.runWebGPUProgram(adamProgram('param', shape), [p, g, m, v].map(as), 'float32', uniforms),
      backend.runWebGPUProgram(adamProgram('m', shape), [g, m].map(as), 'float32', uniforms),
      backend.runWebGPUProgram(adamProgram('v', shape), [g, v].map(as), 'float32', uniforms),
    );
  }
  return outs;
};
