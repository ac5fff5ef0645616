/**
 * Training-step benchmark: `trainOnBatch` (or, for the ViT, `optimizer.minimize` on a functional
 * model) steps/s and images/s for the digits CNN (apps/bench's architecture, B = 32 and 128),
 * MobileNetV2 at 64 px (last blocks trainable, and the whole network) and a small ViT, on wasm with
 * 1 thread and with all threads, and on cpu, with `tf.train.adam` and robust-ft's AdamW.
 *
 * wasm's thread count is fixed when the backend starts, so each (backend, threads) pair runs in a
 * child process; this process gathers their rows. `--torch` runs bench/training-torch.py (PyTorch CPU,
 * Debian's python3-torch; never a dependency, CI never passes it) on the same digits CNN between the
 * rounds, so every ratio comes from one run on one machine. Prints a table and, last,
 * `RESULT <json>` with rows `{model, batch, backend, threads, optimizer, msPerStep, imagesPerSec}`.
 *
 * Flags: `--smoke` (CI: tiny batches, one timed step, every model/backend/optimizer once),
 * `--steps N` (timed steps, default 10; slow models take a third), `--warmup N` (untimed steps first,
 * default 5, PyTorch's too), `--clock cpu` (process CPU time instead of the wall clock, for 1-thread
 * comparisons on a shared machine), `--rounds N` (default 1; the
 * median over rounds is reported), `--models a,b`, `--backends wasm,cpu`, `--optimizers adam,adamw`,
 * `--batches 32,128` (the digits CNN's batch sizes), `--threads 1,all` ("all" = `ROBUST_FT_WASM_THREADS`, else one per core, at most 8), `--torch`,
 * `--profile` (tf.profile kernel times of robust-ft AdamW wasm steps per model, largest first),
 * `--cpu-profile` (V8 samples of `--cpu-profile-steps` (200) robust-ft AdamW steps: ms per step by the
 * package whose JS or wasm ran, which shows the time outside kernels; see cpu-profile.ts), `--no-simd`
 * (wasm without robust-ft's SIMD training kernels), `--no-helpers` (robust-ft's kernels without their
 * helper threads, core's tile-threads.ts), `--helpers-elementwise` (the helpers split the large
 * element-wise passes too, which is off by default), `--split-min-macs N` (the helpers split filter
 * gradients from N multiply-adds).
 */

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {
  setWasmKernelThreads,
  setWasmTrainingSimdEnabled,
  wasmKernelHelperStats,
} from '@robust-ft/core/kernels';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// Source import: @robust-ft/optimizers already depends on this package (its bench), so a package
// dependency back would be a cycle; the bench is bundled by esbuild either way.
import { adamw } from '../../optimizers/src/index';
import {
  nodeKernelWorker,
  registerCpuTrainingKernels,
  registerWasmTrainingKernels,
  wasmThreadCount,
  wasmThreadsInUse,
  withWasmThreads,
} from '../src/index';
import { cpuProfileSteps } from './cpu-profile';

const MODELS = ['digits-cnn', 'mobilenetv2-head', 'mobilenetv2-full', 'vit-tiny'] as const;
type ModelName = (typeof MODELS)[number];
const OPTIMIZERS = ['adam', 'adamw'] as const;
type OptimizerName = (typeof OPTIMIZERS)[number];

