/**
 * Optimizer step benchmark (issue: fused optimizer-step kernels). Run: pnpm --filter @robust-ft/optimizers bench
 *
 * For each backend (cpu, wasm; webgpu on request) and parameter set (ResNet-18's real tensor shapes, 11.69M parameters in
 * 62 tensors; a ViT-like set of 1.0M parameters in 64 tensors) it times `applyGradients` of our AdamW,
 * FTP, SPD, DiGraP and L2-SP (fused kernels and the composed-op path) and of `tf.train.adam`, all side
 * by side in one process: the median of several steps after warm-up. Ratios are the robust numbers on a
 * shared machine; the absolute figures are labelled with the machine and backend.
 *
 * webgpu runs in Node on Dawn (`webgpu` package) over whatever Vulkan driver is installed: here that is
 * SwiftShader, a CPU rasterizer, so its rows check that the WGSL path runs end to end and how its
 * traffic compares with its own measured copy bandwidth; they say nothing about a real GPU's speed.
 * A webgpu step is timed until the device has finished it (flush + onSubmittedWorkDone).
 *
 * Flags: --backends cpu,wasm[,webgpu]  --sets resnet18,vit  --steps N  --warmup N  --optimizers a,b  --profile
 *        --clock cpu (process CPU time instead of the wall clock)  --slow-ms N (see SLOW_STEP_MS)
 *        --guard-parts adamw,flag,spd,ftp,digrap (which webgpu breakdown rows to time; default all)
 * Last line: RESULT {"rows":[...],"copyGbPerSec":...}
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import os from 'node:os';
import { installNodeWebGpu } from '@robust-ft/backend-node/testing';
import { type AnyTransformation, RobustOptimizer } from '@robust-ft/core';
import { finiteFlag } from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { ADAMW_METHOD, adamwTransformation } from '../src/adamw';
import { DIGRAP_METHOD, digrapTransformation } from '../src/digrap';
import { DIGRAP_SCALAR_ROLES } from '../src/digrap-keys';
import { FTP_METHOD, ftpTransformation } from '../src/ftp';
import { fusedStepEngine, setFusedKernelsEnabled, setWasmSimdEnabled, withFusedMethod } from '../src/fused';
import { adamConstants, JS_ENGINE } from '../src/fused/loops';
import { fusedAdamWBatch, fusedMethodBatch, kernelsCheckFinite } from '../src/fused/ops';
import { wasmCopyEngine } from '../src/fused/wasm/engine';
import { USAGE, webgpuInternals } from '../src/fused/webgpu/backend';
import { L2SP_METHOD, l2spTransformation } from '../src/l2sp';
import type { MethodDeclaration, MethodSettings, SlotSet } from '../src/method';
import { SPD_METHOD, spdTransformation } from '../src/spd';

tf.env().set('PROD', true);

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const BACKENDS = flag('backends', 'cpu,wasm').split(',');
const SETS = flag('sets', 'resnet18,vit').split(',');
const STEPS = Number(flag('steps', '0'));
const WARMUP = Number(flag('warmup', '0'));
const ONLY = flag('optimizers', '');
const PROFILE = process.argv.includes('--profile');
/** `--tfadam off` leaves tf.train.adam out (e.g. for a cpu profile of our steps alone). */
const TF_ADAM = flag('tfadam', 'on') !== 'off';
/** `--breakdown off` skips the kernel-alone / allocation measurements (cleaner profiles). */
const BREAKDOWN = flag('breakdown', 'on') !== 'off';
/**
 * The webgpu breakdown's rows, by group: 'adamw' (the kernel alone, and checking g itself), 'flag' (the
 * finite flag, the guard's 0-d ops, the kernel taking the flag), 'spd', 'ftp', 'digrap' (alone and
 * checking g). Fewer rows give each one more steps in the same minutes (SwiftShader steps are slow).
 */
const GUARD_PARTS = new Set(flag('guard-parts', 'adamw,flag,spd,ftp,digrap').split(','));
/**
 * `--clock cpu`: time steps in CPU time of the whole process (all threads: SwiftShader's too), which
 * the other processes on a shared machine do not inflate the way they inflate the wall clock.
 */
const CPU_CLOCK = flag('clock', 'wall') === 'cpu';
const MODES = flag('modes', 'fused,unfused')
  .split(',')
  .map((m) => m === 'fused');

// ---------------------------------------------------------------- parameter sets (tfjs layouts)

