import { describe, expect, it } from 'vitest';
import { PRECHECK_MAX, precheckGroups } from '../src/fused/webgpu/kernels';
import { FINITE_GROUP, finiteCheck } from '../src/fused/webgpu/shaders';

/**
 * Which tensors a guarded WebGPU AdamW/L2-SP/FTP call tests before their Adam pass (no restore for them)
 * and how the check passes group them. The values are kept bit-identical either way (fused-guard's
 * edge test poisons tensors on both sides of the bound); what this pins is the plan.
 */
describe('WebGPU guard: small gradients checked before their pass', () => {
  it('takes every non-empty tensor of at most 2^14 elements, seven to a check pass, in order', () => {
    expect(PRECHECK_MAX).toBe(16384);
    expect(FINITE_GROUP).toBe(7);
    expect(precheckGroups([0, 1, 16384, 16385, 3, 262144])).toEqual([[1, 2, 4]]);
    const sizes = Array.from({ length: 16 }, (_, i) => (i === 5 ? 20000 : i + 1));
    expect(precheckGroups(sizes)).toEqual([[0, 1, 2, 3, 4, 6, 7], [8, 9, 10, 11, 12, 13, 14], [15]]);
    expect(precheckGroups([])).toEqual([]);
    expect(precheckGroups([16385, 0])).toEqual([]);
  });

  it("the call-flag check stores 1 into the call's flag texture; the 0-d flag's check stores 0.0", () => {
    const call = finiteCheck(3, 'callFlag');
    expect(call.key).toBe('finiteCheckCall3');
    expect(call.bindings).toEqual(['x0', 'x1', 'x2']);
    expect(call.flag).toBe('write');
    expect(call.code).toContain('var flag: texture_storage_2d<r32uint, write>');
    expect(call.code).toContain('textureStore(flag, vec2<i32>(0, 0), vec4<u32>(1u, 0u, 0u, 0u));');
    expect(call.code).not.toContain('atomic');
    const flag = finiteCheck(3);
    expect(flag.key).toBe('finiteCheck3');
    expect(flag.bindings).toEqual(['x0', 'x1', 'x2', 'flag']);
    expect(flag.flag).toBeUndefined();
    expect(flag.code).toContain('atomicStore(&flag[0], 0u);');
    expect(finiteCheck(3, 'callFlag')).toBe(call);
  });
});
