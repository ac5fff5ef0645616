import { type BackendCandidate, RobustFtError, selectBackend } from '@robust-ft/core';
import { describe, expect, it } from 'vitest';
import { parseBackendName, type WebBackendName } from '../src/select-backend';
import { orderCandidates, resolveForcedBackend } from '../src/use-best-backend';
import { webCandidates } from '../src/web-candidates';

/** A fake candidate: `skip` makes check() return a reason, `fail` makes activate() throw. */
function fake(
  name: WebBackendName,
  how: { skip?: string; fail?: string; patched?: string[] } = {},
  calls: string[] = [],
) {
  return {
    name,
    async check({ forced }: { forced: boolean }) {
      calls.push(`check ${name}${forced ? ' forced' : ''}`);
      return how.skip ?? null;
    },
    async activate() {
      calls.push(`activate ${name}`);
      if (how.fail !== undefined) throw new Error(how.fail);
      return how.patched ?? [];
    },
  } satisfies BackendCandidate<WebBackendName>;
}

function recorder() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(m) } };
}

async function rejection(p: Promise<unknown>): Promise<RobustFtError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!RobustFtError.isInstance(error)) throw new Error(`expected a RobustFtError, got ${String(error)}`);
  return error;
}

describe('selectBackend', () => {
  it('takes the first candidate that starts and records why the better ones were skipped', async () => {
    const calls: string[] = [];
    const { lines, logger } = recorder();
    const choice = await selectBackend(
      [
        fake('webgpu', { skip: 'no adapter' }, calls),
        fake('webgl', { fail: 'context lost' }, calls),
        fake('wasm', {}, calls),
        fake('cpu', {}, calls),
      ],
      { logger },
    );
    expect(choice).toEqual({
      name: 'wasm',
      reasons: { webgpu: 'no adapter', webgl: 'context lost' },
      patchedKernels: [],
    });
    // cpu is never touched once wasm started; webgpu is never activated after its check failed.
    expect(calls).toEqual(['check webgpu', 'check webgl', 'activate webgl', 'check wasm', 'activate wasm']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe("robust-ft: using backend 'wasm'; skipped webgpu: no adapter; webgl: context lost");
  });

  it('logs nothing with logger: null, and reports no reasons when the first candidate starts', async () => {
    const choice = await selectBackend([fake('webgl', { patched: ['K'] }), fake('cpu')], { logger: null });
    expect(choice).toEqual({ name: 'webgl', reasons: {}, patchedKernels: ['K'] });
  });

  it('logs a repeated identical decision only once, and a different one again', async () => {
    const { lines, logger } = recorder();
    const cands = [fake('webgpu', { skip: 'repeat-test' }), fake('cpu', { patched: ['A', 'B'] })];
    await selectBackend(cands, { logger });
    await selectBackend(cands, { logger });
    await selectBackend([fake('webgpu', { skip: 'other reason' }), fake('cpu')], { logger });
    expect(lines).toEqual([
      "robust-ft: using backend 'cpu' with training kernels [A, B]; skipped webgpu: repeat-test",
      "robust-ft: using backend 'cpu'; skipped webgpu: other reason",
    ]);
  });

  it('throws BACKEND_UNAVAILABLE listing every reason when nothing starts', async () => {
    const error = await rejection(
      selectBackend([fake('wasm', { skip: 'no WebAssembly' }), fake('cpu', { fail: 'boom' })], {
        logger: null,
      }),
    );
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.message).toContain('wasm: no WebAssembly');
    expect(error.message).toContain('cpu: boom');
  });

  it('a forced backend is the only one tried, and its failure is loud, not a fall-through', async () => {
    const calls: string[] = [];
    const error = await rejection(
      selectBackend(
        [fake('webgpu', {}, calls), fake('webgl', { fail: 'no context' }, calls), fake('cpu', {}, calls)],
        {
          forced: 'webgl',
          forcedBy: '?backend=',
          logger: null,
        },
      ),
    );
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.argument).toBe('?backend=');
    expect(error.message).toContain('no context');
    expect(error.cause).toBeInstanceOf(Error);
    expect(calls).toEqual(['check webgl forced', 'activate webgl']);
  });

  it('a forced backend that checks as unavailable fails with the check reason', async () => {
    const error = await rejection(
      selectBackend([fake('webgpu', { skip: 'navigator.gpu is missing' }), fake('cpu')], {
        forced: 'webgpu',
        logger: null,
      }),
    );
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.message).toContain('navigator.gpu is missing');
  });

  it('a forced backend outside the candidate list fails loudly', async () => {
    const error = await rejection(selectBackend([fake('cpu')], { forced: 'wasm', logger: null }));
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
  });

  it('a successful forced choice is logged as forced', async () => {
    const { lines, logger } = recorder();
    await selectBackend([fake('webgpu'), fake('cpu')], { forced: 'cpu', logger });
    expect(lines).toEqual(["robust-ft: using backend 'cpu' (forced by options.force)"]);
  });
});

