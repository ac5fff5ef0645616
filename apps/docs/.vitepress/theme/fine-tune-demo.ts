/**
 * The live demo: fine-tunes two copies of the benchmark's pre-trained digits CNN in the reader's tab —
 * AdamW and a robust optimizer (FTP or SPD) — on the best backend `@robust-ft/backend-web` finds, and
 * plots ID, OOD (font digits) and corrupted-ID accuracy per epoch as they arrive. Model and data are
 * fetched from this site (`/demo/`). `data-status` (idle | running | done | error) and `data-points`
 * let the Chromium test follow a run; `?backend=` forces a backend, as everywhere in backend-web.
 */
import { withBase } from 'vitepress';
import { defineComponent, h, ref } from 'vue';
import type { DemoPoint } from '../../src/demo/run-demo';

type Robust = 'FTP' | 'SPD';
/** Images per test set: 1000 (all 539 ID test images, 1,000 font digits) or a quick 150. */
type TestImages = 150 | 1000;
const COLORS: Record<string, string> = { AdamW: '#d62728', FTP: '#1f77b4', SPD: '#2ca02c' };
const SERIES = [
  ['id', '', 'ID (UCI digits)'],
  ['ood', '6 4', 'OOD (font digits)'],
  ['corrupted', '2 3', 'ID + gaussian noise (severity 3)'],
] as const;
const W = 560;
const H = 260;
const PAD = { left: 44, right: 16, top: 12, bottom: 30 };
const LOW = 0.5;

function chart(points: DemoPoint[], methods: string[], epochs: number) {
  const x = (e: number) => PAD.left + (e / Math.max(1, epochs)) * (W - PAD.left - PAD.right);
  const y = (a: number) => PAD.top + ((1 - a) / (1 - LOW)) * (H - PAD.top - PAD.bottom);
  const children = [];
  for (const tick of [0.5, 0.6, 0.7, 0.8, 0.9, 1]) {
    children.push(
      h('line', {
        x1: PAD.left,
        x2: W - PAD.right,
        y1: y(tick),
        y2: y(tick),
        stroke: '#ccc',
        'stroke-width': 0.5,
      }),
      h('text', { x: PAD.left - 6, y: y(tick) + 4, 'text-anchor': 'end', 'font-size': 11 }, tick.toFixed(1)),
    );
  }
  for (let e = 0; e <= epochs; e++) {
    children.push(h('text', { x: x(e), y: H - 16, 'text-anchor': 'middle', 'font-size': 10 }, String(e)));
  }
  children.push(h('text', { x: W / 2, y: H - 3, 'text-anchor': 'middle', 'font-size': 11 }, 'epoch'));
  for (const method of methods) {
    const mine = points.filter((p) => p.method === method);
    for (const [key, dash] of SERIES) {
      const coords = mine
        .filter((p) => p[key] !== undefined)
        .map((p) => `${x(p.epoch).toFixed(1)},${y(Math.max(LOW, p[key] ?? 0)).toFixed(1)}`)
        .join(' ');
      children.push(
        h('polyline', {
          points: coords,
          fill: 'none',
          stroke: COLORS[method],
          'stroke-width': 2,
          'stroke-dasharray': dash,
          class: `demo-line demo-${method.toLowerCase()}-${key}`,
        }),
      );
    }
  }
  return h(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': 'accuracy per epoch' },
    children,
  );
}

const pct = (v: number | undefined) => (v === undefined ? '–' : `${(v * 100).toFixed(1)} %`);

function select<T extends string | number>(
  label: string,
  cls: string,
  value: T,
  options: readonly T[],
  disabled: boolean,
  set: (v: T) => void,
) {
  return h('label', [
    `${label} `,
    h(
      'select',
      {
        class: cls,
        value,
        disabled,
        onChange: (e: Event) => {
          const raw = (e.target as HTMLSelectElement).value;
          const picked = options.find((o) => String(o) === raw);
          if (picked !== undefined) set(picked);
        },
      },
      options.map((o) => h('option', { value: o }, String(o))),
    ),
  ]);
}

