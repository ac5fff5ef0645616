import { embeddedWasm } from '../../embedded-wasm';
import type { WindowGeometry } from '../typed-array';
import { FORWARD_SHARED_WASM_BASE64, FORWARD_WASM_BASE64 } from './forward.generated';
import { perHeap } from './training-simd';

/**
 * forward.wat's kernels over tfjs-backend-wasm's heap (a tensor is its byte offset there): matrix
 * products for BatchMatMul with operands XNNPACK would have to pack or transpose first, ReLU and 2×2
 * max pooling on the calling thread. Null where wasm SIMD or the heap is missing, or the SIMD kernels
 * are switched off (`setWasmTrainingSimdEnabled(false)`).
 */
interface ForwardExports {
  /** (a, b, c, M, N, K, asM, asK, bsK): see forward.wat. */
  gemm: (...args: number[]) => void;
  /** (a, b, c, M, N, K). */
  gemmnt: (...args: number[]) => void;
  relu: (x: number, out: number, n: number) => void;
  /** (x, out, B, H, W, C, HO, WO). */
  maxpool2x2: (...args: number[]) => void;
}

const forwardExports = perHeap<ForwardExports>(embeddedWasm(FORWARD_WASM_BASE64, FORWARD_SHARED_WASM_BASE64));

export function forwardSimdFor(backend: unknown): ForwardSimd | null {
  const x = forwardExports(backend);
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
  maxPool2x2(x: number, out: number, g: WindowGeometry): void {
    this.x.maxpool2x2(x, out, g.batchSize, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth);
  }
}