describe('option parsing', () => {
  it('parseBackendName accepts the four names (any case), treats auto/empty as no forcing, rejects the rest', () => {
    expect(parseBackendName('webgl', 'x')).toBe('webgl');
    expect(parseBackendName(' WebGPU ', 'x')).toBe('webgpu');
    expect(parseBackendName('webgl2', 'x')).toBe('webgl');
    expect(parseBackendName('auto', 'x')).toBeUndefined();
    expect(parseBackendName('', 'x')).toBeUndefined();
    expect(parseBackendName(undefined, 'x')).toBeUndefined();
    expect(() => parseBackendName('tensorflow', 'options.force')).toThrow(/options\.force must be one of/);
    expect(() => parseBackendName('metal', 'x')).toThrow(RobustFtError);
  });

  it('options.force wins over the query string; the query string forces when the option is absent', () => {
    const query = (p: string) => (p === 'backend' ? 'wasm' : null);
    expect(resolveForcedBackend({ force: 'cpu' }, query)).toEqual({
      forced: 'cpu',
      forcedBy: 'options.force',
    });
    expect(resolveForcedBackend({}, query)).toEqual({ forced: 'wasm', forcedBy: '?backend=' });
    expect(resolveForcedBackend({ queryParam: null }, query).forced).toBeUndefined();
    expect(resolveForcedBackend({ queryParam: 'tfBackend' }, query).forced).toBeUndefined();
    expect(resolveForcedBackend({ force: 'auto' }, query).forced).toBeUndefined();
  });

  it('a bad query value names the URL parameter', () => {
    try {
      resolveForcedBackend({}, () => 'gpu');
      expect.unreachable();
    } catch (error) {
      expect(RobustFtError.isInstance(error) && error.code).toBe('INVALID_ARGUMENT');
      expect((error as Error).message).toContain('?backend=');
    }
  });

  it('orderCandidates reorders and filters, and rejects unknown names by index', () => {
    const all = [fake('webgpu'), fake('webgl'), fake('wasm'), fake('cpu')];
    expect(orderCandidates(all, ['cpu', 'wasm']).map((c) => c.name)).toEqual(['cpu', 'wasm']);
    expect(orderCandidates(all, undefined).map((c) => c.name)).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
    expect(() => orderCandidates(all, [])).toThrow(/options\.candidates/);
    expect(() => orderCandidates(all, ['cpu', 'metal' as WebBackendName])).toThrow(
      /options\.candidates\[1\]/,
    );
  });

  it('webCandidates rejects a wasm path without a trailing slash', () => {
    expect(() => webCandidates({ wasmPath: '/static/wasm' })).toThrow(/options\.wasmPath/);
    for (const threads of [0, 2.5, -1]) {
      expect(() => webCandidates({ threads })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', argument: 'options.threads' }),
      );
    }
    expect(webCandidates({ threads: 4 }).length).toBeGreaterThan(0);
    expect(webCandidates({ wasmPath: '/static/wasm/' }).map((c) => c.name)).toEqual([
      'webgpu',
      'webgl',
      'wasm',
      'cpu',
    ]);
  });

  it('in Node (no navigator.gpu, no canvas) the real webgpu and webgl checks give reasons, not throws', async () => {
    const [webgpu, webgl] = webCandidates();
    const gpuReason = await webgpu!.check({ forced: false });
    const glReason = await webgl!.check({ forced: false });
    // Node 20 has no navigator.gpu; both must explain themselves instead of failing the selection.
    expect(gpuReason).toMatch(/navigator\.gpu/);
    expect(glReason).toMatch(/WebGL/);
  });
});
