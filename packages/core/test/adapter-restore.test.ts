import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Anchors,
  addDecayedWeights,
  chain,
  type GradientTransformation,
  type NamedTensor,
  RobustOptimizer,
  registerOptimizerFactory,
  type StateTree,
  scaleByAdam,
  scaleByLearningRate,
} from '../src/index';
import { encodeNumber } from '../src/state-tree';
import { optimizerSnapshot, sameSnapshot, tensorBytes } from '../src/testing/index';
import {
  adam,
  caught,
  caughtAsync,
  expectRefusal,
  freeze,
  type Refusal,
  savedWeights,
  unique,
  variable,
} from './adapter-fixtures';
import './setup-backend';

/*
 * setWeights, getConfig and fromConfig (issue #20): every refusal pins code, message, argument and
 * expected form, and that the optimizer it was given to (a fresh one, or one with state of its own)
 * is unchanged and leaks nothing. The checkpoints are getWeights() output edited the way a buggy
 * writer or another model's state would differ; values are re-sealed nowhere (no files here).
 */

interface Header {
  format: string;
  factory: string | null;
  label: string;
  params: Record<string, number[] | null>;
  slots: Record<string, { shape: number[]; dtype: string }>;
}

const entry = (...path: string[]) => JSON.stringify(path);
const isHeader = (w: NamedTensor) => w.name.startsWith('["h",');

function editHeader(saved: NamedTensor[], edit: (h: Header) => void): NamedTensor[] {
  return saved.map((w) => {
    if (!isHeader(w)) return w;
    const h = JSON.parse((JSON.parse(w.name) as string[])[1]!) as Header;
    edit(h);
    return { name: entry('h', JSON.stringify(h)), tensor: w.tensor };
  });
}

function headerText(saved: NamedTensor[], text: string): NamedTensor[] {
  return saved.map((w) => (isHeader(w) ? { name: entry('h', text), tensor: w.tensor } : w));
}

const without = (saved: NamedTensor[], name: string) => saved.filter((w) => w.name !== name);
const replaced = (saved: NamedTensor[], name: string, by: NamedTensor) =>
  saved.map((w) => (w.name === name ? by : w));

// One checkpoint for most cases: Adam over a [3] variable after two steps, with its anchor.
let v: tf.Variable;
let saved: NamedTensor[];
let mu: string;
let nu: string;
let count: string;
let anchor: string;
const made: tf.Tensor[] = [];
/** A tensor the test owns until the end of the file (created before `freeze`, so counts stay level). */
const own = <T extends tf.Tensor>(t: T): T => {
  made.push(t);
  return t;
};

beforeAll(async () => {
  v = variable([0.5, -1, 2]);
  const source = adam();
  const g = tf.tensor1d([0.1, -0.2, 0.3]);
  source.applyGradients({ [v.name]: g });
  source.applyGradients({ [v.name]: g });
  saved = await savedWeights(source);
  source.dispose();
  g.dispose();
  mu = entry('t', 'inner', '0', 'mu', v.name);
  nu = entry('t', 'inner', '0', 'nu', v.name);
  count = entry('n', 'inner', '0', 'count', v.name);
  anchor = entry('a', v.name);
  expect(saved.map((w) => w.name)).toEqual(
    expect.arrayContaining([mu, nu, count, anchor, entry('n', 'step')]),
  );
});

afterAll(() => {
  tf.dispose([v, ...saved.map((w) => w.tensor), ...made]);
});

/** `weights` refused with `refusal` by `target` (default: a fresh Adam optimizer), which stays as it was. */
async function refuses(weights: unknown, refusal: Refusal, target = adam()): Promise<void> {
  const unchanged = await freeze(target, [v]);
  expectRefusal(await caughtAsync(() => target.setWeights(weights as NamedTensor[])), refusal);
  await unchanged();
  target.dispose();
}