function resnet18(): [string, number[]][] {
  const out: [string, number[]][] = [];
  const bn = (p: string, c: number) => out.push([`${p}/gamma`, [c]], [`${p}/beta`, [c]]);
  const conv = (p: string, k: number, cin: number, cout: number) =>
    out.push([`${p}/kernel`, [k, k, cin, cout]]);
  conv('conv1', 7, 3, 64);
  bn('bn1', 64);
  let cin = 64;
  for (const [layer, c] of [
    [1, 64],
    [2, 128],
    [3, 256],
    [4, 512],
  ] as const) {
    for (let b = 0; b < 2; b++) {
      const p = `layer${layer}.${b}`;
      conv(`${p}/conv1`, 3, cin, c);
      bn(`${p}/bn1`, c);
      conv(`${p}/conv2`, 3, c, c);
      bn(`${p}/bn2`, c);
      if (b === 0 && cin !== c) {
        conv(`${p}/downsample`, 1, cin, c);
        bn(`${p}/downsample_bn`, c);
      }
      cin = c;
    }
  }
  out.push(['fc/kernel', [512, 1000]], ['fc/bias', [1000]]);
  return out;
}

/** ViT-like: patch embedding, cls/pos tokens, 5 blocks of width 128 (MLP 512): 64 tensors, 1.0M params. */
function vitLike(): [string, number[]][] {
  const d = 128;
  const out: [string, number[]][] = [
    ['patch/kernel', [48, d]],
    ['patch/bias', [d]],
    ['cls', [1, d]],
    ['pos', [65, d]],
  ];
  for (let b = 0; b < 5; b++) {
    const p = `block${b}`;
    out.push(
      [`${p}/ln1/gamma`, [d]],
      [`${p}/ln1/beta`, [d]],
      [`${p}/qkv/kernel`, [d, 3 * d]],
      [`${p}/qkv/bias`, [3 * d]],
      [`${p}/proj/kernel`, [d, d]],
      [`${p}/proj/bias`, [d]],
      [`${p}/ln2/gamma`, [d]],
      [`${p}/ln2/beta`, [d]],
      [`${p}/fc1/kernel`, [d, 4 * d]],
      [`${p}/fc1/bias`, [4 * d]],
      [`${p}/fc2/kernel`, [4 * d, d]],
      [`${p}/fc2/bias`, [d]],
    );
  }
  return out;
}

const PARAM_SETS: Record<string, () => [string, number[]][]> = { resnet18, vit: vitLike };

// ---------------------------------------------------------------- optimizers

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
const LR = 1e-3;

interface Spec {
  optimizer: string;
  /** Minimal bytes touched per parameter by a fused step (spec §7); the cpu/wasm kernels touch exactly these. */
  bytesPerParam: number;
  /** Bytes the WGSL kernels touch (more where WebGPU's 8-storage-buffer limit splits a pass). */
  wgslBytes?: number;
  build: (fused: boolean) => tf.Optimizer;
  /** Timed alone, fused only (a row much slower than the others would stretch the interleaved rounds). */
  solo?: boolean;
  /** Only with fused kernels (its effect is read against fused AdamW; keeps the default run short). */
  fusedOnly?: boolean;
  /** Only on these parameter sets. */
  sets?: string[];
  /** Not on these backends. */
  notOn?: string[];
}

function ours(t: AnyTransformation, nonFinite: Policy = 'off'): tf.Optimizer {
  return new RobustOptimizer({ transformation: t, learningRate: LR, nonFinite });
}

type Policy = 'off' | 'error' | 'guard';

/** A method's row and its fused-only 'guard' row (name + '+guard'), built by one function. */
function withGuard(
  spec: Omit<Spec, 'build'> & { build: (fused: boolean, policy: Policy) => tf.Optimizer },
): Spec[] {
  return [
    { ...spec, build: (f) => spec.build(f, 'off') },
    { ...spec, optimizer: `${spec.optimizer}+guard`, fusedOnly: true, build: (f) => spec.build(f, 'guard') },
  ];
}

/**
 * A projection method over Adam without decoupled decay (the reference setup) and its '+guard' row; the
 * fused build goes through the method's declared fused kernel.
 */
function projectedOverAdam<O, T extends MethodSettings, S extends SlotSet>(
  row: Omit<Spec, 'build'>,
  decl: MethodDeclaration<O, T, S>,
  transformation: (inner: AnyTransformation, options: O) => AnyTransformation,
  options: O,
): Spec[] {
  return withGuard({
    ...row,
    build: (f, policy) => {
      const t = transformation(adamwTransformation({ ...ADAM, weightDecay: 0 }), options);
      return ours(f ? withFusedMethod(decl, t, options, { ...ADAM, weightDecay: 0 }) : t, policy);
    },
  });
}