async function fetchBytes(path: string): Promise<Uint8Array> {
  const url = withBase(`/demo/${path}`);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url} (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

export default defineComponent({
  name: 'FineTuneDemo',
  setup() {
    const status = ref<'idle' | 'running' | 'done' | 'error'>('idle');
    const message = ref('');
    const epochs = ref(3);
    const trainImages = ref(320);
    const testImages = ref<TestImages>(1000);
    const robust = ref<Robust>('FTP');
    const points = ref<DemoPoint[]>([]);
    const backendNote = ref('');

    async function start() {
      status.value = 'running';
      points.value = [];
      backendNote.value = '';
      message.value = 'loading tfjs…';
      let explain: ((error: unknown) => unknown) | undefined;
      try {
        const [{ default: modules }, { loadDigits }, { BENCH_HYPERPARAMETERS: HP, runDemo }] =
          await Promise.all([
            import('virtual:snippet-modules'),
            import('../../src/demo/digits'),
            import('../../src/demo/run-demo'),
          ]);
        const load = async <T>(name: string): Promise<T> => {
          const loader = modules[name];
          if (!loader) throw new Error(`${name} is not available to the site`);
          return (await loader()) as T;
        };
        const tf = await load<typeof import('@tensorflow/tfjs')>('@tensorflow/tfjs');
        const { adamw, ftp, spd } =
          await load<typeof import('@robust-ft/optimizers')>('@robust-ft/optimizers');
        const { corrupt } = await load<typeof import('@robust-ft/eval')>('@robust-ft/eval');
        const { explainBackendError, useBestBackend } =
          await load<typeof import('@robust-ft/backend-web')>('@robust-ft/backend-web');
        explain = explainBackendError;
        // WebGPU → WebGL → wasm → cpu, skipping software GPUs unless `?backend=` forces one; robust-ft's
        // wasm training kernels (the CNN's filter gradient among them) are registered by default.
        const chosen = await useBestBackend({ wasmPath: withBase('/tfjs-wasm/'), logger: null });
        const backend = chosen.tfBackend;
        const skipped = Object.entries(chosen.reasons).map(([name, why]) => `${name}: ${why}`);
        backendNote.value = `backend ${backend}${chosen.forced ? ' (forced by ?backend=)' : ''}${skipped.length ? ` — skipped ${skipped.join('; ')}` : ''}`;
        message.value = 'fetching the pre-trained CNN and the digits…';
        const data = await loadDigits(fetchBytes);
        const method = robust.value;
        const started = performance.now();
        const result = await runDemo(tf, data, {
          epochs: epochs.value,
          trainImages: trainImages.value,
          oodImages: testImages.value,
          idTestImages: testImages.value,
          optimizers: {
            AdamW: () => adamw({ learningRate: HP.learningRate, weightDecay: HP.adamwWeightDecay }),
            [method]: () =>
              method === 'FTP'
                ? ftp({ learningRate: HP.learningRate, k: HP.ftpK })
                : spd({ learningRate: HP.learningRate, weightDecay: HP.spdLambda }),
          },
          corrupt: (x) => corrupt(x, 'gaussian_noise', 3, 0),
          onPoint: (p) => {
            points.value = [...points.value, p];
          },
          onProgress: async (step, steps) => {
            message.value = `fine-tuning on ${backend}: step ${step} of ${steps}`;
            await tf.nextFrame();
          },
          onScoring: async ({ method: m, epoch, set, images }) => {
            message.value = `scoring ${m} after epoch ${epoch} on ${backend}: ${set} (${images} images)`;
            await tf.nextFrame();
          },
        });
        message.value = `done on ${backend} in ${((performance.now() - started) / 1000).toFixed(1)} s (${result.steps} steps on ${result.trainImages} UCI digits; OOD: ${result.oodImages} font digits)`;
        status.value = 'done';
      } catch (caught) {
        // A lost GPU says so (DEVICE_LOST); Start again rebuilds the backend.
        const e = explain ? explain(caught) : caught;
        message.value = `✗ ${e instanceof Error ? e.message : String(e)}`;
        status.value = 'error';
      }
    }

    return () => {
      const methods = ['AdamW', robust.value];
      const busy = status.value === 'running';
      const last = (m: string) => points.value.filter((p) => p.method === m).at(-1);
      return h(
        'div',
        { class: 'fine-tune-demo', 'data-status': status.value, 'data-points': points.value.length },
        [
          h('div', { class: 'live-code-bar' }, [
            h(
              'button',
              { class: 'live-code-run demo-start', disabled: busy, onClick: start },
              busy ? 'Training…' : '▶ Start',
            ),
            select('vs AdamW:', 'demo-method', robust.value, ['FTP', 'SPD'] as const, busy, (v) => {
              robust.value = v;
              points.value = [];
            }),
            select('epochs', 'demo-epochs', epochs.value, [1, 3, 5] as const, busy, (v) => {
              epochs.value = v;
            }),
            select('train images', 'demo-train', trainImages.value, [64, 320, 1108] as const, busy, (v) => {
              trainImages.value = v;
            }),
            select('test images', 'demo-test', testImages.value, [150, 1000] as const, busy, (v) => {
              testImages.value = v;
            }),
          ]),
          h('div', { class: 'live-code-note demo-message' }, message.value),
          backendNote.value ? h('div', { class: 'live-code-note demo-backend' }, backendNote.value) : null,
          chart(points.value, methods, epochs.value),
          h('div', { class: 'demo-legend' }, [
            ...methods.map((m) => h('span', { style: { color: COLORS[m] } }, `■ ${m}`)),
            h(
              'span',
              SERIES.map(
                ([, dash, label]) =>
                  `${dash === '' ? 'solid' : dash === '6 4' ? 'dashed' : 'dotted'}: ${label}`,
              ).join(' · '),
            ),
          ]),
          h('table', { class: 'demo-table' }, [
            h('tr', [
              h('th', 'method'),
              h('th', 'epoch'),
              h('th', 'ID'),
              h('th', 'OOD: fonts'),
              h('th', 'ID + noise'),
            ]),
            ...methods.map((m) => {
              const p = last(m);
              return h('tr', { class: `demo-row-${m.toLowerCase()}` }, [
                h('td', m),
                h('td', p ? String(p.epoch) : '–'),
                h('td', pct(p?.id)),
                h('td', pct(p?.ood)),
                h('td', pct(p?.corrupted)),
              ]);
            }),
          ]),
        ],
      );
    };
  },
});
