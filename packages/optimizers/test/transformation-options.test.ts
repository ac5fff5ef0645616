import { type GradientTransformation, RobustOptimizer, type StateTree } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  adamw,
  digrapGradient,
  digrapTransformation,
  ftp,
  ftpTransformation,
  setTpgmValidationLoss,
  sgdTransformation,
  tpgm,
  tpgmTransformation,
} from '../src/index';
import './setup-backend';
import { caught } from './typed-error';

/*
 * The transformation builders (`ftpTransformation`, `tpgmTransformation`, `digrapTransformation`,
 * `digrapGradient`) are public and do not go through the factories' option schemas: their own checks
 * are the only ones, so they are pinned here (code, argument, expected form and message).
 */

const LAYOUT_EXPECTED = "'tfjs', 'torch' or a function (name, shape) => layout";

describe('layout outside the factories', () => {
  it('ftp/tpgm/digrap transformations refuse an unknown layout, naming options.layout', () => {
    const builders: [string, () => unknown][] = [
      ['ftpTransformation', () => ftpTransformation(sgdTransformation({}), { layout: 'rows' as never })],
      ['tpgmTransformation', () => tpgmTransformation(sgdTransformation({}), { layout: 'rows' as never })],
      ['digrapGradient', () => digrapGradient({ layout: 'rows' as never })],
    ];
    for (const [label, build] of builders) {
      const e = caught(build);
      expect(e.code, label).toBe('INVALID_ARGUMENT');
      expect(e.argument, label).toBe('options.layout');
      expect(e.expected, label).toBe(LAYOUT_EXPECTED);
      expect(e.message, label).toBe(`options.layout must be ${LAYOUT_EXPECTED} (received "rows")`);
    }
  });

  it("the layouts they accept: 'tfjs', 'torch', a function, or none", () => {
    for (const layout of [undefined, 'tfjs', 'torch', () => 'torch' as const] as const) {
      expect(() => ftpTransformation(sgdTransformation({}), { layout })).not.toThrow();
      expect(() => digrapGradient({ layout })).not.toThrow();
    }
  });

  it("a saved config's layout must be 'tfjs' or 'torch'", () => {
    const opt = ftp({ layout: 'torch' });
    const config = opt.getConfig();
    const options = JSON.parse(config.options as string) as Record<string, unknown>;
    expect(options.layout).toBe('torch');
    const back = RobustOptimizer.fromConfig(RobustOptimizer, config) as RobustOptimizer;
    expect(JSON.parse(back.getConfig().options as string).layout).toBe('torch');
    for (const bad of ['rows', 3]) {
      const damaged = { ...config, options: JSON.stringify({ ...options, layout: bad }) };
      const e = caught(() => RobustOptimizer.fromConfig(RobustOptimizer, damaged));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.argument).toBe('options.layout');
      expect(e.expected).toBe("'tfjs' or 'torch' in a saved config");
    }
    // Absent or null: the default layout, as a fresh ftp() records it.
    const fresh = ftp();
    const defaultLayout = JSON.parse(fresh.getConfig().options as string).layout;
    expect(defaultLayout).toBe('tfjs');
    for (const none of [undefined, null]) {
      const plain = { ...config, options: JSON.stringify({ ...options, layout: none }) };
      const o = RobustOptimizer.fromConfig(RobustOptimizer, plain) as RobustOptimizer;
      expect(JSON.parse(o.getConfig().options as string).layout).toBe(defaultLayout);
      o.dispose();
    }
    fresh.dispose();
    opt.dispose();
    back.dispose();
  });
});

