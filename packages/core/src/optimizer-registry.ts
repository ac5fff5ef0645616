import { RobustFtError } from './errors';

/** JSON values allowed in an optimizer's serialisable options. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: an optimizer's serialisable options, checkpoint metadata. */
export type JsonObject = { [key: string]: JsonValue };

/**
 * Factories that rebuild an optimizer from its JSON options, by name. `tf.loadLayersModel` restores a
 * saved optimizer through `RobustOptimizer.fromConfig`, which looks the factory up here; packages that
 * export optimizers register theirs when imported.
 */
export type OptimizerFactory<T> = (options: JsonObject) => T;

const factories = new Map<string, OptimizerFactory<unknown>>();

/**
 * Registers how to rebuild an optimizer from its saved JSON options under `name`, so a saved layers
 * model compiled with it can be loaded (`tf.loadLayersModel`).
 */
export function registerOptimizerFactory<T>(name: string, factory: OptimizerFactory<T>): void {
  factories.set(name, factory as OptimizerFactory<unknown>);
}

/** The factory registered under `name`; `UNSUPPORTED` when none is (import the package that defines it). */
export function getOptimizerFactory(name: string): OptimizerFactory<unknown> {
  const f = factories.get(name);
  if (!f) {
    throw new RobustFtError(
      'UNSUPPORTED',
      `no optimizer factory named "${name}" is registered (import the package that defines it)`,
      {
        argument: 'config.factory',
        expected: `one of ${[...factories.keys()].join(', ') || '(none registered)'}`,
      },
    );
  }
  return f;
}