const SPECS: Spec[] = [
  {
    optimizer: 'adamw',
    bytesPerParam: 28,
    build: (f) => {
      const t = adamwTransformation({ ...ADAM, weightDecay: 0.01 });
      return ours(f ? withFusedMethod(ADAMW_METHOD, t, undefined, { ...ADAM, weightDecay: 0.01 }) : t);
    },
  },
  {
    // The adapter's default: one host sync per step to reject NaN/Inf gradients.
    optimizer: 'adamw+finiteCheck',
    bytesPerParam: 32,
    fusedOnly: true,
    // A host read per step: not webgpu's default policy, and Node's Dawn has no sync read at all.
    notOn: ['webgpu'],
    build: (f) => {
      const t = adamwTransformation({ ...ADAM, weightDecay: 0.01 });
      return ours(
        f ? withFusedMethod(ADAMW_METHOD, t, undefined, { ...ADAM, weightDecay: 0.01 }) : t,
        'error',
      );
    },
  },
  {
    // No host sync: the fused kernels keep θ, m and v on a bad step — on cpu/wasm checking g in the
    // passes that read it, on webgpu taking a flag computed in one kernel call. Fused only, interleaved
    // with the unguarded rows, so 'x+guard' / 'x' is a same-run ratio.
    optimizer: 'adamw+guard',
    bytesPerParam: 28,
    fusedOnly: true,
    build: (f) => {
      const t = adamwTransformation({ ...ADAM, weightDecay: 0.01 });
      return ours(
        f ? withFusedMethod(ADAMW_METHOD, t, undefined, { ...ADAM, weightDecay: 0.01 }) : t,
        'guard',
      );
    },
  },
  ...projectedOverAdam(
    { optimizer: 'ftp', bytesPerParam: 48, wgslBytes: 56 },
    FTP_METHOD,
    ftpTransformation,
    { k: 1 },
  ),
  // λ = 1: bytes are 32 for a tensor that is not decayed, 44 for one that is; 32 is the floor quoted.
  ...projectedOverAdam(
    { optimizer: 'spd', bytesPerParam: 32, wgslBytes: 44 },
    SPD_METHOD,
    spdTransformation,
    { weightDecay: 1 },
  ),
  ...projectedOverAdam(
    { optimizer: 'digrap', bytesPerParam: 60, wgslBytes: 72 },
    DIGRAP_METHOD,
    digrapTransformation,
    { weightDecay: 0.1 },
  ),
  {
    optimizer: 'l2sp',
    bytesPerParam: 32,
    build: (f) => {
      const t = l2spTransformation({ ...ADAM, alpha: 0.01 });
      return ours(f ? withFusedMethod(L2SP_METHOD, t, { alpha: 0.01 }, { ...ADAM, weightDecay: 0 }) : t);
    },
  },
];

// ---------------------------------------------------------------- measurement

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Copy bandwidth of this machine now: GB/s of read + write for a 47 MB Float32Array copy (best of 9). */
function copyBandwidth(): number {
  const n = 11_689_512;
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  const ts: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    b.set(a);
    ts.push(performance.now() - t0);
  }
  // The best of 9: a floor is what the machine can do, not what it did on average under load.
  return (2 * n * 4) / Math.min(...ts) / 1e6;
}

interface Row {
  backend: string;
  paramSet: string;
  optimizer: string;
  fused: boolean;
  msPerStep: number;
  ratioToAdamw: number;
  ratioToTfAdam: number;
  /** Bytes per parameter the step touches (the fused WGSL kernels touch more than the floor). */
  bytesPerParam: number;
  /** The spec's minimum; `floorMs` and `ratioToFloor` are for this many bytes at the measured bandwidth. */
  floorBytesPerParam: number;
  gbPerSec: number;
  floorMs: number;
  ratioToFloor: number;
  fusedSpeedup?: number;
}

/**
 * Composed-op rows on the cpu backend take seconds per step: past this (`--slow-ms`, default 1000),
 * the warm-up stops and one step is timed. (The first step alone is no sample: on wasm it includes
 * growing the heap, up to seconds.)
 */
const SLOW_STEP_MS = Number(flag('slow-ms', '1000'));

/**
 * Warm-up steps run even when slow (as far as `--warmup` asks): a RobustOptimizer's step 1 captures
 * the anchors and step 2 verifies them, which under 'guard' takes the adapter's flag kernel even where
 * the fused kernels check g themselves; from step 3 on a one-call step runs no flag kernel.
 */
const SETUP_STEPS = 2;

/** The WebGPU device's queue, when that is the active backend. */
interface WebGpuQueue {
  onSubmittedWorkDone(): Promise<void>;
  submit(buffers: unknown[]): void;
}

/**
 * Waits until the backend has finished the work issued so far: nothing on cpu/wasm (their kernels
 * are synchronous); on webgpu, submit what tfjs still batches in its encoder and wait for the queue.
 */
