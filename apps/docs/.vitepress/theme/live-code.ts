/**
 * The live block a ```` ```ts run ```` fence turns into: the highlighted code (server-rendered, so the
 * page reads fine without JavaScript), an Edit toggle that swaps in a textarea, a backend picker and a
 * Run button. Output streams into a <pre>; `data-status` (idle | running | ok | mismatch | error) lets
 * the Chromium test wait for a result without guessing.
 *
 * Written with render functions instead of an SFC so `tsc` type-checks it like the rest of the site.
 */
import { withBase } from 'vitepress';
import { defineComponent, h, onMounted, ref } from 'vue';
import { activateBackend, BACKENDS, type BackendName, isBackendName } from '../../src/backends';
import { compareOutput, splitLines } from '../../src/snippets';

const STORAGE_KEY = 'robust-ft-docs-backend';

/** One picker choice for the whole site: switching it in one block switches the others. */
const sharedBackend = ref<BackendName>('webgl');
/**
 * False while the server-rendered markup is hydrated. Vue's hydration does not patch a <select>'s
 * value, so the server's markup (first option shown) and the state could disagree: the select is
 * re-created once mounted (its `key` changes), from the state the reader's saved choice set.
 */
const hydrated = ref(false);

export default defineComponent({
  name: 'LiveCode',
  props: {
    snippetId: { type: String, required: true },
    /** encodeURIComponent-ed source, so braces and quotes survive the Vue template compiler. */
    code: { type: String, required: true },
    expected: { type: String, default: '' },
  },
  setup(props, { slots }) {
    const source = decodeURIComponent(props.code);
    const expected = props.expected ? splitLines(decodeURIComponent(props.expected)) : [];
    const editing = ref(false);
    const edited = ref(source);
    const status = ref<'idle' | 'running' | 'ok' | 'mismatch' | 'error'>('idle');
    const output = ref<string[]>([]);
    const note = ref('');

    onMounted(() => {
      const saved = window.localStorage.getItem(STORAGE_KEY) ?? '';
      if (isBackendName(saved)) sharedBackend.value = saved;
      hydrated.value = true;
    });

    async function run() {
      status.value = 'running';
      output.value = [];
      note.value = '';
      const backend = sharedBackend.value;
      let web: typeof import('@robust-ft/backend-web') | undefined;
      try {
        // Loaded on first Run: tfjs, the packages and sucrase stay out of the page's initial bundle.
        const [{ default: modules }, { runSnippet }] = await Promise.all([
          import('virtual:snippet-modules'),
          import('../../src/run-snippet'),
        ]);
        const tf = (await modules['@tensorflow/tfjs']?.()) as typeof import('@tensorflow/tfjs');
        web = (await modules['@robust-ft/backend-web']?.()) as typeof import('@robust-ft/backend-web');
        await activateBackend(tf, web, backend, withBase('/tfjs-wasm/'));
        const code = editing.value ? edited.value : source;
        const result = await runSnippet(code, { modules, onLine: (line) => output.value.push(line) });
        if (result.error) {
          // A lost GPU says so (DEVICE_LOST), and the next Run rebuilds the backend.
          const error = web.explainBackendError(result.error, backend) as Error;
          output.value.push(`✗ ${error.name}: ${error.message}`);
          status.value = 'error';
        } else {
          const edits = code !== source;
          const mismatch = expected.length > 0 && !edits ? compareOutput(result.lines, expected) : null;
          status.value = mismatch ? 'mismatch' : 'ok';
          note.value = `${mismatch ? `output differs from the expected one (${mismatch}) · ` : ''}${backend}, ${Math.round(result.ms)} ms`;
        }
      } catch (caught) {
        const e = web ? web.explainBackendError(caught, backend) : caught;
        output.value.push(`✗ ${e instanceof Error ? e.message : String(e)}`);
        status.value = 'error';
        note.value = backend;
      }
    }

    function pick(event: Event) {
      const value = (event.target as HTMLSelectElement).value;
      if (!isBackendName(value)) return;
      sharedBackend.value = value;
      window.localStorage.setItem(STORAGE_KEY, value);
    }

    return () =>
      h(
        'div',
        {
          class: 'live-code',
          id: `snippet-${props.snippetId}`,
          'data-snippet-id': props.snippetId,
          'data-status': status.value,
        },
        [
          editing.value
            ? h('textarea', {
                class: 'live-code-editor',
                spellcheck: false,
                rows: Math.min(30, edited.value.split('\n').length + 1),
                value: edited.value,
                onInput: (e: Event) => {
                  edited.value = (e.target as HTMLTextAreaElement).value;
                },
              })
            : slots.default?.(),
          h('div', { class: 'live-code-bar' }, [
            h(
              'button',
              { class: 'live-code-run', disabled: status.value === 'running', onClick: run },
              status.value === 'running' ? 'Running…' : '▶ Run',
            ),
            h('label', { class: 'live-code-backend' }, [
              'backend ',
              h(
                'select',
                {
                  key: hydrated.value ? 'client' : 'server',
                  value: sharedBackend.value,
                  onChange: pick,
                  'aria-label': 'tfjs backend',
                },
                // `selected` makes the server's markup show the same choice as the state.
                BACKENDS.map((b) => h('option', { value: b, selected: b === sharedBackend.value }, b)),
              ),
            ]),
            h(
              'button',
              { class: 'live-code-edit', onClick: () => (editing.value = !editing.value) },
              editing.value ? 'Show original' : 'Edit',
            ),
            note.value ? h('span', { class: 'live-code-note' }, note.value) : null,
          ]),
          output.value.length > 0 || status.value !== 'idle'
            ? h('pre', { class: `live-code-output status-${status.value}` }, output.value.join('\n'))
            : null,
          expected.length > 0 && status.value === 'idle'
            ? h('details', { class: 'live-code-expected' }, [
                h('summary', 'Expected output'),
                h('pre', expected.join('\n')),
              ])
            : null,
        ],
      );
  },
});