/** Variables 'pa' [3] and 'pb' [2], their gradients, and the weights of an Adam adapter stepped once on them. */
async function twoParameterState() {
  const a = variable([1, 2, 3], 'pa');
  const b = variable([4, 5], 'pb');
  const source = adam();
  const ga = tf.ones([3]);
  const gb = tf.ones([2]);
  source.applyGradients({ [a.name]: ga, [b.name]: gb });
  const two = await savedWeights(source);
  source.dispose();
  return { a, b, ga, gb, two };
}

const mismatch = (message: string, argument = 'weightValues'): Refusal => ({
  code: 'STATE_MISMATCH',
  message,
  argument,
});

describe('setWeights refuses malformed input', () => {
  it('weightValues that is not an array', async () => {
    for (const [input, received] of [
      [null, 'null'],
      [{}, 'object'],
      ['weights', '"weights"'],
      [3, '3'],
    ] as const) {
      await refuses(input, {
        code: 'INVALID_ARGUMENT',
        message: `weightValues must be the NamedTensor[] of getWeights() (received ${received})`,
        argument: 'weightValues',
        expected: 'the NamedTensor[] of getWeights()',
      });
    }
  });

  it('an item that is not { name: string, tensor } (also after valid ones)', async () => {
    for (const item of [
      null,
      undefined,
      3,
      { name: 3, tensor: saved[1]!.tensor },
      { name: mu, tensor: [1] },
    ]) {
      await refuses([...saved, item], mismatch('every weight must be { name: string, tensor: tf.Tensor }'));
    }
  });

  it('a state number that is NaN or Inf', async () => {
    const step = entry('n', 'step');
    for (const [value, shown] of [
      [Number.NaN, 'NaN'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ] as const) {
      await refuses(replaced(saved, step, { name: step, tensor: own(encodeNumber(value)) }), {
        code: 'NON_FINITE',
        message: `optimizer state number ${step} is ${shown}`,
        argument: `weightValues["${step}"]`,
        expected: 'a finite number',
      });
    }
  });

  it('an entry name of ours (a JSON list) with an unknown kind or arity', async () => {
    for (const name of [entry('x', 'step'), entry('h', 'a', 'b'), entry('a', v.name, 'extra')]) {
      await refuses(
        [...saved, { name, tensor: saved[1]!.tensor }],
        mismatch(`unrecognised optimizer weight "${name}"`),
      );
    }
  });

  it('no step: nothing, only foreign entries, or the step removed', async () => {
    const refusal: Refusal = {
      code: 'STATE_MISMATCH',
      message: 'the weights hold no robust-ft optimizer state (missing step)',
      argument: 'weightValues',
      expected: 'the output of getWeights() of a robust-ft optimizer',
    };
    const iter = own(tf.scalar(3, 'int32'));
    await refuses([], refusal);
    await refuses([{ name: 'iter', tensor: iter }], refusal);
    await refuses(without(saved, entry('n', 'step')), refusal);
  });

  it('foreign entries (tfjs\'s "iter", names that are not our JSON lists) are ignored', async () => {
    const t = own(tf.scalar(1));
    const foreign = ['iter', '[not json', entry('only'), '[1,2]'].map((name) => ({ name, tensor: t }));
    const target = adam();
    await target.setWeights([...foreign, ...saved]);
    const reference = adam();
    await reference.setWeights(saved);
    expect(sameSnapshot(await optimizerSnapshot(target), await optimizerSnapshot(reference))).toBe(true);
    expect(target.step).toBe(2);
    target.dispose();
    reference.dispose();
  });

  it('a header that is not readable', async () => {
    const bad: string[] = [
      'not json',
      JSON.stringify({ format: 'other' }),
      ...(['label', 'params', 'slots'] as const).map((k) =>
        JSON.stringify({
          ...JSON.parse((JSON.parse(saved.find(isHeader)!.name) as string[])[1]!),
          [k]: null,
        }),
      ),
      JSON.stringify({ format: 'robust-ft-optimizer-state', label: 'x', params: 'p', slots: {} }),
      JSON.stringify({ format: 'robust-ft-optimizer-state', label: 'x', params: {}, slots: 's' }),
    ];
    for (const text of bad) {
      await refuses(headerText(saved, text), mismatch('the optimizer state header is not readable'));
    }
  });
});

describe('setWeights refuses state saved by another optimizer', () => {
  const other = () =>
    chain(scaleByAdam(), addDecayedWeights(0.1), scaleByLearningRate()) as RobustOptimizer['transformation'];

  it('another factory, or (without factories) another transformation', async () => {
    const label = JSON.parse((JSON.parse(saved.find(isHeader)!.name) as string[])[1]!).label as string;
    expect(label).toBe(adam().transformation.label);
    const mine = new RobustOptimizer({ transformation: other(), learningRate: 0.1 });
    const theirLabel = mine.transformation.label;
    mine.dispose();
    expect(label).not.toBe(theirLabel);
    const byFactory = (name: string | null) =>
      editHeader(saved, (h) => {
        h.factory = name;
      });
    const cases: [NamedTensor[], RobustOptimizer, string, string][] = [
      [byFactory('ftp'), adam({ factory: { name: 'spd', options: {} } }), 'ftp', 'spd'],
      [saved, new RobustOptimizer({ transformation: other(), learningRate: 0.1 }), label, theirLabel],
      [
        saved,
        new RobustOptimizer({
          transformation: other(),
          learningRate: 0.1,
          factory: { name: 'spd', options: {} },
        }),
        label,
        'spd',
      ],
      [
        byFactory('ftp'),
        new RobustOptimizer({ transformation: other(), learningRate: 0.1 }),
        'ftp',
        theirLabel,
      ],
    ];
    for (const [weights, target, from, into] of cases) {
      await refuses(
        weights,
        {
          code: 'STATE_MISMATCH',
          message: `optimizer state was saved by ${from}, cannot load it into ${into}`,
          argument: 'weightValues',
          expected: `state saved by ${into}`,
        },
        target,
      );
    }
  });

  it('the same factory name decides even when the labels differ', async () => {
    const named = editHeader(saved, (h) => {
      h.factory = 'same';
      h.label = 'something else';
    });
    const target = adam({ factory: { name: 'same', options: {} } });
    await target.setWeights(named);
    expect(target.step).toBe(2);
    target.dispose();
  });

  it('with a factory on one side only, the labels decide (same transformation loads)', async () => {
    // Saved without a factory, loaded into a factory-built optimizer of the same transformation, and back.
    const target = adam({ factory: { name: 'only-mine', options: {} } });
    await target.setWeights(saved);
    expect(target.step).toBe(2);
    const named = editHeader(saved, (h) => {
      h.factory = 'only-theirs';
    });
    const plain = adam();
    await plain.setWeights(named);
    expect(plain.step).toBe(2);
    target.dispose();
    plain.dispose();
  });

  it('a header whose parameter list differs from the state', async () => {
    for (const edit of [
      (h: Header) => {
        h.params['ghost/w'] = [3];
      },
      (h: Header) => {
        delete h.params[v.name];
      },
      (h: Header) => {
        h.params = { 'ghost/w': [3] };
      },
    ]) {
      await refuses(
        editHeader(saved, edit),
        mismatch('the state header and the saved parameter list disagree'),
      );
    }
  });
});

describe('a header of two parameters', () => {
  it('one name of two differing from the saved state is refused (every name is compared)', async () => {
    const { a, b, ga, gb, two } = await twoParameterState();
    for (const renamed of [a.name, b.name]) {
      const edited = editHeader(two, (h) => {
        h.params[`ghost/${renamed}`] = h.params[renamed]!;
        delete h.params[renamed];
      });
      const target = adam();
      expectRefusal(
        await caughtAsync(() => target.setWeights(edited)),
        mismatch('the state header and the saved parameter list disagree'),
      );
      expect(target.step).toBe(0);
      target.dispose();
    }
    tf.dispose([a, b, ga, gb, ...two.map((w) => w.tensor)]);
  });
});

describe('setWeights refuses entries that disagree with the header or with init', () => {
  it('a tensor or anchor the header does not list', async () => {
    for (const name of [mu, anchor]) {
      await refuses(
        editHeader(saved, (h) => {
          delete h.slots[name];
        }),
        mismatch(`optimizer weight ${name} is not in the state header`, `weightValues[${name}]`),
      );
    }
  });

  it('a tensor of another shape or dtype than the header says', async () => {
    for (const [t, shown] of [
      [own(tf.zeros([2])), 'float32[2]'],
      [own(tf.zeros([3], 'int32')), 'int32[3]'],
      [own(tf.zeros([3, 1])), 'float32[3,1]'],
    ] as const) {
      await refuses(
        replaced(saved, nu, { name: nu, tensor: t }),
        mismatch(`optimizer weight ${nu} is ${shown}, the header says float32[3]`, `weightValues[${nu}]`),
      );
    }
  });

  it("an anchor of another shape than the header's parameter", async () => {
    await refuses(
      editHeader(saved, (h) => {
        h.params[v.name] = [4];
      }),
      mismatch(
        `the saved anchor of "${v.name}" has shape [3], the parameter [4]`,
        `weightValues["${anchor}"]`,
      ),
    );
  });

  it('a slot the transformation does not create (tensor or number)', async () => {
    const extraT = entry('t', 'inner', '0', 'extra');
    const extraN = entry('n', 'inner', '0', 'extra');
    await refuses(
      editHeader([...saved, { name: extraT, tensor: own(tf.zeros([3])) }], (h) => {
        h.slots[extraT] = { shape: [3], dtype: 'float32' };
      }),
      mismatch('unexpected optimizer state slot ["0","extra"]', `weightValues[${extraT}]`),
    );
    await refuses(
      [...saved, { name: extraN, tensor: own(encodeNumber(1)) }],
      mismatch('unexpected optimizer state slot ["0","extra"]', `weightValues[${extraN}]`),
    );
  });

  it('a number where init has a tensor, and a tensor where it has a number', async () => {
    const muAsNumber = entry('n', 'inner', '0', 'mu', v.name);
    await refuses(
      replaced(saved, mu, { name: muAsNumber, tensor: own(encodeNumber(0)) }),
      mismatch(`optimizer state slot ["0","mu","${v.name}"] must be a tensor`, `weightValues[${muAsNumber}]`),
    );
    const countAsTensor = entry('t', 'inner', '0', 'count', v.name);
    await refuses(
      editHeader(replaced(saved, count, { name: countAsTensor, tensor: own(tf.scalar(2)) }), (h) => {
        h.slots[countAsTensor] = { shape: [], dtype: 'float32' };
      }),
      mismatch(
        `optimizer state slot ["0","count","${v.name}"] must be a number`,
        `weightValues[${countAsTensor}]`,
      ),
    );
  });

  it('a slot of another shape or dtype than init creates (header edited to agree)', async () => {
    for (const [t, shown] of [
      [own(tf.zeros([2])), 'float32[2]'],
      [own(tf.zeros([3], 'int32')), 'int32[3]'],
    ] as const) {
      await refuses(
        editHeader(replaced(saved, mu, { name: mu, tensor: t }), (h) => {
          h.slots[mu] = { shape: [...t.shape], dtype: t.dtype };
        }),
        mismatch(
          `optimizer state slot ["0","mu","${v.name}"] is ${shown}, expected float32[3]`,
          `weightValues[${mu}]`,
        ),
      );
    }
  });

  it('a slot init creates that the checkpoint lacks', async () => {
    await refuses(without(saved, nu), mismatch(`optimizer state slot ["0","nu","${v.name}"] is missing`));
    await refuses(
      without(saved, count),
      mismatch(`optimizer state slot ["0","count","${v.name}"] is missing`),
    );
  });

  it('NaN in a state tensor or in an anchor', async () => {
    for (const name of [mu, anchor]) {
      await refuses(replaced(saved, name, { name, tensor: own(tf.tensor1d([0, Number.NaN, 0])) }), {
        code: 'NON_FINITE',
        message: `optimizer state entry ${name} holds NaN or Inf; nothing was restored`,
        argument: `weightValues["${name}"]`,
        expected: 'finite values',
      });
    }
  });
});

describe('setWeights refuses the state of another model', () => {
  it('when this optimizer holds state: other variables, or the same ones at other shapes', async () => {
    const mine = [0, 1, 2, 3].map((i) => variable([i, i], `mine${i}`));
    const g = own(tf.ones([2]));
    const target = () => {
      const o = adam();
      o.applyGradients(Object.fromEntries(mine.map((m) => [m.name, g])));
      return o;
    };
    const theirs = [0, 1, 2, 3].map((i) => variable([i, i, i], `theirs${i}`));
    const source = adam();
    const g3 = own(tf.ones([3]));
    source.applyGradients(Object.fromEntries(theirs.map((t) => [t.name, g3])));
    const other = await savedWeights(source);
    source.dispose();
    made.push(...other.map((w) => w.tensor));
    const first3 = (names: string[]) => names.slice(0, 3).join('", "');
    await refuses(
      other,
      mismatch(
        `the saved state is for other variables ("${first3(theirs.map((t) => t.name).sort())}"…) than this optimizer's ("${first3(mine.map((m) => m.name))}"…): state of another model?`,
      ),
      target(),
    );

    // The same base name (tfjs-layers' "_1" of a reloaded model) at another shape.
    const reloaded = tf.variable(tf.zeros([3]), true, `${mine[0]!.name}_1`);
    const again = adam();
    again.applyGradients({ [reloaded.name]: g3 });
    const sameName = await savedWeights(again);
    again.dispose();
    made.push(...sameName.map((w) => w.tensor));
    await refuses(
      sameName,
      mismatch(
        `the saved state of "${reloaded.name}" has shape [3], this optimizer's [2] (state of another model?)`,
      ),
      target(),
    );
    // At the same shape, a reloaded model's state is taken (re-keyed on its first step).
    const same = tf.variable(tf.zeros([2]), true, `${mine[1]!.name}_1`);
    const src2 = adam();
    src2.applyGradients({ [same.name]: g });
    const sameShapeState = await savedWeights(src2);
    src2.dispose();
    made.push(...sameShapeState.map((w) => w.tensor));
    const t = target();
    await t.setWeights(sameShapeState);
    expect(t.step).toBe(1);
    t.dispose();
    tf.dispose([...mine, ...theirs, reloaded, same]);
  });

  it('a fresh optimizer: state whose shapes differ from the registered variables of that name', async () => {
    const name = unique('w');
    const first = tf.variable(tf.zeros([3]), true, name);
    const source = adam();
    source.applyGradients({ [name]: own(tf.ones([3])) });
    const state = await savedWeights(source);
    source.dispose();
    made.push(...state.map((w) => w.tensor));
    first.dispose();
    const now = tf.variable(tf.zeros([2]), true, name);
    await refuses(
      state,
      mismatch(
        `the state of "${name}" is for shape [3], the variable "${name}" has [2] (state of another model?)`,
      ),
    );
    now.dispose();
  });

  it('a shared Anchors holding an anchor of another shape (an owned store is replaced instead)', async () => {
    const shared = Anchors.from({ [v.name]: own(tf.zeros([2])) });
    await refuses(
      saved,
      mismatch(`the shared anchor of "${v.name}" has shape [2], the saved one [3]`, 'options.anchor'),
      adam({ anchor: shared }),
    );
    shared.dispose();
    const owned = adam({ anchor: { [v.name]: own(tf.zeros([2])) } });
    await owned.setWeights(saved);
    expect(await tensorBytes(owned.anchors.get(v.name))).toBe(
      await tensorBytes(saved.find((w) => w.name === anchor)!.tensor),
    );
    owned.dispose();
  });
});

describe('setWeights: what a restore does with anchors and headers', () => {
  const anchorValue = async (o: RobustOptimizer, n: string) => Array.from(await o.anchors.get(n).data());
  const savedAnchor = () => saved.find((w) => w.name === anchor)!.tensor;

  it('an owned store becomes exactly the checkpoint’s: anchors of other names are forgotten', async () => {
    const stray = own(tf.ones([5]));
    const target = adam({ anchor: { [v.name]: own(tf.zeros([3])), 'stray/w': stray } });
    const strayAnchor = target.anchors.get('stray/w');
    await target.setWeights(saved);
    expect(target.anchors.names()).toEqual([v.name]);
    expect(strayAnchor.isDisposed).toBe(true);
    expect(await anchorValue(target, v.name)).toEqual(Array.from(await savedAnchor().data()));
    target.dispose();
  });

  it('a shared store keeps the anchors it holds and gains those it lacks', async () => {
    const shared = Anchors.from({ 'other/w': own(tf.ones([2])) });
    const target = adam({ anchor: shared });
    await target.setWeights(saved);
    expect(shared.names().sort()).toEqual(['other/w', v.name].sort());
    expect(await anchorValue(target, v.name)).toEqual(Array.from(await savedAnchor().data()));
    target.dispose();
    const holding = Anchors.from({ [v.name]: own(tf.tensor1d([7, 8, 9])) });
    const second = adam({ anchor: holding });
    await second.setWeights(saved);
    expect(await anchorValue(second, v.name)).toEqual([7, 8, 9]);
    second.dispose();
    expect(holding.get(v.name).isDisposed).toBe(false);
    tf.dispose([...shared.names().map((n) => shared.get(n))]);
    holding.dispose();
  });

  it("a 'zero' store ignores saved anchors", async () => {
    const before = tf.memory().numTensors;
    const target = adam({ anchor: 'zero' });
    await target.setWeights(saved);
    expect(target.anchors.hasCaptured(v.name)).toBe(false);
    expect(target.anchors.names()).toEqual([]);
    expect(target.step).toBe(2);
    // Its anchors stay zeros after a step (not the checkpoint's θ₀).
    const g = tf.ones([3]);
    target.applyGradients({ [v.name]: g });
    expect(await anchorValue(target, v.name)).toEqual([0, 0, 0]);
    target.dispose();
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a headerless checkpoint loads; parameters of unknown shape are saved as null and pass the shape checks', async () => {
    const ghost = 'ghost-never-registered/w';
    const withHeader = saved.map((w) => ({ name: w.name.split(v.name).join(ghost), tensor: w.tensor }));
    const renamed = withHeader.filter((w) => !isHeader(w));
    const target = adam();
    await target.setWeights(renamed);
    expect(target.step).toBe(2);
    // Restored without shapes, it still takes a checkpoint that has them (nothing to compare against).
    const shapeless = adam();
    await shapeless.setWeights(renamed);
    await shapeless.setWeights(withHeader);
    expect(shapeless.step).toBe(2);
    shapeless.dispose();
    const resaved = await savedWeights(target);
    made.push(...resaved.map((w) => w.tensor));
    const header = JSON.parse((JSON.parse(resaved.find(isHeader)!.name) as string[])[1]!) as Header;
    expect(header.params).toEqual({ [ghost]: null });
    // Null shapes are not compared: a fresh optimizer and one restored without shapes both take it.
    const fresh = adam();
    await fresh.setWeights(resaved);
    expect(fresh.step).toBe(2);
    await target.setWeights(resaved);
    // An optimizer holding [3] state for the name takes a null-shaped checkpoint of it too.
    const holding = adam();
    await holding.setWeights(withHeader);
    await holding.setWeights(resaved);
    expect(holding.step).toBe(2);
    // And back: the null shape was not recorded as this optimizer's shape, so shapes load again.
    await holding.setWeights(withHeader);
    expect(holding.step).toBe(2);
    for (const o of [target, fresh, holding]) o.dispose();
  });
});

describe('setWeights: checkpoints the structure checks must let through', () => {
  it('the checkpoint of an optimizer that never stepped (no parameters, no tensors)', async () => {
    // Adam, and a transformation whose init({}) already has a slot (a global count): the state of an
    // optimizer that never stepped is empty, not init({}).
    const counting: GradientTransformation<StateTree> = {
      label: 'counting',
      init: () => ({ calls: 0 }),
      update: (grads, state) => ({ updates: grads, state: { calls: (state.calls as number) + 1 } }),
    };
    const makers = [
      () => adam(),
      () =>
        new RobustOptimizer({ transformation: chain(counting, scaleByLearningRate()), learningRate: 0.1 }),
    ];
    for (const make of makers) {
      const source = make();
      const empty = await savedWeights(source);
      source.dispose();
      const target = make();
      await target.setWeights(empty);
      expect(target.step).toBe(0);
      expect(target.state).toEqual({});
      // It then starts fresh like a new optimizer.
      const w = variable([1, 2]);
      const g = tf.ones([2]);
      target.applyGradients({ [w.name]: g });
      expect(target.step).toBe(1);
      target.dispose();
      tf.dispose([w, g, ...empty.map((e) => e.tensor)]);
    }
  });

  it('a header where only some parameters have an unknown (null) shape', async () => {
    const { a, b, ga, gb, two } = await twoParameterState();
    const partly = editHeader(two, (h) => {
      h.params[a.name] = null;
    });
    const target = adam();
    await target.setWeights(partly);
    expect(target.step).toBe(1);
    target.applyGradients({ [a.name]: ga, [b.name]: gb });
    expect(target.step).toBe(2);
    target.dispose();
    tf.dispose([a, b, ga, gb, ...two.map((w) => w.tensor)]);
  });

  it('variable names that are array indices ("9000009" before "10000001" as object keys)', async () => {
    // JS orders integer-like keys numerically, ahead of the rest; the header check compares sorted lists.
    const names = ['10000001', '9000009'];
    const vars = names.map((n, i) => tf.variable(tf.tensor1d([i + 1, 2]), true, n));
    const source = adam();
    const g = tf.ones([2]);
    source.applyGradients(Object.fromEntries(names.map((n) => [n, g])));
    const state = await savedWeights(source);
    source.dispose();
    const target = adam();
    await target.setWeights(state);
    expect(target.step).toBe(1);
    target.applyGradients(Object.fromEntries(names.map((n) => [n, g])));
    expect(target.step).toBe(2);
    target.dispose();
    tf.dispose([...vars, g, ...state.map((w) => w.tensor)]);
  });
});

describe('getConfig / fromConfig', () => {
  registerOptimizerFactory('adapter-restore-test', (o) =>
    adam({ learningRate: Number(o.lr), factory: { name: 'adapter-restore-test', options: o } }),
  );

  it('getConfig needs a registered factory (UNSUPPORTED without one)', () => {
    const bare = adam();
    expectRefusal(
      caught(() => bare.getConfig()),
      {
        code: 'UNSUPPORTED',
        message: 'this optimizer was built without a registered factory and cannot be serialised',
        argument: 'options.factory',
      },
    );
    bare.dispose();
    const named = adam({ factory: { name: 'adapter-restore-test', options: { lr: 0.25 } } });
    expect(named.getConfig()).toEqual({ factory: 'adapter-restore-test', options: '{"lr":0.25}' });
    const rebuilt = RobustOptimizer.fromConfig(RobustOptimizer, named.getConfig()) as RobustOptimizer;
    expect(rebuilt.learningRate).toBe(0.25);
    named.dispose();
    rebuilt.dispose();
  });

  it('fromConfig refuses a config without { factory: string, options: JSON string }', () => {
    for (const config of [
      {},
      { factory: 'adapter-restore-test' },
      { options: '{}' },
      { factory: 1, options: '{}' },
      { factory: 'adapter-restore-test', options: { lr: 1 } },
    ]) {
      expectRefusal(
        caught(() => RobustOptimizer.fromConfig(RobustOptimizer, config as never)),
        mismatch('optimizer config must hold { factory: string, options: JSON string }', 'config'),
      );
    }
  });
});
