/**
 * A standalone wasm heap for the SIMD modules' tests (shared: as the threaded wasm build's), with float32
 * arrays placed at byte offsets, and a backend-shaped object that points the kernels at it.
 */
export function testHeap(pages: number, shared: boolean) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared });
  const f32 = new Float32Array(memory.buffer);
  let next = 64;
  const put = (values: ArrayLike<number>) => {
    const at = next;
    f32.set(values, at / 4);
    next += 4 * values.length + 64;
    return at;
  };
  const read = (at: number, n: number) => Array.from(f32.subarray(at / 4, at / 4 + n));
  const backend = shared ? { wasm: { wasmMemory: memory } } : { wasm: { asm: { memory } } };
  return { memory, put, read, backend, zeros: (n: number) => put(new Float32Array(n)) };
}
