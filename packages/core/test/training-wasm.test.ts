import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FORWARD_SHARED_WASM_BASE64, FORWARD_WASM_BASE64 } from '../src/kernels/simd/forward.generated';
import { TRAINING_SHARED_WASM_BASE64, TRAINING_WASM_BASE64 } from '../src/kernels/simd/training.generated';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the SIMD training-kernel and forward-kernel modules', () => {
  it('training.generated.ts and forward.generated.ts are assembled from the checked-in .wat files', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('stays within the 4 KiB that Chromium compiles synchronously on the main thread', () => {
    // embedded-wasm.ts compiles them with `new WebAssembly.Module`; a larger module would need the async
    // WebAssembly.compile there.
    for (const b64 of [
      TRAINING_WASM_BASE64,
      TRAINING_SHARED_WASM_BASE64,
      FORWARD_WASM_BASE64,
      FORWARD_SHARED_WASM_BASE64,
    ]) {
      expect(atob(b64).length).toBeLessThanOrEqual(4096);
    }
  });
});
