/**
 * Embedded SIMD wasm modules (base64 text generated from .wat by the packages' build-wasm scripts):
 * compiled once per variant and cached. Each module exists in two variants, one importing a plain
 * memory and one a shared memory (tfjs-wasm's threaded build, whose heap is a SharedArrayBuffer: a
 * module importing a plain memory cannot link to it).
 */
export interface EmbeddedWasm {
  /** The compiled variant for `shared`, or null where this runtime cannot compile it (no wasm SIMD). */
  module(shared: boolean): WebAssembly.Module | null;
  /**
   * An instance importing `memory` as `env.memory` (the variant matching it), its exports typed as
   * `T`; null where it cannot be compiled or linked.
   */
  instantiate<T>(memory: WebAssembly.Memory): T | null;
}

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Compiles synchronously (`new WebAssembly.Module`): fine in Node and in workers, and on a page's main
 * thread only for modules up to 4 KiB in Chromium, which the packages' tests pin for their modules.
 */
export function embeddedWasm(plainBase64: string, sharedBase64: string): EmbeddedWasm {
  const compiled: { plain?: WebAssembly.Module | null; shared?: WebAssembly.Module | null } = {};
  const module = (shared: boolean): WebAssembly.Module | null => {
    const kind = shared ? 'shared' : 'plain';
    if (compiled[kind] === undefined) {
      try {
        compiled[kind] = new WebAssembly.Module(decodeBase64(shared ? sharedBase64 : plainBase64));
      } catch {
        compiled[kind] = null;
      }
    }
    return compiled[kind] ?? null;
  };
  return {
    module,
    instantiate<T>(memory: WebAssembly.Memory): T | null {
      const mod = module(isSharedMemory(memory));
      if (!mod) return null;
      try {
        return new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as T;
      } catch {
        return null;
      }
    },
  };
}

/** Whether `memory` is a shared memory (the threaded wasm backend's heap). */
export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}
