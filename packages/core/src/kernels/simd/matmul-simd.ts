import { embeddedWasm } from '../../embedded-wasm';
import { MATMUL_SHARED_WASM_BASE64, MATMUL_WASM_BASE64 } from './matmul.generated';
import { simdHeapOf } from './training-simd';

/**
 * matmul.wat's matrix products over tfjs-backend-wasm's heap (a tensor is its byte offset there), for
 * BatchMatMul with operands XNNPACK would have to pack or transpose first. Null where wasm SIMD or the
 * heap is missing, or the SIMD kernels are switched off (`setWasmTrainingSimdEnabled(false)`).
 */
interface MatMulExports {
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
}

const module = embeddedWasm(MATMUL_WASM_BASE64, MATMUL_SHARED_WASM_BASE64);
const instances = new WeakMap<WebAssembly.Memory, MatMulExports | null>();

export function matMulSimdFor(backend: unknown): MatMulSimd | null {
  const memory = simdHeapOf(backend);
  if (memory === null) return null;
  let x = instances.get(memory);
  if (x === undefined) {
    x = module.instantiate<MatMulExports>(memory);
    instances.set(memory, x);
  }
  return x ? new MatMulSimd(x) : null;
}

/** One [M, K]·[K, N] product per call; pointers are bytes on the heap, C is written whole. */
export class MatMulSimd {
  constructor(private readonly x: MatMulExports) {}

  /**
   * Whether `product` takes these sizes: N % 4 = 0 and K ≥ 1 (and, with `transposeB`, K % 4 = 0);
   * `transposeA` with `transposeB` is not covered. (K = 0 is the caller's: a zero product.)
   */
  static takes(m: number, n: number, k: number, transposeA: boolean, transposeB: boolean): boolean {
    if (transposeA && transposeB) return false;
    return m >= 1 && n >= 4 && n % 4 === 0 && k >= 1 && (!transposeB || k % 4 === 0);
  }

  /**
   * C[M,N] = op(A)·op(B) for A stored [M,K] (or [K,M] with `transposeA`) and B stored [K,N] (or [N,K]
   * with `transposeB`), all row-major float32; sizes `takes` accepts.
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
}
