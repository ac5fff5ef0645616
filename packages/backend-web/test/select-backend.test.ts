import { type BackendCandidate, RobustFtError } from '@robust-ft/core';
import { describe, expect, it } from 'vitest';
import { parseBackendName, type WebBackendName } from '../src/select-backend';
import { orderCandidates, resolveForcedBackend } from '../src/use-best-backend';
import { browserKernelWorker, webCandidates } from '../src/web-candidates';

// selectBackend itself (order, skip reasons, the one log line, forcing) is tested in @robust-ft/core's
// test/backend-selection.test.ts; here only the browser package's option parsing and candidates.
const fake = (name: WebBackendName): BackendCandidate<WebBackendName> => ({
  name,
  check: async () => null,
  activate: async () => [],
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

describe('helper workers for the wasm kernels', () => {
  it('start only on a cross-origin-isolated page (the only place the wasm heap is shared)', () => {
    // Node has Worker-less globals and no crossOriginIsolated: no helper, the kernels stay on one thread.
    expect(browserKernelWorker('/* helper */')).toBeNull();
  });
});
