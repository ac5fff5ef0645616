/**
 * `--cpu-profile`: where a training step's time goes *outside* the kernels that `tf.profile` sees.
 * V8's sampling profiler (node:inspector) runs over N steps; each sample's self time is charged to the
 * package whose code was on top of the stack. The bench runs as one esbuild bundle, so a JS frame's
 * package comes from the `// <path>` comment esbuild writes above each module; a wasm frame is charged
 * to "wasm via <package>", the package of the nearest JS caller (XNNPACK's convolutions show up as
 * wasm via tfjs-backend-wasm, robust-ft's SIMD kernels as wasm via @robust-ft/core).
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package a bundled module path belongs to (`../../@tensorflow/tfjs-core/dist/…` → tfjs-core). */
function packageOf(modulePath: string): string {
  if (modulePath.startsWith('../core/')) return '@robust-ft/core';
  if (modulePath.startsWith('../optimizers/')) return '@robust-ft/optimizers';
  if (modulePath.startsWith('src/')) return '@robust-ft/backend-node';
  if (modulePath.startsWith('bench/')) return 'bench';
  const parts = modulePath
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/^(\.\.\/)+/, '')
    .split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** Line → package of the bundle this process runs (esbuild's module comments). */
function bundleModules(file: string): (line: number) => string {
  const starts: number[] = [];
  const names: string[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((l, i) => {
      if (/^\/\/ \S+\.(?:js|mjs|cjs|ts)$/.test(l)) {
        starts.push(i);
        names.push(packageOf(l.slice(3)));
      }
    });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= line) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 'bench' : names[found]!;
  };
}

/**
 * Runs `steps` calls of `step` under the sampling profiler and returns ms per step by where the time
 * went, largest first.
 */
export async function cpuProfileSteps(
  steps: number,
  step: () => Promise<void>,
): Promise<Array<[string, number]>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  for (let i = 0; i < steps; i++) await step();
  const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
  session.disconnect();

  const bundle = fileURLToPath(import.meta.url);
  const moduleAt = bundleModules(bundle);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const jsPackage = (f: CallFrame) =>
    f.url.endsWith(bundle) || f.url === import.meta.url ? moduleAt(f.lineNumber) : null;
  const where = (id: number): string => {
    const f = byId.get(id)!.callFrame;
    if (f.url.startsWith('wasm://')) {
      for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
        const pkg = jsPackage(byId.get(p)!.callFrame);
        if (pkg) return `wasm via ${pkg}`;
      }
      return 'wasm';
    }
    const pkg = jsPackage(f);
    if (pkg) return `js ${pkg}`;
    if (f.functionName.startsWith('(')) return f.functionName; // (garbage collector), (program), (idle)
    return 'js node/V8 other';
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const k = where(id);
    totals.set(k, (totals.get(k) ?? 0) + profile.timeDeltas[i]! / 1000);
  });
  return [...totals].map(([k, ms]) => [k, ms / steps] as [string, number]).sort((a, b) => b[1] - a[1]);
}