export interface Row {
  model: ModelName | 'digits-cnn';
  batch: number;
  backend: string;
  threads: number;
  optimizer: string;
  msPerStep: number | null;
  imagesPerSec: number | null;
  error?: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const has = (name: string) => process.argv.includes(`--${name}`);
function list<T extends string>(name: string, all: readonly T[], fallback: readonly T[]): T[] {
  const raw = arg(name);
  if (raw === undefined) return [...fallback];
  const picked = raw.split(',').map((s) => s.trim()) as T[];
  for (const p of picked)
    if (!all.includes(p)) throw new Error(`--${name}: ${p} is not one of ${all.join(', ')}`);
  return picked;
}
function int(name: string, fallback: number): number {
  const v = Number(arg(name));
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

const SMOKE = has('smoke');
const STEPS = SMOKE ? 1 : int('steps', 10);
const ROUNDS = SMOKE ? 1 : int('rounds', 1);
/**
 * Untimed steps before the timed ones, the same for PyTorch (its script's own default is 5 too); it was
 * 2 here, so the first timed steps of the wasm rows still ran partly unoptimised JS.
 */
const WARMUP = SMOKE ? 1 : int('warmup', 5);
/**
 * `--clock cpu`: time steps in the process's CPU time (PyTorch's too: `time.process_time`), which other
 * processes on a shared machine inflate far less than the wall clock. It sums every thread of the
 * process (V8's compiler and GC helpers included), so it compares 1-thread rows; with threads it is
 * total work, not latency.
 */
const CPU_CLOCK = arg('clock') === 'cpu';

// ---------------------------------------------------------------- models

/** apps/bench/src/model.ts's digit CNN (55 k parameters), softmax head for trainOnBatch. */
function digitsCnn(): tfl.LayersModel {
  const m = tfl.sequential();
  const conv = (filters: number, first: boolean) =>
    tfl.layers.conv2d({
      ...(first ? { inputShape: [28, 28, 1] } : {}),
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
    });
  m.add(conv(16, true));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(conv(32, false));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 32, activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return m;
}

/** MobileNetV2 (width 1.0, the ImageNet block table) at `size` px with a 10-way head. */
function mobilenetV2(size: number, trainableFrom: number): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, 3] });
  const bnRelu6 = (h: tfl.SymbolicTensor, relu = true) => {
    const b = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
    return relu ? (tfl.layers.reLU({ maxValue: 6 }).apply(b) as tfl.SymbolicTensor) : b;
  };
  const conv = (h: tfl.SymbolicTensor, filters: number, k: number, s: number) =>
    tfl.layers
      .conv2d({ filters, kernelSize: k, strides: s, padding: 'same', useBias: false })
      .apply(h) as tfl.SymbolicTensor;
  let h = bnRelu6(conv(input, 32, 3, 2));
  let channels = 32;
  const table: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  for (const [t, c, n, s] of table) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      let y = t === 1 ? h : bnRelu6(conv(h, channels * t, 1, 1));
      y = tfl.layers
        .depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false })
        .apply(y) as tfl.SymbolicTensor;
      y = bnRelu6(conv(bnRelu6(y), c, 1, 1), false);
      h = stride === 1 && channels === c ? (tfl.layers.add().apply([h, y]) as tfl.SymbolicTensor) : y;
      channels = c;
    }
  }
  h = bnRelu6(conv(h, 1280, 1, 1));
  h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10, activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  model.layers.forEach((layer, i) => {
    layer.trainable = i >= trainableFrom;
  });
  return model;
}

/** Index of the first layer of the last two inverted-residual blocks (block 16 of 17). */
function lastBlocksStart(model: tfl.LayersModel): number {
  const depthwise = model.layers
    .map((l, i) => [l, i] as const)
    .filter(([l]) => l.getClassName() === 'DepthwiseConv2D');
  const second = depthwise[depthwise.length - 2]![1];
  // Back up over that block's expansion conv, batch norm and ReLU6.
  return second - 3;
}

interface Trainer {
  step(): Promise<void>;
  dispose(): void;
}

function makeOptimizer(name: OptimizerName): tf.Optimizer {
  return name === 'adam' ? tf.train.adam(1e-3) : (adamw({ learningRate: 1e-3 }) as unknown as tf.Optimizer);
}

function layersTrainer(model: tfl.LayersModel, batch: number, optimizer: tf.Optimizer): Trainer {
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 2) as tf.Tensor1D, 10);
  return {
    step: async () => {
      await model.trainOnBatch(x, y);
    },
    dispose: () => {
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    },
  };
}

/**
 * A small ViT on 28×28×1: 4×4 patches (49 tokens) → 64-d, 2 pre-norm blocks (4-head attention,
 * GELU MLP 128), mean-pooled tokens, 10-way head. tfjs-layers has no attention layer, so it is a
 * function of variables trained with `optimizer.minimize`.
 */
