/**
 * The live demo: fine-tunes two copies of a pre-trained model in the reader's tab (AdamW vs FTP) on
 * the best backend available and plots ID and OOD accuracy per epoch as they arrive. `data-status`
 * (idle | running | done | error) and `data-points` let the Chromium test follow a run.
 */
import { withBase } from 'vitepress';
import { defineComponent, h, ref } from 'vue';
import type { BackendName } from '../../src/backends';
import type { DemoPoint } from '../../src/demo/run-demo';

const COLORS: Record<string, string> = { AdamW: '#d62728', FTP: '#1f77b4' };
const W = 560;
const H = 260;
const PAD = { left: 44, right: 16, top: 12, bottom: 30 };

function chart(points: DemoPoint[], epochs: number) {
  const x = (e: number) => PAD.left + (e / Math.max(1, epochs)) * (W - PAD.left - PAD.right);
  // Accuracy axis from 0.5 to 1: the interesting range for this task.
  const y = (a: number) => PAD.top + ((1 - a) / 0.5) * (H - PAD.top - PAD.bottom);
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
    );
    children.push(
      h('text', { x: PAD.left - 6, y: y(tick) + 4, 'text-anchor': 'end', 'font-size': 11 }, tick.toFixed(1)),
    );
  }
  children.push(h('text', { x: W / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 11 }, 'epoch'));
  for (const method of Object.keys(COLORS)) {
    const mine = points.filter((p) => p.method === method);
    for (const [key, dash] of [
      ['id', ''],
      ['ood', '5 4'],
    ] as const) {
      const coords = mine
        .map((p) => `${x(p.epoch).toFixed(1)},${y(Math.max(0.5, p[key])).toFixed(1)}`)
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
    { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': 'ID and OOD accuracy per epoch' },
    children,
  );
}

export default defineComponent({
  name: 'FineTuneDemo',
  setup() {
    const status = ref<'idle' | 'running' | 'done' | 'error'>('idle');
    const message = ref('');
    const epochs = ref(30);
    const points = ref<DemoPoint[]>([]);

    async function start() {
      status.value = 'running';
      points.value = [];
      message.value = 'loading tfjs…';
      try {
        const [{ default: modules }, { activateBackend, bestBackend }, { runDemo }] = await Promise.all([
          import('virtual:snippet-modules'),
          import('../../src/backends'),
          import('../../src/demo/run-demo'),
        ]);
        const tf = (await modules['@tensorflow/tfjs']?.()) as typeof import('@tensorflow/tfjs');
        const loadOptimizers = modules['@robust-ft/optimizers'];
        if (!loadOptimizers) throw new Error('@robust-ft/optimizers is not available to the site');
        const { adamw, ftp } = (await loadOptimizers()) as typeof import('@robust-ft/optimizers');
        const forced = new URLSearchParams(window.location.search).get('backend');
        let backend: BackendName;
        if (forced === 'webgl' || forced === 'wasm' || forced === 'cpu' || forced === 'webgpu') {
          await activateBackend(tf, forced, withBase('/tfjs-wasm/'));
          backend = forced;
        } else {
          backend = await bestBackend(tf, withBase('/tfjs-wasm/'));
        }
        message.value = `pre-training on ${backend}…`;
        const started = performance.now();
        const result = await runDemo(tf, {
          epochs: epochs.value,
          optimizers: {
            AdamW: () => adamw({ learningRate: 0.01 }),
            FTP: () => ftp({ learningRate: 0.01 }),
          },
          onPoint: (p) => {
            points.value = [...points.value, p];
            message.value = `fine-tuning on ${backend}: epoch ${p.epoch} of ${epochs.value}`;
          },
          yieldEvery: () => new Promise((resolve) => requestAnimationFrame(() => resolve())),
        });
        message.value = `done on ${backend} in ${((performance.now() - started) / 1000).toFixed(1)} s (pre-trained model: ${(result.pretrainAccuracy * 100).toFixed(1)} % on its source task)`;
        status.value = 'done';
      } catch (e) {
        message.value = `✗ ${e instanceof Error ? e.message : String(e)}`;
        status.value = 'error';
      }
    }

    const last = (method: string) => points.value.filter((p) => p.method === method).at(-1);

    return () =>
      h('div', { class: 'fine-tune-demo', 'data-status': status.value, 'data-points': points.value.length }, [
        h('div', { class: 'live-code-bar' }, [
          h(
            'button',
            { class: 'live-code-run demo-start', disabled: status.value === 'running', onClick: start },
            status.value === 'running' ? 'Training…' : '▶ Start',
          ),
          h('label', [
            'epochs ',
            h(
              'select',
              {
                value: epochs.value,
                onChange: (e: Event) => {
                  epochs.value = Number((e.target as HTMLSelectElement).value);
                },
              },
              [3, 10, 30, 60].map((n) => h('option', { value: n }, String(n))),
            ),
          ]),
          h('span', { class: 'live-code-note demo-message' }, message.value),
        ]),
        chart(points.value, epochs.value),
        h('div', { class: 'demo-legend' }, [
          ...Object.entries(COLORS).map(([m, c]) =>
            h('span', { style: { color: c } }, `${m}: solid = ID, dashed = OOD`),
          ),
        ]),
        h('table', { class: 'demo-table' }, [
          h('tr', [h('th', 'method'), h('th', 'epoch'), h('th', 'ID accuracy'), h('th', 'OOD accuracy')]),
          ...Object.keys(COLORS).map((m) => {
            const p = last(m);
            return h('tr', { class: `demo-row-${m.toLowerCase()}` }, [
              h('td', m),
              h('td', p ? String(p.epoch) : '–'),
              h('td', p ? `${(p.id * 100).toFixed(1)} %` : '–'),
              h('td', p ? `${(p.ood * 100).toFixed(1)} %` : '–'),
            ]);
          }),
        ]),
      ]);
  },
});