describe("TPGM's validation loss", () => {
  it('tpgmTransformation refuses a validation loss that is not a function', () => {
    const e = caught(() => tpgmTransformation(sgdTransformation({}), { validationLoss: 3 as never }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.argument).toBe('options.validationLoss');
    expect(e.expected).toBe('a function (params) => tf.Scalar');
    expect(e.message).toBe('options.validationLoss must be a function (params) => tf.Scalar (received 3)');
  });

  it('setTpgmValidationLoss: only on a TPGM optimizer, only a function; it replaces the held one', () => {
    const other = adamw();
    const e1 = caught(() => setTpgmValidationLoss(other, () => tf.scalar(0)));
    expect(e1.code).toBe('INVALID_ARGUMENT');
    expect(e1.argument).toBe('optimizer');
    expect(e1.expected).toBe('an optimizer built by tpgm()');
    expect(e1.message).toBe('optimizer must be an optimizer built by tpgm() (received "object")');
    const e0 = caught(() => setTpgmValidationLoss(undefined as never, () => tf.scalar(0)));
    expect(e0.message).toBe('optimizer must be an optimizer built by tpgm() (received "undefined")');

    const opt = tpgm({ learningRate: 0.1 });
    const e2 = caught(() => setTpgmValidationLoss(opt, 'loss' as never));
    expect(e2.code).toBe('INVALID_ARGUMENT');
    expect(e2.argument).toBe('validationLoss');
    expect(e2.expected).toBe('a function (params) => tf.Scalar');
    expect(e2.message).toBe('validationLoss must be a function (params) => tf.Scalar (received "loss")');
    expect(() => setTpgmValidationLoss(opt, () => tf.scalar(0))).not.toThrow();
    other.dispose();
    opt.dispose();
  });
});

describe('digrapGradient: the DiGraP gradient transformation on its own', () => {
  it('is the gradient step digrap() runs over its inner optimizer', async () => {
    // θ − θ₀ = c and g = −c: ⟨g, c⟩ < 0, a conflict, so the projection changes the gradient.
    const theta = tf.variable(tf.tensor1d([0.5, -0.25, 1]), true, 'w');
    const anchor = tf.tensor1d([0, 0, 0]);
    const g = tf.tensor1d([-0.5, 0.25, -1]);
    const t = digrapGradient({ weightDecay: 0.5 });
    expect(t.label).toBe('digrapGradient');
    const state = t.init({ w: theta });
    const ctx = { learningRate: 0.1, anchor: () => anchor, step: 1 };
    const r = t.update({ w: g }, state, { w: theta }, ctx as never);
    expect(r.assign).toBeFalsy();
    const out = Array.from(await r.updates.w!.data());
    const gIn = Array.from(await g.data());
    expect(out).not.toEqual(gIn);
    for (const x of out) expect(Number.isFinite(x)).toBe(true);
    // The same step through digrapTransformation over plain SGD(lr): its delta is −lr · (the gradient).
    const composed = digrapTransformation(sgdTransformation({}), { weightDecay: 0.5 });
    const c = composed.update({ w: g }, composed.init({ w: theta }), { w: theta }, ctx as never);
    const delta = Array.from(await c.updates.w!.data());
    for (const [i, d] of delta.entries()) expect(d).toBeCloseTo(-0.1 * out[i]!, 6);
    tf.dispose([r.updates, c.updates]);
    tf.dispose([state as never, r.state as never, c.state as never]);
    tf.dispose([theta, anchor, g]);
  });
});

describe('an inner transformation that assigns instead of returning deltas', () => {
  /** Like a fused kernel's last step: it writes θ' itself (`assign`) rather than an increment. */
  const assigning = (target: tf.Tensor) => ({
    label: 'assigner',
    init: () => ({}),
    update: (grads: tf.NamedTensorMap) => ({ updates: grads, assign: { w: target }, state: {} }),
  });

  it('a projection method refuses it (UNSUPPORTED naming inner): it projects the inner delta', () => {
    const w = tf.variable(tf.ones([2, 3]), true, 'assign-ftp');
    const target = tf.zeros([2, 3]);
    const g = tf.ones([2, 3]);
    const builders: [string, GradientTransformation<StateTree>][] = [
      [
        'ftp',
        ftpTransformation(assigning(target) as never, {}) as unknown as GradientTransformation<StateTree>,
      ],
      [
        'tpgm',
        tpgmTransformation(assigning(target) as never, {}) as unknown as GradientTransformation<StateTree>,
      ],
    ];
    for (const [label, t] of builders) {
      const e = caught(() =>
        tf.tidy(() => {
          t.update({ w: g }, t.init({ w }), { w }, {
            learningRate: 0.1,
            step: 1,
            anchor: () => target,
          } as never);
        }),
      );
      expect(e.code, label).toBe('UNSUPPORTED');
      expect(e.argument, label).toBe('inner');
      expect(e.message, label).toBe(`${label}'s inner transformation assigner must return deltas`);
    }
    tf.dispose([w, target, g]);
  });

  it("a gradient method wrapping it passes the inner's assignment through, with both states", () => {
    const w = tf.variable(tf.ones([2, 3]), true, 'assign-digrap');
    const target = tf.zeros([2, 3]);
    const g = tf.ones([2, 3]);
    const t = digrapTransformation(assigning(target) as never, { weightDecay: 0.1 });
    const r = tf.tidy(() => {
      const out = t.update({ w: g }, t.init({ w }), { w }, {
        learningRate: 0.1,
        step: 1,
        anchor: () => target,
      } as never);
      return { assign: out.assign, keys: Object.keys(out.state as object), updates: out.updates };
    });
    expect(r.assign).toEqual({ w: target });
    expect(r.keys.sort()).toEqual(['digrap', 'inner']);
    expect(Object.keys(r.updates)).toEqual(['w']);
    tf.dispose([w, target, g]);
  });
});