function vitTrainer(batch: number, optimizer: tf.Optimizer): Trainer {
  const D = 64;
  const heads = 4;
  const T = 49;
  let seed = 10;
  const w = (shape: number[]) =>
    tf.variable(tf.randomNormal(shape, 0, Math.sqrt(1 / (shape[shape.length - 2] ?? 1)), 'float32', seed++));
  const zeros = (n: number) => tf.variable(tf.zeros([n]));
  const ones = (n: number) => tf.variable(tf.ones([n]));
  const v = {
    patch: w([16, D]),
    patchB: zeros(D),
    pos: w([T, D]),
    blocks: [0, 1].map(() => ({
      g1: ones(D),
      b1: zeros(D),
      qkv: w([D, 3 * D]),
      proj: w([D, D]),
      g2: ones(D),
      b2: zeros(D),
      fc1: w([D, 128]),
      fc1b: zeros(128),
      fc2: w([128, D]),
      fc2b: zeros(D),
    })),
    head: w([D, 10]),
    headB: zeros(10),
  };
  const vars = [v.patch, v.patchB, v.pos, ...v.blocks.flatMap((b) => Object.values(b)), v.head, v.headB];
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 4) as tf.Tensor1D, 10);
  const layerNorm = (h: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(h, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  const gelu = (h: tf.Tensor) => tf.mul(tf.mul(h, 0.5), tf.add(1, tf.erf(tf.div(h, Math.SQRT2))));
  const dense = (h: tf.Tensor, k: tf.Tensor, b?: tf.Tensor) => {
    const [n, d] = [h.shape.slice(0, -1).reduce((p, q) => p * q, 1), h.shape[h.shape.length - 1]!];
    const out = tf.matMul(tf.reshape(h, [n, d]), k as tf.Tensor2D);
    return tf.reshape(b ? tf.add(out, b) : out, [...h.shape.slice(0, -1), k.shape[1]!]);
  };
  const loss = () =>
    tf.tidy(() => {
      // [B,28,28,1] → [B,7,4,7,4] → [B,7,7,16] patches.
      const p = tf.reshape(tf.transpose(tf.reshape(x, [batch, 7, 4, 7, 4]), [0, 1, 3, 2, 4]), [batch, T, 16]);
      let h = tf.add(dense(p, v.patch, v.patchB), v.pos);
      for (const b of v.blocks) {
        const n1 = layerNorm(h, b.g1, b.b1);
        const qkv = tf.reshape(dense(n1, b.qkv), [batch, T, 3, heads, D / heads]);
        const [q, k, val] = [0, 1, 2].map((i) =>
          tf.transpose(
            tf.squeeze(tf.slice(qkv, [0, 0, i, 0, 0], [batch, T, 1, heads, D / heads]), [2]),
            [0, 2, 1, 3],
          ),
        ) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D / heads)));
        const ctx = tf.reshape(tf.transpose(tf.matMul(att, val), [0, 2, 1, 3]), [batch, T, D]);
        h = tf.add(h, dense(ctx, b.proj));
        h = tf.add(h, dense(gelu(dense(layerNorm(h, b.g2, b.b2), b.fc1, b.fc1b)), b.fc2, b.fc2b));
      }
      const logits = tf.add(tf.matMul(tf.mean(h, 1) as tf.Tensor2D, v.head as tf.Tensor2D), v.headB);
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    });
  return {
    step: async () => {
      const l = optimizer.minimize(loss, true, vars);
      await l?.data();
      l?.dispose();
    },
    dispose: () => {
      tf.dispose([...vars, x, y]);
      optimizer.dispose();
    },
  };
}

interface Workload {
  model: ModelName;
  batch: number;
  /** Whether cpu runs it (MobileNetV2 does not: a step takes tens of seconds there). */
  cpu: boolean;
  /** Fewer timed steps for slow models. */
  slow: boolean;
  build(optimizer: tf.Optimizer): Trainer;
}