async function settle(): Promise<void> {
  if (tf.getBackend() !== 'webgpu') return;
  const b = webgpuInternals(tf.backend());
  if (!b) throw new Error('bench: the webgpu backend does not expose the expected internals');
  b.endComputePassEncoder();
  if (b.commandEncoder) b.submitQueue();
  await (b.queue as unknown as WebGpuQueue).onSubmittedWorkDone();
}

/** The wasm heap's size (0 on other backends): growth during a timed step is first-touch page faults. */
function heapBytes(): number {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return tf.getBackend() === 'wasm' ? (b.wasm?.HEAPU8?.buffer.byteLength ?? 0) : 0;
}

/** One step, timed until the backend has finished it (wall clock, or with `--clock cpu` process CPU time). */
async function timedStep(opt: tf.Optimizer, grads: tf.NamedTensorMap): Promise<number> {
  await settle();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  opt.applyGradients(grads);
  await settle();
  if (CPU_CLOCK) {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000;
  }
  return performance.now() - t0;
}

/** Runs up to `warmup` steps (stopping after a slow one past SETUP_STEPS); returns the last step's time. */
async function warm(opt: tf.Optimizer, grads: tf.NamedTensorMap, warmup: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < warmup && (i < SETUP_STEPS || last <= SLOW_STEP_MS); i++)
    last = await timedStep(opt, grads);
  return last;
}

async function timeSteps(opt: tf.Optimizer, grads: tf.NamedTensorMap, warmup: number, steps: number) {
  const n = (await warm(opt, grads, warmup)) > SLOW_STEP_MS ? 1 : steps;
  const ts: number[] = [];
  for (let i = 0; i < n; i++) ts.push(await timedStep(opt, grads));
  return median(ts);
}

/**
 * The device's copy bandwidth (read + write, GB/s) for the same 47 MB as `copyBandwidth`: one
 * copyBufferToBuffer per submit, best of 9, each timed to onSubmittedWorkDone.
 */
async function webgpuCopyBandwidth(): Promise<number> {
  const b = webgpuInternals(tf.backend());
  if (!b) throw new Error('bench: the webgpu backend does not expose the expected internals');
  const bytes = 11_689_512 * 4;
  const usage = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
  const src = b.bufferManager.acquireBuffer(bytes, usage);
  const dst = b.bufferManager.acquireBuffer(bytes, usage);
  const device = b.device as unknown as {
    createCommandEncoder(): { copyBufferToBuffer: (...a: unknown[]) => void; finish(): unknown };
  };
  const queue = b.queue as unknown as WebGpuQueue;
  await settle();
  const ts: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, 0, dst, 0, bytes);
    queue.submit([encoder.finish()]);
    await queue.onSubmittedWorkDone();
    ts.push(performance.now() - t0);
  }
  return (2 * bytes) / Math.min(...ts) / 1e6;
}

function profileStep(label: string, opt: tf.Optimizer, grads: tf.NamedTensorMap): Promise<void> {
  return tf
    .profile(() => {
      opt.applyGradients(grads);
    })
    .then((info) => {
      const byKernel = new Map<string, { ms: number; n: number }>();
      let total = 0;
      for (const k of info.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        total += ms;
        const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
        e.ms += ms;
        e.n += 1;
        byKernel.set(k.name, e);
      }
      const top = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 6);
      console.log(
        `  profile ${label}: ${info.kernels.length} kernels, ${total.toFixed(1)} ms in kernels; top: ${top
          .map(([n, e]) => `${n}×${e.n} ${e.ms.toFixed(1)}ms`)
          .join(', ')}`,
      );
    });
}

