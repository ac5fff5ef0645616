/**
 * Per-backend training-step benchmark: one CNN fine-tuning step (conv → depthwise → batchNorm →
 * maxPool → conv → dense, 32×32×3, batch 32, Adam) and one 1M-parameter MLP step (784-1024-256-10,
 * batch 64, Adam), on stock cpu, patched cpu, stock wasm and patched wasm, measured side by side in
 * one process. Prints a table and, last, `RESULT <json>` with ms/step (median) and the speed-up over
 * stock cpu. Flags: `--steps N` (timed steps on fast backends, default 3), `--cpu-steps N` (stock
 * and patched cpu, default 1: a stock cpu CNN step takes many seconds), `--smoke` (CI: batch 2, one
 * step each, so the script cannot rot).
 */

import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  unpatchCpuBackend,
  unpatchWasmBackend,
} from '../src/index';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const SMOKE = process.argv.includes('--smoke');
const STEPS = SMOKE ? 1 : flag('steps', 3);
const CPU_STEPS = SMOKE ? 1 : flag('cpu-steps', 1);
/** CNN and MLP batch sizes. */
const CNN_B = SMOKE ? 2 : 32;
const MLP_B = SMOKE ? 2 : 64;

interface Workload {
  name: string;
  params: number;
  /** Builds variables and data; returns one training step and a disposer. */
  setup(): { step: () => void; dispose: () => void };
}

function glorot(shape: number[], fanIn: number, fanOut: number, seed: number): tf.Variable {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.variable(tf.randomUniform(shape, -limit, limit, 'float32', seed));
}

function adamStep(vars: tf.Variable[], loss: () => tf.Scalar, opt: tf.Optimizer): void {
  const l = opt.minimize(loss, true, vars);
  l?.dataSync(); // wait for the step to finish
  l?.dispose();
}

const cnn: Workload = {
  name: 'cnn',
  params: 3 * 3 * 3 * 16 + 16 + 3 * 3 * 16 + 16 * 2 + 3 * 3 * 16 * 32 + 32 + 8 * 8 * 32 * 10 + 10,
  setup() {
    const v = {
      w1: glorot([3, 3, 3, 16], 27, 144, 1),
      b1: tf.variable(tf.zeros([16])),
      dw: glorot([3, 3, 16, 1], 9, 9, 2),
      gamma: tf.variable(tf.ones([16])),
      beta: tf.variable(tf.zeros([16])),
      w2: glorot([3, 3, 16, 32], 144, 288, 3),
      b2: tf.variable(tf.zeros([32])),
      wd: glorot([8 * 8 * 32, 10], 2048, 10, 4),
      bd: tf.variable(tf.zeros([10])),
    };
    const x = tf.randomUniform([CNN_B, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = tf.oneHot(tf.randomUniform([CNN_B], 0, 10, 'int32', 6) as tf.Tensor1D, 10);
    const opt = tf.train.adam(1e-3);
    const loss = () =>
      tf.tidy(() => {
        let h = tf.relu(tf.add(tf.conv2d(x, v.w1 as tf.Tensor4D, 1, 'same'), v.b1)) as tf.Tensor4D;
        h = tf.depthwiseConv2d(h, v.dw as tf.Tensor4D, 2, 'same');
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        h = tf.relu(tf.batchNorm(h, mean, variance, v.beta, v.gamma, 1e-3)) as tf.Tensor4D;
        h = tf.maxPool(h, 2, 2, 'valid');
        h = tf.relu(tf.add(tf.conv2d(h, v.w2 as tf.Tensor4D, 1, 'same'), v.b2)) as tf.Tensor4D;
        const logits = tf.add(tf.matMul(tf.reshape(h, [CNN_B, -1]), v.wd), v.bd);
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      });
    return {
      step: () => adamStep(Object.values(v), loss, opt),
      dispose: () => {
        tf.dispose([...Object.values(v), x, y]);
        opt.dispose();
      },
    };
  },
};

const mlp: Workload = {
  name: 'mlp',
  params: 784 * 1024 + 1024 + 1024 * 256 + 256 + 256 * 10 + 10,
  setup() {
    const v = {
      w1: glorot([784, 1024], 784, 1024, 1),
      b1: tf.variable(tf.zeros([1024])),
      w2: glorot([1024, 256], 1024, 256, 2),
      b2: tf.variable(tf.zeros([256])),
      w3: glorot([256, 10], 256, 10, 3),
      b3: tf.variable(tf.zeros([10])),
    };
    const x = tf.randomUniform([MLP_B, 784], 0, 1, 'float32', 4);
    const y = tf.oneHot(tf.randomUniform([MLP_B], 0, 10, 'int32', 5) as tf.Tensor1D, 10);
    const opt = tf.train.adam(1e-3);
    const loss = () =>
      tf.tidy(() => {
        const h1 = tf.relu(tf.add(tf.matMul(x, v.w1), v.b1));
        const h2 = tf.relu(tf.add(tf.matMul(h1, v.w2), v.b2));
        return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(h2, v.w3), v.b3)) as tf.Scalar;
      });
    return {
      step: () => adamStep(Object.values(v), loss, opt),
      dispose: () => {
        tf.dispose([...Object.values(v), x, y]);
        opt.dispose();
      },
    };
  },
};