/** `--batches 32` runs the digits CNN at the named batch sizes only (default 32 and 128). */
const DIGITS_BATCHES = (arg('batches') ?? '32,128').split(',').map((b) => {
  const n = Number(b);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--batches: ${b} is not a positive integer`);
  return n;
});

function workloads(models: readonly ModelName[]): Workload[] {
  const mnPx = SMOKE ? 32 : 64;
  const mnBatch = SMOKE ? 2 : 16;
  const out: Workload[] = [];
  for (const model of models) {
    if (model === 'digits-cnn') {
      for (const batch of SMOKE ? [2] : DIGITS_BATCHES) {
        out.push({
          model,
          batch,
          cpu: true,
          slow: false,
          build: (o) => layersTrainer(digitsCnn(), batch, o),
        });
      }
    } else if (model === 'vit-tiny') {
      const batch = SMOKE ? 2 : 32;
      out.push({ model, batch, cpu: true, slow: false, build: (o) => vitTrainer(batch, o) });
    } else {
      const full = model === 'mobilenetv2-full';
      out.push({
        model,
        batch: mnBatch,
        cpu: false,
        slow: true,
        build: (o) => {
          const probe = mobilenetV2(mnPx, 0);
          const from = full ? 0 : lastBlocksStart(probe);
          probe.dispose();
          return layersTrainer(mobilenetV2(mnPx, from), mnBatch, o);
        },
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------- child: one backend, one thread count

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * tf.profile kernel times of a step: per kernel name, the minimum total over `--profile-steps` (5)
 * profiled steps (the ones the machine did not preempt) and the call count, largest first; also the
 * step's wall time outside the kernels (tfjs-layers' and the optimizer's JS, tfjs dispatch).
 * `--profile-stat median` takes medians instead (kernels and step): with threads a kernel's time varies
 * from step to step (waking a pool thread), and the minimum hides what a typical step pays.
 */
const PROFILE_STEPS = int('profile-steps', 5);
const PROFILE_STAT: 'min' | 'median' = arg('profile-stat') === 'median' ? 'median' : 'min';
async function profileStep(w: Workload, t: Trainer): Promise<void> {
  const samples = new Map<string, { ms: number[]; calls: number }>();
  const walls: number[] = [];
  let calls = 0;
  for (let i = 0; i < PROFILE_STEPS; i++) {
    const t0 = performance.now();
    const info = await tf.profile(() => t.step());
    walls.push(performance.now() - t0);
    calls = info.kernels.length;
    const by = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const e = by.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += k.kernelTimeMs as number;
      e.calls += 1;
      by.set(k.name, e);
    }
    for (const [name, e] of by) {
      const s = samples.get(name) ?? { ms: [], calls: e.calls };
      s.ms.push(e.ms);
      samples.set(name, s);
    }
  }
  const stat = (xs: number[]) => (PROFILE_STAT === 'median' ? median(xs) : Math.min(...xs));
  const best = new Map([...samples].map(([name, s]) => [name, { ms: stat(s.ms), calls: s.calls }]));
  const wall = stat(walls);
  const total = [...best.values()].reduce((a, b) => a + b.ms, 0);
  const top = [...best]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([k, e]) => `${k} ${e.ms.toFixed(2)}/${e.calls}`)
    .join(', ');
  const h = wasmKernelHelperStats(tf.backend());
  const helpers = h
    ? `; helper threads ran ${h.helped} of ${h.parts} tile partitions so far, paused ${h.pauses}×`
    : '';
  console.log(
    `  profile ${w.model} B=${w.batch} (${PROFILE_STAT} of ${PROFILE_STEPS}): kernels ${total.toFixed(1)} ms in ${calls} calls (profiled step ${wall.toFixed(1)} ms${helpers}; name ms/calls): ${top}`,
  );
}

async function child(backend: 'wasm' | 'cpu', threads: number): Promise<void> {
  tf.env().set('PROD', true);
  const require = createRequire(import.meta.url);
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist/'));
  if (backend === 'wasm') {
    await withWasmThreads(threads, () => tf.setBackend('wasm'));
    registerWasmTrainingKernels();
    // --no-simd: the paths the kernels take without wasm SIMD (typed-array loops, XNNPACK im2col matmul).
    if (has('no-simd')) setWasmTrainingSimdEnabled(false);
    // --no-helpers: robust-ft's own kernels on the calling thread only (no tile helper threads).
    if (has('no-helpers')) setWasmKernelThreads(1, null);
    // --helpers-elementwise: the helpers split the large element-wise passes too (off by default);
    // --split-min-macs N: filter gradients split from N multiply-adds (default core's SPLIT_MIN_MACS).
    else if ((has('helpers-elementwise') || arg('split-min-macs') !== undefined) && threads > 1) {
      const minMacs = arg('split-min-macs') === undefined ? undefined : int('split-min-macs', 0);
      setWasmKernelThreads(threads, nodeKernelWorker, {
        elementwise: has('helpers-elementwise'),
        ...(minMacs === undefined ? {} : { minMacs }),
      });
    }
  } else {
    await tf.setBackend('cpu');
    registerCpuTrainingKernels();
  }
  const actual = backend === 'wasm' ? await wasmThreadsInUse() : 1;
  const rows: Row[] = [];
  const models = list('models', MODELS, MODELS);
  for (const w of workloads(models)) {
    if (backend === 'cpu' && !w.cpu) continue;
    for (const opt of list('optimizers', OPTIMIZERS, OPTIMIZERS)) {
      const row: Row = {
        model: w.model,
        batch: w.batch,
        backend,
        threads: actual,
        optimizer: opt === 'adam' ? 'tf.train.adam' : 'robust-ft adamw',
        msPerStep: null,
        imagesPerSec: null,
      };
      let t: Trainer | undefined;
      let steady = 0;
      try {
        t = w.build(makeOptimizer(opt));
        const steps = Math.max(1, w.slow || backend === 'cpu' ? Math.ceil(STEPS / 3) : STEPS);
        // Warm-up: kernel set-up, heap growth, optimizer slots, and V8 compiling the step's JS (tfjs's
        // engine and tfjs-layers run interpreted for the first steps).
        // Slow models and cpu keep 2 (their steps take seconds).
        const warmup = w.slow || backend === 'cpu' ? Math.min(2, WARMUP) : WARMUP;
        for (let i = 0; i < warmup; i++) await t.step();
        steady = tf.memory().numTensors;
        const times: number[] = [];
        for (let i = 0; i < steps; i++) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await t.step();
          const c = process.cpuUsage(c0);
          times.push(CPU_CLOCK ? (c.user + c.system) / 1000 : performance.now() - t0);
        }
        // A step that leaks would measure its own garbage: fail loudly instead. (Tear-down is not
        // checked: tfjs-layers keeps a tensor per compiled model.)
        const leaked = tf.memory().numTensors - steady;
        if (leaked !== 0) throw new Error(`a step leaked ${leaked} tensors`);
        const ms = median(times);
        row.msPerStep = Number(ms.toFixed(2));
        row.imagesPerSec = Number(((w.batch * 1000) / ms).toFixed(1));
        if (has('profile') && backend === 'wasm' && opt === 'adamw') await profileStep(w, t);
        if (has('cpu-profile') && opt === 'adamw') {
          const n = int('cpu-profile-steps', 200);
          const parts = await cpuProfileSteps(n, () => t!.step());
          const total = parts.reduce((a, [, ms]) => a + ms, 0);
          console.log(
            `  profile ${w.model} B=${w.batch} ${backend} ${actual}t (V8 samples over ${n} steps): ${total.toFixed(2)} ms/step = ${parts
              .filter(([, ms]) => ms >= 0.005)
              .map(([k, ms]) => `${k} ${ms.toFixed(2)}`)
              .join(', ')}`,
          );
        }
      } catch (error) {
        row.error = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      } finally {
        t?.dispose();
      }
      rows.push(row);
    }
  }
  console.log(`ROWS ${JSON.stringify(rows)}`);
}

// ---------------------------------------------------------------- parent

function runChild(backend: string, threads: number): Row[] {
  const args = process.argv.slice(2).filter((a) => a !== '--torch');
  const r = spawnSync(
    process.execPath,
    [process.argv[1]!, ...args, '--child', backend, '--child-threads', String(threads)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const lines = (r.stdout ?? '').split('\n');
  for (const l of lines) if (l.startsWith('  profile')) console.log(l);
  const line = lines.find((l) => l.startsWith('ROWS '));
  if (r.status !== 0 || line === undefined) {
    throw new Error(`the ${backend} (${threads} threads) child failed with status ${r.status}`);
  }
  return JSON.parse(line.slice(5)) as Row[];
}

function runTorch(threads: number): Row[] {
  const script = join(dirname(new URL(import.meta.url).pathname), '..', 'training-torch.py');
  const r = spawnSync(
    '/usr/bin/python3',
    [
      script,
      '--threads',
      String(threads),
      '--steps',
      String(Math.max(STEPS, 10)),
      '--warmup',
      String(WARMUP),
      '--batches',
      DIGITS_BATCHES.join(','),
      ...(CPU_CLOCK ? ['--clock', 'cpu'] : []),
    ],
    {
      encoding: 'utf8',
    },
  );
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || line === undefined) {
    console.log(`pytorch: not run (${(r.stderr ?? '').trim().split('\n').pop() ?? r.error?.message})`);
    return [];
  }
  return (JSON.parse(line.slice(7)) as { rows: Row[] }).rows;
}

function key(r: Row): string {
  return `${r.model}|${r.batch}|${r.backend}|${r.threads}|${r.optimizer}`;
}

async function parent(): Promise<void> {
  // "all": ROBUST_FT_WASM_THREADS when set, else every core (not useBestBackend's default of half).
  const all = process.env.ROBUST_FT_WASM_THREADS ? wasmThreadCount() : Math.min(8, os.availableParallelism());
  const threadList = [
    ...new Set((arg('threads') ?? '1,all').split(',').map((t) => (t.trim() === 'all' ? all : Number(t)))),
  ];
  const backends = list('backends', ['wasm', 'cpu'] as const, ['wasm', 'cpu'] as const);
  const runs: [string, number][] = [
    ...(backends.includes('wasm') ? threadList.map((t) => ['wasm', t] as [string, number]) : []),
    ...(backends.includes('cpu') ? [['cpu', 1] as [string, number]] : []),
  ];
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    loadavg1: Number(os.loadavg()[0]!.toFixed(2)),
    node: process.version,
    tfjs: tf.version_core,
  };
  console.log(`machine: ${JSON.stringify(machine)}`);
  const samples = new Map<string, { row: Row; ms: number[] }>();
  const add = (rows: Row[]) => {
    for (const r of rows) {
      const s = samples.get(key(r)) ?? { row: r, ms: [] };
      if (r.msPerStep !== null) s.ms.push(r.msPerStep);
      else s.row = r;
      samples.set(key(r), s);
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved: every configuration once per round, PyTorch between, so load drifts hit all alike.
    for (const [backend, threads] of runs) {
      add(runChild(backend, threads));
      if (has('torch') && backend === 'wasm') add(runTorch(threads));
    }
  }
  const rows: Row[] = [...samples.values()].map(({ row, ms }) => {
    if (ms.length === 0) return row;
    const m = median(ms);
    return {
      ...row,
      msPerStep: Number(m.toFixed(2)),
      imagesPerSec: Number(((row.batch * 1000) / m).toFixed(1)),
    };
  });
  console.log('| model | batch | backend | threads | optimizer | ms/step | images/s |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const ms = r.msPerStep === null ? `error: ${r.error}` : r.msPerStep.toFixed(1);
    console.log(
      `| ${r.model} | ${r.batch} | ${r.backend} | ${r.threads} | ${r.optimizer} | ${ms} | ${r.imagesPerSec ?? ''} |`,
    );
  }
  const failed = rows.filter((r) => r.error !== undefined);
  const clock = CPU_CLOCK ? 'cpu' : 'wall';
  console.log(
    `RESULT ${JSON.stringify({ bench: 'training', machine, steps: STEPS, warmup: WARMUP, clock, rounds: ROUNDS, rows })}`,
  );
  if (failed.length > 0) {
    console.error(`${failed.length} configuration(s) failed: ${failed.map(key).join('; ')}`);
    process.exit(1);
  }
}

const childBackend = arg('child');
(childBackend === undefined
  ? parent()
  : child(childBackend as 'wasm' | 'cpu', int('child-threads', 1))
).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
