import { type AdamConstants, JS_ENGINE, type StepEngine } from '../loops';
import { STEPS_WASM_BASE64 } from './steps.generated';

/**
 * The SIMD step module (steps.wat) instantiated over a tfjs-backend-wasm heap. The module imports the
 * backend's own WebAssembly.Memory, so every pass runs in place on the tensors' bytes: a Float32Array
 * view handed in by the kernel becomes a byte pointer (its byteOffset). The module handles the first
 * ⌊n/4⌋·4 elements of each range with f32x4 ops and the JS pass finishes the last n mod 4.
 */

type Ptr = number;

/** The exports of steps.wat (argument order as there). */
interface StepExports {
  adam(...args: number[]): void;
  l2sp(...args: number[]): void;
  ftp1(...args: number[]): void;
  axpby(...args: number[]): void;
  spd1(...args: number[]): void;
  digrap1(...args: number[]): void;
  digrap2(...args: number[]): void;
  s0: WebAssembly.Global;
  s1: WebAssembly.Global;
  s2: WebAssembly.Global;
  s3: WebAssembly.Global;
  s4: WebAssembly.Global;
}

let compiled: WebAssembly.Module | null | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The compiled module, or null where this runtime has no wasm SIMD (then the JS passes run). */
function stepModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(decodeBase64(STEPS_WASM_BASE64));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

const engines = new WeakMap<WebAssembly.Memory, StepEngine | null>();

/** Whether the SIMD module is usable here at all (compiles; does not need a backend). */
export function wasmStepsAvailable(): boolean {
  return stepModule() !== null;
}

/**
 * A step engine over `memory` (the wasm backend's heap), cached per memory; null when the module
 * cannot be compiled or linked (e.g. a threaded build's shared memory, which this module does not
 * declare): the caller then uses the JS passes on the same views.
 */
export function wasmEngineFor(memory: WebAssembly.Memory): StepEngine | null {
  const cached = engines.get(memory);
  if (cached !== undefined) return cached;
  let engine: StepEngine | null = null;
  const mod = stepModule();
  if (mod) {
    try {
      const instance = new WebAssembly.Instance(mod, { env: { memory } });
      engine = makeEngine(instance.exports as unknown as StepExports, memory);
    } catch {
      engine = null;
    }
  }
  engines.set(memory, engine);
  return engine;
}

function makeEngine(x: StepExports, memory: WebAssembly.Memory): StepEngine {
  const js = JS_ENGINE;
  /** Byte pointer of element `s` of a view on the heap. */
  const at = (a: Float32Array, s: number): Ptr => {
    // A view of another buffer (a detached or stale heap after growth) would be read at wrong bytes.
    if (a.buffer !== memory.buffer) throw new Error('fused optimizer kernel: a view is not on the wasm heap');
    return a.byteOffset + 4 * s;
  };
  const adamArgs = (k: AdamConstants) => [k.b1, k.c1, k.b2, k.c2, k.rs2, k.e, k.sk] as const;
  return {
    name: 'wasm-simd',
    adam(th, g, m, v, tho, mo, vo, k, s, e) {
      const n4 = (e - s) & ~3;
      if (n4 > 0)
        x.adam(
          at(th, s),
          at(g, s),
          at(m, s),
          at(v, s),
          at(tho, s),
          at(mo, s),
          at(vo, s),
          n4,
          ...adamArgs(k),
          k.dk,
        );
      if (s + n4 < e) js.adam(th, g, m, v, tho, mo, vo, k, s + n4, e);
    },
    l2sp(th, g, m, v, an, tho, mo, vo, k, alpha, s, e) {
      const n4 = (e - s) & ~3;
      if (n4 > 0)
        x.l2sp(
          at(th, s),
          at(g, s),
          at(m, s),
          at(v, s),
          at(an, s),
          at(tho, s),
          at(mo, s),
          at(vo, s),
          n4,
          ...adamArgs(k),
          alpha,
        );
      if (s + n4 < e) js.l2sp(th, g, m, v, an, tho, mo, vo, k, alpha, s + n4, e);
    },
    ftp1(th, g, m, v, an, cp, co, mo, vo, k, s, e, sums) {
      const n4 = (e - s) & ~3;
      if (n4 > 0) {
        x.ftp1(
          at(th, s),
          at(g, s),
          at(m, s),
          at(v, s),
          at(an, s),
          at(cp, s),
          at(co, s),
          at(mo, s),
          at(vo, s),
          n4,
          ...adamArgs(k),
          k.dk,
        );
        sums[0] = sums[0]! + (x.s0.value as number);
        sums[1] = sums[1]! + (x.s1.value as number);
      }
      if (s + n4 < e) js.ftp1(th, g, m, v, an, cp, co, mo, vo, k, s + n4, e, sums);
    },
    axpby(xs, ys, out, a, b, s, e) {
      const n4 = (e - s) & ~3;
      if (n4 > 0) x.axpby(at(xs, s), at(ys, s), at(out, s), n4, a, b);
      if (s + n4 < e) js.axpby(xs, ys, out, a, b, s + n4, e);
    },
    spd1(th, g, m, v, an, tho, mo, vo, k, s, e, sums) {
      const n4 = (e - s) & ~3;
      if (n4 > 0) {
        x.spd1(
          at(th, s),
          at(g, s),
          at(m, s),
          at(v, s),
          at(an, s),
          at(tho, s),
          at(mo, s),
          at(vo, s),
          n4,
          ...adamArgs(k),
        );
        sums[0] = sums[0]! + (x.s0.value as number);
        sums[1] = sums[1]! + (x.s1.value as number);
        sums[2] = sums[2]! + (x.s2.value as number);
      }
      if (s + n4 < e) js.spd1(th, g, m, v, an, tho, mo, vo, k, s + n4, e, sums);
    },
    digrap1(th, g, an, pp, qp, lambda, s, e, sums) {
      const n4 = (e - s) & ~3;
      if (n4 > 0) {
        x.digrap1(at(th, s), at(g, s), at(an, s), at(pp, s), at(qp, s), n4, lambda);
        sums[0] = sums[0]! + (x.s0.value as number);
        sums[1] = sums[1]! + (x.s1.value as number);
        sums[2] = sums[2]! + (x.s2.value as number);
        sums[3] = sums[3]! + (x.s3.value as number);
        sums[4] = sums[4]! + (x.s4.value as number);
      }
      if (s + n4 < e) js.digrap1(th, g, an, pp, qp, lambda, s + n4, e, sums);
    },
    digrap2(th, g, m, v, an, tho, mo, vo, po, qo, k, gs, cs, alpha, beta, s, e) {
      const n4 = (e - s) & ~3;
      if (n4 > 0)
        x.digrap2(
          at(th, s),
          at(g, s),
          at(m, s),
          at(v, s),
          at(an, s),
          at(tho, s),
          at(mo, s),
          at(vo, s),
          at(po, s),
          at(qo, s),
          n4,
          ...adamArgs(k),
          gs,
          cs,
          alpha,
          beta,
        );
      if (s + n4 < e) js.digrap2(th, g, m, v, an, tho, mo, vo, po, qo, k, gs, cs, alpha, beta, s + n4, e);
    },
  };
}