interface Variant {
  name: string;
  backend: 'cpu' | 'wasm';
  patched: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'cpu (stock)', backend: 'cpu', patched: false },
  { name: 'cpu (patched)', backend: 'cpu', patched: true },
  { name: 'wasm (stock)', backend: 'wasm', patched: false },
  { name: 'wasm (patched)', backend: 'wasm', patched: true },
];

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function measure(
  w: Workload,
  v: Variant,
): Promise<{ ms: number | null; steps: number; error?: string }> {
  unpatchCpuBackend();
  unpatchWasmBackend();
  if (v.patched) (v.backend === 'cpu' ? registerCpuTrainingKernels : registerWasmTrainingKernels)();
  if (!(await tf.setBackend(v.backend))) throw new Error(`cannot start ${v.backend}`);
  const timed = v.backend === 'cpu' ? CPU_STEPS : STEPS;
  const { step, dispose } = w.setup();
  try {
    // One warm-up step (kernel set-up, wasm heap growth), skipped on cpu where a CNN step is slow.
    if (v.backend !== 'cpu') step();
    const times: number[] = [];
    for (let i = 0; i < timed; i++) {
      const t0 = performance.now();
      step();
      times.push(performance.now() - t0);
    }
    return { ms: median(times), steps: timed };
  } catch (error) {
    return {
      ms: null,
      steps: 0,
      error: (error instanceof Error ? error.message : String(error)).split('\n')[0],
    };
  } finally {
    dispose();
  }
}

async function main(): Promise<void> {
  tf.env().set('PROD', true);
  const require = createRequire(import.meta.url);
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist/'));
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    loadavg1: Number(os.loadavg()[0]!.toFixed(2)),
    node: process.version,
    tfjs: tf.version_core,
    wasmSimd: false,
  };
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
  machine.wasmSimd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  console.log(`machine: ${JSON.stringify(machine)}`);
  const results: Record<
    string,
    Record<
      string,
      { msPerStep: number | null; speedupVsStockCpu: number | null; steps: number; error?: string }
    >
  > = {};
  for (const w of [cnn, mlp]) {
    results[w.name] = {};
    let base: number | null = null;
    for (const v of VARIANTS) {
      const r = await measure(w, v);
      if (v.name === 'cpu (stock)') base = r.ms;
      const speedup = r.ms !== null && base !== null ? Number((base / r.ms).toFixed(1)) : null;
      results[w.name]![v.name] = {
        msPerStep: r.ms === null ? null : Number(r.ms.toFixed(1)),
        speedupVsStockCpu: speedup,
        steps: r.steps,
        ...(r.error ? { error: r.error } : {}),
      };
      const shown =
        r.ms === null
          ? `error: ${r.error}`
          : `${r.ms.toFixed(1)} ms/step (${r.steps} timed), ${speedup}× stock cpu`;
      console.log(
        `${w.name.padEnd(4)} ${w.params.toLocaleString('en').padStart(10)} params  ${v.name.padEnd(15)} ${shown}`,
      );
    }
  }
  unpatchCpuBackend();
  unpatchWasmBackend();
  console.log(
    `RESULT ${JSON.stringify({ bench: 'backends', machine, smoke: SMOKE, steps: { fast: STEPS, cpu: CPU_STEPS }, results })}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
