import { describe, expect, it, vi } from 'vitest';
import { type BackendCandidate, selectBackend } from '../src/backend-selection';
import { RobustFtError } from '../src/errors';

type Name = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** A fake candidate: `skip` makes check() return a reason, `fail` makes activate() throw. */
function fake(
  name: Name,
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
  } satisfies BackendCandidate<Name>;
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

describe('selectBackend: messages, defaults and the log line', () => {
  it('errors say exactly what was forced, by what, and why it could not start', async () => {
    const outside = await rejection(
      selectBackend([fake('cpu'), fake('wasm')], { forced: 'webgl', logger: null }),
    );
    expect(outside.message).toBe(
      "backend 'webgl' (forced by options.force) is not among the candidates cpu, wasm",
    );
    expect(outside.argument).toBe('options.force');
    const byQuery = await rejection(
      selectBackend([fake('cpu')], { forced: 'webgl', forcedBy: '?backend=', logger: null }),
    );
    expect(byQuery.message).toBe("backend 'webgl' (forced by ?backend=) is not among the candidates cpu");
    expect(byQuery.argument).toBe('?backend=');
    const failed = await rejection(
      selectBackend([fake('wasm', { fail: 'no heap' })], { forced: 'wasm', logger: null }),
    );
    expect(failed.message).toBe("backend 'wasm' was forced by options.force but cannot start: no heap");
    expect(failed.argument).toBe('options.force');
    const skipped = await rejection(
      selectBackend([fake('wasm', { skip: 'no SIMD' })], { forced: 'wasm', logger: null }),
    );
    expect(skipped.message).toBe("backend 'wasm' was forced by options.force but cannot start: no SIMD");
    expect(skipped.cause).toBeUndefined();
    const none = await rejection(
      selectBackend([fake('webgl', { skip: 'no context' }), fake('cpu', { fail: 'boom' })], { logger: null }),
    );
    expect(none.message).toBe('no backend could start: webgl: no context; cpu: boom');
    expect(none.argument).toBeUndefined();
  });

  it('a check that throws is a skip reason, and a thrown non-Error is stringified', async () => {
    const throwing: BackendCandidate<Name> = {
      name: 'webgpu',
      check: () => Promise.reject(new Error('adapter request threw')),
      activate: async () => [],
    };
    const odd: BackendCandidate<Name> = {
      name: 'webgl',
      check: async () => null,
      activate: () => Promise.reject('lost'),
    };
    const choice = await selectBackend([throwing, odd, fake('cpu')], { logger: null });
    expect(choice.reasons).toEqual({ webgpu: 'adapter request threw', webgl: 'lost' });
  });

  it('logs to console by default, once per distinct line, naming the forcing source', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    try {
      await selectBackend([fake('webgl', { skip: 'console-default-test' }), fake('cpu', { patched: ['K'] })]);
      await selectBackend([fake('webgl', { skip: 'console-default-test' }), fake('cpu', { patched: ['K'] })]);
      expect(info.mock.calls).toEqual([
        ["robust-ft: using backend 'cpu' with training kernels [K]; skipped webgl: console-default-test"],
      ]);
    } finally {
      info.mockRestore();
    }
    const { lines, logger } = recorder();
    await selectBackend([fake('webgl'), fake('wasm', { patched: ['P'] })], {
      forced: 'wasm',
      forcedBy: 'ROBUST_FT_BACKEND',
      logger,
    });
    expect(lines).toEqual([
      "robust-ft: using backend 'wasm' (forced by ROBUST_FT_BACKEND) with training kernels [P]",
    ]);
  });

  it('with no candidates at all nothing could start (not a forcing error), and logger: null never reaches console', async () => {
    const empty = await rejection(selectBackend([], { logger: null }));
    expect(empty.message).toBe('no backend could start: ');
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    try {
      await selectBackend([fake('webgl', { skip: 'silent-null-logger-test' }), fake('cpu')], {
        logger: null,
      });
      expect(info).not.toHaveBeenCalled();
    } finally {
      info.mockRestore();
    }
  });
});
