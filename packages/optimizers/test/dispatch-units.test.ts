import './setup-backend';
import { RobustFtError } from '@robust-ft/core';
import { describe, expect, it } from 'vitest';
import { adamwTransformation } from '../src/adamw';
import { adamSlot, withFusedMethod } from '../src/fused/dispatch';
import { declareMethod } from '../src/method';

/*
 * The generic dispatch's own decisions, below the optimizers: where it finds the Adam state (by slot
 * names, never by chain position, and only when there is exactly one), and the declaration it refuses.
 */

const adamLike = () => ({ mu: {}, nu: {}, count: {} });

describe('adamSlot: the one Adam core of a state tree', () => {
  it('is found by its slot names under any key', () => {
    const a = adamLike();
    expect(adamSlot({ 0: a })).toEqual({ key: '0', adam: a });
    expect(adamSlot({ scale: 3 as never, moments: a })).toEqual({ key: 'moments', adam: a });
  });

  it('none, or more than one, gives null (the composed path then runs)', () => {
    expect(adamSlot(undefined)).toBeNull();
    expect(adamSlot({})).toBeNull();
    expect(adamSlot({ first: adamLike(), second: adamLike() })).toBeNull();
    // Slot names present but not maps, or missing: not an Adam core.
    expect(adamSlot({ a: { mu: {}, nu: {}, count: 1 } as never })).toBeNull();
    expect(adamSlot({ a: { mu: {}, nu: {} } as never })).toBeNull();
    expect(adamSlot({ a: { mu: null, nu: {}, count: {} } as never })).toBeNull();
    expect(adamSlot({ a: 'adam' as never, b: 2 as never })).toBeNull();
  });

  it('entries that are null or undefined are skipped, not read', () => {
    const a = adamLike();
    expect(adamSlot({ gone: undefined as never, empty: null as never, adam: a })).toEqual({
      key: 'adam',
      adam: a,
    });
    expect(adamSlot({ empty: null as never })).toBeNull();
    expect(adamSlot({ gone: undefined as never })).toBeNull();
  });
});

describe('withFusedMethod refuses a chained declaration that keeps slots', () => {
  it('UNSUPPORTED naming declaration.fused.chained: a chain element has no state of its own to fuse', () => {
    const decl = declareMethod({
      label: 'chainedWithSlots',
      kind: 'gradient',
      settings: () => ({}),
      slots: { memory: { shape: 'param' } },
      step: (i) => ({ value: i.grad, slots: { memory: i.grad } }),
      fused: { kernel: 'adamw', chained: true, inputs: [], outputs: [], attrs: () => ({}) },
    });
    let error: unknown;
    try {
      withFusedMethod(decl, adamwTransformation(), undefined, {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weightDecay: 0,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RobustFtError);
    const e = error as RobustFtError;
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.argument).toBe('declaration.fused.chained');
    expect(e.message).toBe('chainedWithSlots: a chained fused method keeps no slots');
  });
});