async function main(): Promise<void> {
  const cpu = os.cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, node ${process.version}`);
  console.log(
    'note: the cores are shared with other work; medians and same-run ratios are the figures to read.',
  );
  const copyGbPerSec = copyBandwidth();
  console.log(
    `copy bandwidth (Float32Array.set, 47 MB, best of 9): ${copyGbPerSec.toFixed(2)} GB/s (read + write); ` +
      `load average ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
  const rows: Row[] = [];
  let webgpuBandwidth: number | null = null;
  const breakdown: { backend: string; paramSet: string; what: string; ms: number }[] = [];
  const specs = ONLY ? SPECS.filter((s) => ONLY.split(',').includes(s.optimizer)) : SPECS;

  for (const backend of BACKENDS) {
    if (backend === 'webgpu') {
      const reason = await installNodeWebGpu(() => import('webgpu'));
      if (reason !== null) {
        console.log(`\n[webgpu] not measured: ${reason}`);
        continue;
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
    // The floor of each backend: host memory copies for cpu/wasm, the device's own copy on webgpu.
    const bandwidth = backend === 'webgpu' ? await webgpuCopyBandwidth() : copyGbPerSec;
    if (backend === 'webgpu') webgpuBandwidth = bandwidth;
    if (backend === 'webgpu') {
      const adapter = (
        tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }
      ).adapterInfo;
      console.log(
        `[webgpu] adapter ${adapter?.vendor ?? '?'} ${adapter?.architecture ?? ''}; device copy bandwidth ${bandwidth.toFixed(2)} GB/s (read + write)`,
      );
    }
    for (const setName of SETS) {
      const shapes = PARAM_SETS[setName]!();
      const nParams = shapes.reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
      const big = nParams > 5e6;
      const steps = STEPS || (big ? 5 : 11);
      const warmup = WARMUP || (big ? 2 : 4);
      console.log(
        `\n[${backend}] ${setName}: ${shapes.length} tensors, ${(nParams / 1e6).toFixed(3)}M params; median of ${steps} steps after ${warmup} warm-up (rows over ${SLOW_STEP_MS} ms a step: 1 after ${Math.min(warmup, SETUP_STEPS)})`,
      );
      const vars: Record<string, tf.Variable> = {};
      const grads: tf.NamedTensorMap = {};
      for (const [n, sh] of shapes) {
        const name = `${backend}/${setName}/${n}`;
        vars[name] = tf.variable(tf.randomUniform(sh, -0.1, 0.1, 'float32', 1), true, name);
        grads[name] = tf.randomUniform(sh, -1e-2, 1e-2, 'float32', 2);
      }
      const ms = new Map<string, number>();
      // tf.train.adam first and on its own: on cpu its composed ops leave hundreds of MB of garbage
      // per step, and interleaved, the collections it caused landed in whichever step ran next.
      if (TF_ADAM) {
        const opt = tf.train.adam(LR);
        ms.set('tfAdam', await timeSteps(opt, grads, warmup, steps));
        opt.dispose();
        console.log(`  ${'tf.train.adam'.padEnd(26)}${ms.get('tfAdam')!.toFixed(1)} ms`);
      }
      // Interleaved: every round steps each optimizer of a group once, so a change of machine load
      // during the run hits all of them alike and the same-run ratios stay meaningful.
      for (const fused of MODES) {
        setFusedKernelsEnabled(fused);
        const group: { key: string; label: string; opt: tf.Optimizer; ts: number[]; n: number }[] = [];
        for (const spec of specs) {
          if (spec.solo || (spec.fusedOnly && !fused) || (spec.sets && !spec.sets.includes(setName)))
            continue;
          if (spec.notOn?.includes(backend)) continue;
          group.push({
            key: `${spec.optimizer}:${fused}`,
            label: `${spec.optimizer}${fused ? ' fused' : ' unfused'}`,
            opt: spec.build(fused),
            ts: [],
            n: steps,
          });
        }
        // Warm-up in the same interleaved order as the timed rounds. Warmed one optimizer after another,
        // the wasm heap had not yet met the interleaved pattern (every group's state alive while one
        // step allocates its outputs), so it still grew in a timed round, and first-touching the new
        // pages landed in whichever step ran then: DiGraP, with the most outputs (5 per tensor), was
        // the usual one (measured: +99–105 MB in a timed round after the old warm-up).
        const last = new Map<string, number>();
        for (let w = 0; w < warmup; w++) {
          for (const g of group) {
            if (w < SETUP_STEPS || (last.get(g.key) ?? 0) <= SLOW_STEP_MS)
              last.set(g.key, await timedStep(g.opt, grads));
          }
        }
        for (const g of group) g.n = (last.get(g.key) ?? 0) > SLOW_STEP_MS ? 1 : steps;
        const grew = new Map<string, number>();
        for (let r = 0; r < steps; r++) {
          for (const g of group) {
            if (r >= g.n) continue;
            const before = heapBytes();
            g.ts.push(await timedStep(g.opt, grads));
            grew.set(g.key, (grew.get(g.key) ?? 0) + heapBytes() - before);
          }
        }
        for (const g of group) {
          if (PROFILE) await profileStep(g.label, g.opt, grads);
          g.opt.dispose();
          ms.set(g.key, median(g.ts));
          const mb = (grew.get(g.key) ?? 0) / 2 ** 20;
          console.log(
            `  ${g.label.padEnd(26)}${median(g.ts).toFixed(1)} ms${mb > 0 ? ` (the heap grew ${mb.toFixed(0)} MB during its timed steps)` : ''}`,
          );
        }
      }
      // Solo rows (far slower than the rest, fused only): measured on their own after the groups.
      setFusedKernelsEnabled(true);
      for (const spec of specs) {
        if (!spec.solo || !MODES.includes(true) || (spec.sets && !spec.sets.includes(setName))) continue;
        if (spec.notOn?.includes(backend)) continue;
        const opt = spec.build(true);
        const t = await timeSteps(opt, grads, warmup, steps);
        opt.dispose();
        ms.set(`${spec.optimizer}:true`, t);
        console.log(`  ${`${spec.optimizer} fused (solo)`.padEnd(26)}${t.toFixed(1)} ms`);
      }
      setFusedKernelsEnabled(true);
      // Where a fused AdamW step goes: the kernel alone on the same tensors, outside the adapter, and
      // its parts (compute vs the fresh output buffers every tfjs kernel returns).
      const names = Object.keys(grads);
      const state = names.map((n) => ({ m: tf.zerosLike(grads[n]!), v: tf.zerosLike(grads[n]!) }));
      const timed = (fn: () => void): number => {
        const ts: number[] = [];
        for (let i = 0; i < warmup + steps; i++) {
          const t0 = performance.now();
          fn();
          if (i >= warmup) ts.push(performance.now() - t0);
        }
        return median(ts);
      };
      /** The fused AdamW kernel on every tensor: plain, taking a flag, or checking g itself (`check`). */
      const kernelOnce = (finite?: tf.Tensor, check = false) => {
        const batch = fusedAdamWBatch(
          names.map((n, j) => ({
            param: vars[n]!,
            grad: grads[n]!,
            m: state[j]!.m,
            v: state[j]!.v,
            count: 1,
          })),
          { ...ADAM, learningRate: LR, weightDecay: 0.01, ...(finite ? { finite } : {}), check },
        );
        for (const r of batch.results) for (const x of Object.values(r)) x.dispose();
        batch.finite?.dispose();
      };
      const parts: [string, number][] = [];
      if (BREAKDOWN && backend !== 'webgpu') {
        parts.push([`fused AdamW kernel alone (${fusedStepEngine()})`, timed(() => kernelOnce())]);
        if (backend === 'wasm') {
          setWasmSimdEnabled(false);
          parts.push([
            'fused AdamW kernel alone, JS loops on the wasm heap (SIMD off)',
            timed(() => kernelOnce()),
          ]);
          setWasmSimdEnabled(true);
        } else {
          // The pass alone, into buffers allocated once, against the same pass into 3 fresh arrays per
          // tensor (what a tfjs cpu kernel must return): the difference is zeroing + first-touch faults.
          const views = names.map((n, j) => ({
            th: vars[n]!.dataSync() as Float32Array,
            g: grads[n]!.dataSync() as Float32Array,
            m: state[j]!.m.dataSync() as Float32Array,
            v: state[j]!.v.dataSync() as Float32Array,
          }));
          const held = views.map((x) => [0, 1, 2].map(() => new Float32Array(x.th.length)));
          const k = adamConstants(LR, ADAM.beta1, ADAM.beta2, ADAM.epsilon, 1, 0.01);
          for (const engine of [wasmCopyEngine(), JS_ENGINE]) {
            if (!engine) continue;
            parts.push([
              `${engine.name} AdamW pass into preallocated outputs`,
              timed(() =>
                views.forEach((x, j) => {
                  const [a, b, c] = held[j]!;
                  engine.adam(x.th, x.g, x.m, x.v, a!, b!, c!, k, 0, x.th.length);
                }),
              ),
            ]);
            parts.push([
              `${engine.name} AdamW pass into 3 fresh Float32Arrays per tensor`,
              timed(() =>
                views.forEach((x) => {
                  const n = x.th.length;
                  const fresh = () => new Float32Array(n);
                  engine.adam(x.th, x.g, x.m, x.v, fresh(), fresh(), fresh(), k, 0, n);
                }),
              ),
            ]);
          }
        }
        parts.push([
          'allocating + filling 3 fresh param-sized outputs (tf.zerosLike)',
          timed(() => {
            const t = names.map((n) => [
              tf.zerosLike(grads[n]!),
              tf.zerosLike(grads[n]!),
              tf.zerosLike(grads[n]!),
            ]);
            for (const h of t) for (const x of h) x.dispose();
          }),
        ]);
      }
      if (BREAKDOWN && backend === 'webgpu') {
        // What 'guard' adds to a webgpu step, each part timed like a step (until the device is done,
        // `--clock cpu` honoured): the adapter's flag (RobustFtFiniteFlag over every gradient, then
        // `Greater`), the fused kernels' float copy of it and the bad-step counter's 0-d ops — against
        // the fused AdamW kernel alone on the same tensors. The parts run round-robin (one of each per
        // round, warm-up rounds first), so a load change on the shared machine hits all of them alike.
        const timedOnce = async (fn: () => void): Promise<number> => {
          await settle();
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          fn();
          await settle();
          const c = process.cpuUsage(c0);
          return CPU_CLOCK ? (c.user + c.system) / 1000 : performance.now() - t0;
        };
        const flag = finiteFlag(grads);
        let bad: tf.Tensor = tf.scalar(0);
        const webgpuParts: [string, () => void][] = [];
        if (GUARD_PARTS.has('adamw')) webgpuParts.push(['fused AdamW kernel alone', () => kernelOnce()]);
        const flagParts: [string, () => void][] = [
          [
            `finite flag alone (${Math.ceil(names.length / 7) + 1} dispatches + Greater)`,
            () => finiteFlag(grads).dispose(),
          ],
          [
            "guard's 0-d ops (the kernels' float copy; the counter's cast, sub, add)",
            () => {
              tf.where(flag, tf.scalar(1), tf.scalar(0)).dispose();
              const next = tf.tidy(() => tf.add(bad, tf.sub(1, tf.cast(flag, 'float32'))));
              bad.dispose();
              bad = next;
            },
          ],
          // The same kernel taking the flag (1: nothing kept): what the guarded WGSL passes add by themselves.
          ['fused AdamW kernel alone, taking the finite flag', () => kernelOnce(flag)],
        ];
        if (GUARD_PARTS.has('flag')) webgpuParts.push(...flagParts);
        // What a one-call 'guard' step runs instead of the flag kernel: the kernel checking g in its
        // passes, then its flag and the (empty on a good step) indirect restore dispatches of what the
        // checking pass wrote. Each method at its second step (its state and scalars passed in, so every
        // output a bad step keeps is there to keep): the kernel alone, then checking g itself.
        const strength = tf.scalar(0.1);
        const rowsOf = (n: string) => vars[n]!.shape[vars[n]!.rank - 1] ?? 1;
        const rowState = names.map((n) => tf.ones([rowsOf(n)]));
        const methods = {
          spd: { inputs: [], outputs: ['spdCondition', 'spdRatio'], attrs: () => ({ lambda: 1 }) },
          ftp: {
            inputs: ['cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'],
            outputs: ['cPrev', 'rPrev', 'gamma', 'gammaM', 'gammaV'],
            // Rows = the last axis (tfjs layouts: output units); a 0-d tensor is one row.
            attrs: () => ({
              weightDecay: 0,
              k: 1,
              t: 2,
              rowSpans: names.flatMap((n) => {
                const rank = vars[n]!.rank;
                return [Math.max(rank - 1, 0), rank];
              }),
            }),
          },
          digrap: {
            inputs: ['pPrev', 'qPrev', ...DIGRAP_SCALAR_ROLES],
            outputs: ['pPrev', 'qPrev', 'dot', ...DIGRAP_SCALAR_ROLES],
            attrs: () => ({ lambda: 1, t: 2, lrPrevs: names.map(() => LR) }),
          },
        } as const;
        const methodOnce = (method: keyof typeof methods, check: boolean) => {
          const spec = methods[method];
          const batch = fusedMethodBatch(
            method,
            names.map((n, j) => ({
              param: vars[n]!,
              grad: grads[n]!,
              m: state[j]!.m,
              v: state[j]!.v,
              count: 2,
              anchor: state[j]!.v,
              pPrev: state[j]!.m,
              qPrev: state[j]!.v,
              cPrev: state[j]!.m,
              rPrev: rowState[j]!,
              ...Object.fromEntries(
                [...DIGRAP_SCALAR_ROLES, 'gamma', 'gammaM', 'gammaV'].map((k) => [k, strength]),
              ),
            })),
            spec.inputs,
            spec.outputs,
            { ...ADAM, learningRate: LR, check },
            spec.attrs(),
          );
          for (const r of batch.results) for (const x of Object.values(r)) x.dispose();
          batch.finite?.dispose();
        };
        const label = { spd: 'SPD', ftp: 'FTP', digrap: 'DiGraP' } as const;
        const checks = kernelsCheckFinite(['adamw', 'spd', 'ftp', 'digrap']);
        if (checks && GUARD_PARTS.has('adamw'))
          webgpuParts.push([
            'fused AdamW kernel alone, checking g itself (own flag + restore)',
            () => kernelOnce(undefined, true),
          ]);
        for (const method of ['spd', 'ftp', 'digrap'] as const) {
          if (!GUARD_PARTS.has(method)) continue;
          webgpuParts.push([`fused ${label[method]} kernel alone (step 2)`, () => methodOnce(method, false)]);
          if (checks)
            webgpuParts.push([
              `fused ${label[method]} kernel alone (step 2), checking g itself`,
              () => methodOnce(method, true),
            ]);
        }
        const samples: number[][] = webgpuParts.map(() => []);
        for (let i = 0; i < warmup + steps; i++) {
          for (const [k, [, fn]] of webgpuParts.entries()) {
            const t = await timedOnce(fn);
            if (i >= warmup) samples[k]!.push(t);
          }
        }
        webgpuParts.forEach(([what], k) => {
          parts.push([what, median(samples[k]!)]);
        });
        flag.dispose();
        bad.dispose();
        strength.dispose();
        tf.dispose(rowState);
      }
      for (const st of state) {
        st.m.dispose();
        st.v.dispose();
      }
      for (const [what, t] of parts) {
        console.log(`  breakdown: ${what}: ${t.toFixed(1)} ms`);
        breakdown.push({ backend, paramSet: setName, what, ms: Math.round(t * 1000) / 1000 });
      }

      const tfMs = ms.get('tfAdam') ?? Number.NaN;
      const floorOf = (bytes: number) => (bytes * nParams) / (bandwidth * 1e6);
      if (TF_ADAM)
        rows.push({
          backend,
          paramSet: setName,
          optimizer: 'tf.train.adam',
          fused: false,
          msPerStep: tfMs,
          ratioToAdamw: tfMs / (ms.get('adamw:true') ?? ms.get('adamw:false')!),
          ratioToTfAdam: 1,
          bytesPerParam: 28,
          floorBytesPerParam: 28,
          gbPerSec: (28 * nParams) / tfMs / 1e6,
          floorMs: floorOf(28),
          ratioToFloor: tfMs / floorOf(28),
        });
      for (const spec of specs) {
        for (const fused of MODES) {
          const t = ms.get(`${spec.optimizer}:${fused}`);
          if (t === undefined) continue; // not measured in this mode or on this set
          const base = ms.get(`adamw:${fused}`) ?? Number.NaN;
          // Bytes this step touches: the floor on cpu/wasm (and composed, where it is a lower bound).
          const bytes =
            backend === 'webgpu' && fused ? (spec.wgslBytes ?? spec.bytesPerParam) : spec.bytesPerParam;
          rows.push({
            backend,
            paramSet: setName,
            optimizer: spec.optimizer,
            fused,
            msPerStep: t,
            ratioToAdamw: t / base,
            ratioToTfAdam: t / tfMs,
            bytesPerParam: bytes,
            floorBytesPerParam: spec.bytesPerParam,
            gbPerSec: (bytes * nParams) / t / 1e6,
            floorMs: floorOf(spec.bytesPerParam),
            ratioToFloor: t / floorOf(spec.bytesPerParam),
            ...(fused && ms.has(`${spec.optimizer}:false`)
              ? { fusedSpeedup: ms.get(`${spec.optimizer}:false`)! / t }
              : {}),
          });
        }
      }
      for (const v of Object.values(vars)) v.dispose();
      for (const g of Object.values(grads)) g.dispose();
    }
  }

  console.log(
    '\nbackend paramSet optimizer            fused  ms/step  ×adamw  ×tf.adam  B/param  GB/s  ×floor  fused speed-up',
  );
  for (const r of rows) {
    console.log(
      `${r.backend.padEnd(7)} ${r.paramSet.padEnd(8)} ${r.optimizer.padEnd(20)} ${String(r.fused).padEnd(6)}` +
        `${r.msPerStep.toFixed(1).padStart(8)} ${r.ratioToAdamw.toFixed(2).padStart(7)} ${r.ratioToTfAdam
          .toFixed(2)
          .padStart(
            9,
          )} ${String(r.bytesPerParam).padStart(8)} ${r.gbPerSec.toFixed(2).padStart(5)} ${r.ratioToFloor
          .toFixed(1)
          .padStart(7)}  ${r.fusedSpeedup === undefined ? '' : `${r.fusedSpeedup.toFixed(2)}×`}`,
    );
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const json = {
    machine: `${cpu[0]?.model ?? 'unknown'} x${cpu.length}`,
    rows: rows.map((r) => ({
      ...r,
      msPerStep: round(r.msPerStep),
      ratioToAdamw: round(r.ratioToAdamw),
      ratioToTfAdam: round(r.ratioToTfAdam),
      gbPerSec: round(r.gbPerSec),
      floorMs: round(r.floorMs),
      ratioToFloor: round(r.ratioToFloor),
      ...(r.fusedSpeedup === undefined ? {} : { fusedSpeedup: round(r.fusedSpeedup) }),
    })),
    copyGbPerSec: round(copyGbPerSec),
    ...(webgpuBandwidth === null ? {} : { webgpuCopyGbPerSec: round(webgpuBandwidth) }),
    loadavg: os.loadavg().map(round),
    breakdown,
  };
  console.log(
    `load average at the end: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`RESULT ${JSON.stringify(json)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
