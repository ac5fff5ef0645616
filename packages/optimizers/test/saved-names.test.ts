import { getOptimizerFactory, type RobustOptimizer } from '@robust-ft/core';
import { describe, expect, it } from 'vitest';
import { adamw, digrap, ftp, l2sp, sgd, spd, tpgm } from '../src/index';
import './setup-backend';

/**
 * What a saved model records of its optimizer, pinned as literals: a model saved today must load in a
 * later version, so the factory names in `getConfig()` and the labels the checkpoint header compares
 * are contracts, not implementation details (a constant renamed consistently would pass every
 * round-trip test and break every saved file). Also each factory's default learning rate, built
 * directly and from a saved config that omits it.
 */
const cases: [string, () => RobustOptimizer, string, number][] = [
  ['robust-ft/adamw', () => adamw(), 'chain(scaleByAdam,addDecayedWeights,scaleByLearningRate)', 0.001],
  ['robust-ft/l2sp', () => l2sp(), 'chain(addL2spGradient,scaleByAdam,scaleByLearningRate)', 0.001],
  ['robust-ft/spd', () => spd(), 'spd(chain(scaleByAdam,addDecayedWeights,scaleByLearningRate))', 0.001],
  ['robust-ft/ftp', () => ftp(), 'ftp(chain(scaleByAdam,addDecayedWeights,scaleByLearningRate))', 0.001],
  [
    'robust-ft/digrap',
    () => digrap(),
    'digrap(chain(scaleByAdam,addDecayedWeights,scaleByLearningRate))',
    0.001,
  ],
  [
    'robust-ft/tpgm',
    () => tpgm({ validationLoss: () => 0 } as never),
    'tpgm(chain(addDecayedWeights,traceMomentum,scaleByLearningRate))',
    0.01,
  ],
  ['robust-ft/sgd', () => sgd(), 'chain(addDecayedWeights,scaleByLearningRate)', 0.01],
];

describe('names a saved model records', () => {
  it.each(cases)(
    '%s: factory name, transformation label, default learning rate',
    (factory, make, label, lr) => {
      const opt = make();
      expect((opt.getConfig() as { factory: string }).factory).toBe(factory);
      expect(opt.transformation.label).toBe(label);
      opt.dispose();
      if (factory === 'robust-ft/tpgm') return; // its validationLoss is not serialisable: no config to restore
      const restored = getOptimizerFactory(factory)({}) as RobustOptimizer;
      expect(restored.learningRate).toBe(lr);
      expect(restored.transformation.label).toBe(label);
      restored.dispose();
    },
  );
});
