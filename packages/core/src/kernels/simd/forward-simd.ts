import { embeddedWasm } from '../../embedded-wasm';
import { FORWARD_SHARED_WASM_BASE64, FORWARD_WASM_BASE64 } from './forward.generated';
import { simdHeapOf } from './training-simd';

/**
 * forward.wat's kernels over tfjs-backend-wasm's heap (a tensor is its byte offset there): matrix
 * products for BatchMatMul with operands XNNPACK would have to pack or transpose first, ReLU and 2×2
 * max pooling on the calling thread. Null where wasm SIMD or the heap is missing, or the SIMD kernels
 * are switched off (`setWasmTrainingSimdEnabled(false)`).
 */
interface ForwardExports {
  gemm: (
    a: number,
    b: number,
    c: number,
    m: number,
    n: number,
    k: number,
    asM: number,
    asK: number,
    bsK: number,
  ) => void;
  gemmnt: (a: number, b: number, c: number, m: number, n: number, k: number) => void;
  relu: (x: number, out: number, n: number) => void;
  maxpool2x2: (...args: number[]) => void;
}

const forward = embeddedWasm(FORWARD_WASM_BASE64, FORWARD_SHARED_WASM_BASE64);
const instances = new WeakMap<WebAssembly.Memory, ForwardExports | null>();

export function forwardSimdFor(backend: unknown): ForwardSimd | null {
  const memory = simdHeapOf(backend);
  if (memory === null) return null;
  let x = instances.get(memory);
  if (x === undefined) {
    x = forward.instantiate<ForwardExports>(memory);
    instances.set(memory, x);
  }
  return x ? new ForwardSimd(x) : null;
}

export class ForwardSimd {
  constructor(private readonly x: ForwardExports) {}

  /**
   * Whether `product` takes these sizes: N % 4 = 0 and K ≥ 1 (and, with `transposeB`, K % 4 = 0);
   * `transposeA` with `transposeB` is not covered. (K = 0 is the caller's: a zero product.)
   */
  static takesProduct(m: number, n: number, k: number, transposeA: boolean, transposeB: boolean): boolean {
    if (transposeA && transposeB) return false;
    return m >= 1 && n >= 4 && n % 4 === 0 && k >= 1 && (!transposeB || k % 4 === 0);
  }

  /**
   * C[M,N] = op(A)·op(B) for A stored [M,K] (or [K,M] with `transposeA`) and B stored [K,N] (or [N,K]
   * with `transposeB`), all row-major float32, C written whole; sizes `takesProduct` accepts.
   */
  product(
    a: number,
    b: number,
    c: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void {
    if (transposeB) this.x.gemmnt(a, b, c, m, n, k);
    else if (transposeA) this.x.gemm(a, b, c, m, n, k, 4, 4 * m, 4 * n);
    else this.x.gemm(a, b, c, m, n, k, 4 * k, 4, 4 * n);
  }

  /** out = max(x, 0) over `n` float32 elements, a multiple of 16 (the caller does the rest). */
  relu(x: number, out: number, n: number): void {
    this.x.relu(x, out, n);
  }

  /**
   * 2×2 max pooling of stride 2 without padding of an NHWC [B, H, W, C] input (C % 4 = 0) into
   * [B, HO, WO, C], every output written; the geometries `TrainingSimd.takesMaxPool2x2` accepts.
   */
  maxPool2x2(
    x: number,
    out: number,
    g: {
      batchSize: number;
      inHeight: number;
      inWidth: number;
      inChannels: number;
      outHeight: number;
      outWidth: number;
    },
  ): void {
    this.x.maxpool2x2(x, out, g.batchSize, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth);
  }
}
