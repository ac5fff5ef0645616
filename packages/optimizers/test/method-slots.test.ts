import './setup-backend';
import { RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { axisMap } from '../src/layout';
import { checkSlot, declareMethod, readSlots } from '../src/method';

/*
 * The declared-method builders' state plumbing on damaged or partial trees: what `readSlots` makes of
 * a checkpoint that dropped or mangled a slot map, and `checkSlot`'s shape test, which a slot of the
 * right rank-prefix but the wrong rank must fail.
 */

const DECL = declareMethod({
  label: 'probe',
  kind: 'gradient',
  settings: () => ({}),
  slots: { memory: { shape: 'param' }, radius: { shape: 'row' }, steps: { shape: 'counter' } },
  counter: true,
  step: (i) => ({ value: i.grad, slots: { memory: i.grad, radius: tf.scalar(1), steps: 1 } }),
});
const GROUPED = declareMethod({
  label: 'grouped',
  kind: 'gradient',
  settings: () => ({}),
  slots: { memory: { shape: 'param' } },
  group: 'probeState',
  step: (i) => ({ value: i.grad, slots: { memory: i.grad } }),
});

describe('readSlots on partial or damaged state', () => {
  it('a missing, null, numeric or tensor slot map reads as an empty map; the counter defaults to 1', () => {
    const t = tf.scalar(1);
    const maps = { a: t };
    for (const node of [
      undefined,
      {},
      { memory: null },
      { memory: 3 },
      { memory: t },
      { t: 'x' },
    ] as never[]) {
      const r = readSlots(DECL, node);
      expect(r.maps.memory).toEqual({});
      expect(r.t).toBe(1);
    }
    const r = readSlots(DECL, { memory: maps, t: 4 } as never);
    expect(r.maps.memory).toBe(maps);
    expect(r.t).toBe(4);
    t.dispose();
  });

  it('a grouped method reads its slots under its group key (and an absent group as empty)', () => {
    const maps = { w: 1 };
    expect(readSlots(GROUPED, { probeState: { memory: maps } } as never).maps.memory).toBe(maps);
    expect(readSlots(GROUPED, { memory: maps } as never).maps.memory).toEqual({});
    expect(readSlots(GROUPED, undefined).maps.memory).toEqual({});
    expect(readSlots(GROUPED, { probeState: { memory: maps }, t: 7 } as never).t).toBe(7);
  });
});

describe('checkSlot', () => {
  const axes = axisMap('tfjs', 'dense/kernel', [2, 3]);

  it('a param slot must have the parameter shape: a rank prefix or a longer shape is a STATE_MISMATCH', () => {
    for (const shape of [[2], [2, 3, 1], [3, 2]]) {
      const v = tf.zeros(shape);
      let error: unknown;
      try {
        checkSlot(DECL, 'memory', 'dense/kernel', v, [2, 3], axes);
      } catch (e) {
        error = e;
      }
      expect(error, String(shape)).toBeInstanceOf(RobustFtError);
      const e = error as RobustFtError;
      expect(e.code).toBe('STATE_MISMATCH');
      expect(e.argument).toBe('state.memory["dense/kernel"]');
      expect(e.expected).toBe('shape [2, 3]');
      expect(e.message).toBe(
        `the param state memory of "dense/kernel" has shape [${shape.join(', ')}], not shape [2, 3]`,
      );
      v.dispose();
    }
    const ok = tf.zeros([2, 3]);
    expect(() => checkSlot(DECL, 'memory', 'dense/kernel', ok, [2, 3], axes)).not.toThrow();
    expect(() => checkSlot(DECL, 'memory', 'dense/kernel', undefined, [2, 3], axes)).not.toThrow();
    ok.dispose();
  });

  it("a counter slot must be a number ('a number'); a row slot names the layout hint", () => {
    const t = tf.scalar(2);
    let error: unknown;
    try {
      checkSlot(DECL, 'steps', 'dense/kernel', t, [2, 3], axes);
    } catch (e) {
      error = e;
    }
    const e = error as RobustFtError;
    expect(e.code).toBe('STATE_MISMATCH');
    expect(e.expected).toBe('a number');
    expect(e.message).toBe('the counter state steps of "dense/kernel" has shape [], not a number');
    expect(() => checkSlot(DECL, 'steps', 'dense/kernel', 3, [2, 3], axes)).not.toThrow();
    const wrongRows = tf.zeros([2, 1]);
    try {
      checkSlot(DECL, 'radius', 'dense/kernel', wrongRows, [2, 3], axes);
    } catch (err) {
      error = err;
    }
    expect((error as RobustFtError).expected).toBe('shape [1, 3]');
    expect((error as Error).message).toBe(
      'the row state radius of "dense/kernel" has shape [2, 1], not shape [1, 3]: restored from state saved ' +
        'with another layout (before rows were output units they were read along axis 0)? Use that layout, ' +
        'or start from fresh state',
    );
    const text = 'x';
    try {
      checkSlot(DECL, 'memory', 'dense/kernel', text, [2, 3], axes);
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toBe(
      'the param state memory of "dense/kernel" has string, not shape [2, 3]',
    );
    tf.dispose([t, wrongRows]);
  });
});
