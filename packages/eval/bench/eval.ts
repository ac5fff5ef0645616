/**
 * Corrupted images per second for each family on a 28×28×1 batch. Uses the wasm backend when
 * `@tensorflow/tfjs-backend-wasm` is installed, otherwise cpu; the backend is printed with every number.
 * Run: pnpm --filter @robust-ft/eval bench (`-- --smoke`: batch 4, one timed run per family, for CI).
 */
import '@tensorflow/tfjs-backend-cpu';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { CORRUPTION_FAMILIES, corrupt } from '../src/index';

async function pickBackend(): Promise<string> {
  try {
    const wasmModule = '@tensorflow/tfjs-backend-wasm';
    await import(/* @vite-ignore */ wasmModule);
    if (await tf.setBackend('wasm')) return 'wasm';
  } catch {
    // Not installed: fall through to cpu.
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

const backend = await pickBackend();
await tf.ready();
const machine = `${cpus()[0]?.model ?? 'unknown cpu'} ×${cpus().length}, node ${process.version}`;
const SMOKE = process.argv.includes('--smoke');
const n = SMOKE ? 4 : 64;
const reps = SMOKE ? 1 : 5;
const x = tf.tidy(() => tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D);
const results: Record<string, number> = {};
for (const family of CORRUPTION_FAMILIES) {
  tf.dispose(corrupt(x, family, 3, 0));
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const out = corrupt(x, family, 3, r);
    out.dataSync();
    out.dispose();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(reps / 2)] as number;
  results[family] = Math.round((n / median) * 1000);
  console.log(
    `${family.padEnd(18)} ${String(results[family]).padStart(8)} images/s  (backend ${backend}, batch ${n}×28×28×1, median of ${reps})`,
  );
}
const slowest = Math.min(...Object.values(results));
console.log(`machine: ${machine}`);
console.log(
  `RESULT ${JSON.stringify({ backend, machine, batch: n, severity: 3, imagesPerSecond: results, fastestOverSlowest: Math.max(...Object.values(results)) / slowest })}`,
);
