import { RobustFtError } from './errors';

/** JSON values allowed in an optimizer's serialisable options. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Factories that rebuild an optimizer from its JSON options, by name. `tf.loadLayersModel` restores a
 * saved optimizer through `RobustOptimizer.fromConfig`, which looks the factory up here; packages that
 * export optimizers register theirs when imported.
 */
export type OptimizerFactory<T> = (options: JsonObject) => T;

const factories = new Map<string, OptimizerFactory<unknown>>();

export function registerOptimizerFactory<T>(name: string, factory: OptimizerFactory<T>): void {
  factories.set(name, factory as OptimizerFactory<unknown>);
}

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
