import type * as tf from '@tensorflow/tfjs-core';
import { checkOptions, type OptionSchema } from './check-options';
import { type CheckpointRecord, prepareAssignVariables } from './checkpoint-format';
import { invalidArgument, RobustFtError } from './errors';
import type { NamedTensor } from './named-tensors';
import type { JsonObject } from './optimizer-registry';

// One checkpoint API for Node and the browser: `saveCheckpoint(where, parts)` and
// `loadCheckpoint(where, options)` in @robust-ft/backend-node (`where` is a directory) and
// @robust-ft/backend-web (`where` is a name in IndexedDB) take and return these types, defined once here.

/** The part of a tfjs-layers `LayersModel` a checkpoint needs (no import of tfjs-layers here). */
export interface SavableModel {
  save(handlerOrURL: string | tf.io.IOHandler, config?: tf.io.SaveConfig): Promise<tf.io.SaveResult>;
  optimizer?: unknown;
}

/** An optimizer whose state round-trips through `getWeights`/`setWeights` (any `tf.Optimizer`). */
export interface StatefulOptimizer {
  getWeights(): Promise<NamedTensor[]>;
  setWeights(weights: NamedTensor[]): Promise<void>;
}

/** Variables to save or restore: a map from name to tensor, or variables keyed by their own `name`. */
export type VariableSource = Record<string, tf.Tensor> | readonly tf.Variable[];

/** What `saveCheckpoint` stores; at least one of `model`, `optimizer` and `variables`. */
export interface CheckpointParts {
  /** A layers model, saved by tfjs with its compiled optimizer (`includeOptimizer: true`). */
  model?: SavableModel;
  /** An optimizer outside any model (a custom training loop); ignored when it is `model.optimizer`. */
  optimizer?: StatefulOptimizer;
  /** Trainable tensors of a custom loop: a name → tensor map, or variables keyed by `variable.name`. */
  variables?: VariableSource;
  /** Free-form JSON stored beside the tensors (epoch, data cursor, config). */
  metadata?: JsonObject;
}

/** How a checkpoint is verified when it is read. */
export interface CheckpointVerifyOptions {
  /**
   * Load a checkpoint written before checkpoints carried checksums (an older robust-ft). Default false:
   * such a checkpoint is a `CHECKPOINT_CORRUPT` naming the option.
   */
  allowUnverified?: boolean;
}

/** What `loadCheckpoint` restores, and into what. */
export interface LoadCheckpointOptions<M> extends CheckpointVerifyOptions {
  /** Optimizer to restore the saved optimizer state into (`setWeights`). */
  optimizer?: StatefulOptimizer;
  /** Variables to assign saved values into; each must exist in the checkpoint with the same shape. */
  variables?: VariableSource;
  /**
   * Builds the saved layers model from its URL (`checkpointModelUrl(where)`), e.g. `tf.loadLayersModel`
   * from tfjs-layers: robust-ft registers a load router for that URL which verifies the checkpoint first.
   */
  loadModel?: (url: string) => Promise<M>;
}

/** What `loadCheckpoint` resolves to. */
export interface LoadedCheckpoint<M> {
  /** The model built by `options.loadModel`, or undefined when none was asked for. */
  model: M | undefined;
  metadata: JsonObject;
  savedAt: Date;
  /** Names of all variables stored in the checkpoint (restored or not). */
  variables: string[];
}

const LOAD_CHECKPOINT_OPTIONS = {
  optimizer: 'object',
  variables: 'object',
  loadModel: 'function',
  allowUnverified: 'boolean',
} as const satisfies OptionSchema<LoadCheckpointOptions<unknown>>;

const CHECKPOINT_PARTS = {
  model: 'object',
  optimizer: 'object',
  variables: 'object',
  metadata: 'object',
} as const satisfies OptionSchema<CheckpointParts>;

/** `loadCheckpoint`'s strict option check, the same in both backend packages. */
export function checkLoadCheckpointOptions(options: unknown): void {
  checkOptions('loadCheckpoint', options, LOAD_CHECKPOINT_OPTIONS);
}

/**
 * The argument checks `saveCheckpoint` makes in both backend packages, and the optimizer to save on its
 * own: none when it is the model's, which the model saves itself.
 */
export function checkCheckpointParts(parts: unknown): StatefulOptimizer | undefined {
  if (typeof parts !== 'object' || parts === null) {
    throw invalidArgument('parts', 'an object with model, optimizer, variables or metadata', parts);
  }
  checkOptions('saveCheckpoint', parts, CHECKPOINT_PARTS, { prefix: 'parts' });
  const { model, optimizer, variables } = parts as CheckpointParts;
  if (model === undefined && variables === undefined && optimizer === undefined) {
    throw invalidArgument('parts', 'at least one of model, optimizer or variables');
  }
  if (model !== undefined && typeof model.save !== 'function') {
    throw invalidArgument('parts.model', 'a tfjs-layers model (with save())', model);
  }
  const separate = optimizer !== undefined && optimizer !== model?.optimizer ? optimizer : undefined;
  if (separate !== undefined && typeof separate.getWeights !== 'function') {
    throw invalidArgument('parts.optimizer', 'a tf.Optimizer (with getWeights())', separate);
  }
  return separate;
}

/** The parts of a checkpoint's restore that differ between stores. */
export interface RestoreSteps<M> {
  /** The checkpoint as named in errors (`checkpoint "name"`, a directory). */
  label: string;
  record: Pick<CheckpointRecord, 'hasModel' | 'optimizerWeights' | 'metadata' | 'savedAt' | 'variables'>;
  /** Decoded saved variables; disposed here whatever happens. */
  variables: Record<string, tf.Tensor>;
  /** Restores `optimizer` completely or not at all. */
  restoreOptimizer: (optimizer: StatefulOptimizer) => Promise<void>;
  /** Builds the model through `options.loadModel`, wrapping its failures as the store's errors. */
  loadModel: (load: (url: string) => Promise<M>) => Promise<M>;
}

/**
 * Restores a checkpoint into `options` in the order that makes a failure change nothing: check that the
 * requested parts exist, check the variables, restore the optimizer (all-or-nothing itself), then assign
 * the variables; the model is built last.
 */
export async function restoreCheckpoint<M>(
  steps: RestoreSteps<M>,
  options: LoadCheckpointOptions<M>,
): Promise<LoadedCheckpoint<M>> {
  const { label, record } = steps;
  try {
    if (options.optimizer !== undefined && record.optimizerWeights === null) {
      throw new RobustFtError('STATE_MISMATCH', `${label} holds no separate optimizer state`, {
        argument: 'options.optimizer',
        expected: 'a checkpoint saved with parts.optimizer (a model’s own optimizer loads with the model)',
      });
    }
    if (options.loadModel !== undefined && !record.hasModel) {
      throw new RobustFtError('STATE_MISMATCH', `${label} holds no model`, { argument: 'options.loadModel' });
    }
    const assign =
      options.variables === undefined
        ? undefined
        : prepareAssignVariables(options.variables, steps.variables, label);
    if (options.optimizer !== undefined) await steps.restoreOptimizer(options.optimizer);
    assign?.();
  } finally {
    for (const t of Object.values(steps.variables)) t.dispose();
  }
  const model = options.loadModel === undefined ? undefined : await steps.loadModel(options.loadModel);
  return { model, metadata: record.metadata, savedAt: new Date(record.savedAt), variables: record.variables };
}
