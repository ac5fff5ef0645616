import { invalidArgument, type JsonObject, type NamedTensor, RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';
import { assignVariables, packCheckpoint, unpackCheckpoint, type VariableSource } from './checkpoint-format';

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

export interface LoadCheckpointOptions<M> {
  /** Optimizer to restore the saved optimizer state into (`setWeights`). */
  optimizer?: StatefulOptimizer;
  /** Variables to assign saved values into; each must exist in the checkpoint with the same shape. */
  variables?: VariableSource;
  /** Builds the saved layers model from its URL, e.g. `tf.loadLayersModel` from tfjs-layers. */
  loadModel?: (url: string) => Promise<M>;
}

export interface LoadedCheckpoint<M> {
  model: M | undefined;
  metadata: JsonObject;
  savedAt: Date;
  /** Names of all variables stored in the checkpoint (restored or not). */
  variables: string[];
}

const STATE_PREFIX = 'robust-ft-ckpt:';
const MODEL_PREFIX = 'robust-ft-model:';

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument('name', 'a non-empty string', name);
  return name;
}

/** The `indexeddb://` URL of a checkpoint's layers model, for `tf.loadLayersModel` directly. */
export function checkpointModelUrl(name: string): string {
  return `indexeddb://${MODEL_PREFIX}${checkName(name)}`;
}

function stateUrl(name: string): string {
  return `indexeddb://${STATE_PREFIX}${name}`;
}

/** tfjs registers its IndexedDB router only in a browser; outside one there is no handler to find. */
function indexedDbHandler(name: string, mode: 'save' | 'load'): tf.io.IOHandler {
  const url = stateUrl(name);
  const handler = (mode === 'save' ? tf.io.getSaveHandlers(url) : tf.io.getLoadHandlers(url))[0];
  if (handler === undefined) {
    throw new RobustFtError(
      'UNSUPPORTED',
      'IndexedDB checkpoints need a browser (tfjs found no indexeddb:// handler)',
      {
        argument: 'name',
      },
    );
  }
  return handler;
}

function ioError(what: string, name: string, cause: unknown): RobustFtError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new RobustFtError('IO', `could not ${what} checkpoint "${name}" in IndexedDB: ${detail}`, {
    argument: 'name',
    cause,
  });
}

/**
 * Saves a checkpoint to IndexedDB under `name`, replacing any earlier one. A layers model is written
 * by tfjs (`model.save('indexeddb://…', { includeOptimizer: true })`); variables, a separate optimizer's
 * `getWeights()` and metadata go into a second entry written last, so a crash mid-save leaves either
 * the old record or the new one, never a record that points at a missing model.
 */
export async function saveCheckpoint(name: string, parts: CheckpointParts): Promise<void> {
  checkName(name);
  if (typeof parts !== 'object' || parts === null) {
    throw invalidArgument('parts', 'an object with model, optimizer, variables or metadata', parts);
  }
  const { model, variables, metadata } = parts;
  if (model === undefined && variables === undefined && parts.optimizer === undefined) {
    throw invalidArgument('parts', 'at least one of model, optimizer or variables');
  }
  if (model !== undefined && typeof model.save !== 'function') {
    throw invalidArgument('parts.model', 'a tfjs-layers model (with save())', model);
  }
  const optimizer =
    parts.optimizer !== undefined && parts.optimizer !== model?.optimizer ? parts.optimizer : undefined;
  if (optimizer !== undefined && typeof optimizer.getWeights !== 'function') {
    throw invalidArgument('parts.optimizer', 'a tf.Optimizer (with getWeights())', optimizer);
  }
  if (model !== undefined) {
    try {
      await model.save(checkpointModelUrl(name), { includeOptimizer: model.optimizer != null });
    } catch (error) {
      if (RobustFtError.isInstance(error)) throw error;
      throw ioError('save the model of', name, error);
    }
  }
  const artifacts = await packCheckpoint({
    variables,
    optimizerWeights: optimizer === undefined ? undefined : await optimizer.getWeights(),
    hasModel: model !== undefined,
    metadata,
  });
  try {
    await indexedDbHandler(name, 'save').save!(artifacts);
  } catch (error) {
    if (RobustFtError.isInstance(error)) throw error;
    throw ioError('save', name, error);
  }
}

/**
 * Loads a checkpoint written by `saveCheckpoint`: assigns `variables`, restores `optimizer` and, when
 * `loadModel` is given, rebuilds the model (with its optimizer state, if it had one).
 */
export async function loadCheckpoint<M = unknown>(
  name: string,
  options: LoadCheckpointOptions<M> = {},
): Promise<LoadedCheckpoint<M>> {
  checkName(name);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await indexedDbHandler(name, 'load').load!();
  } catch (error) {
    if (RobustFtError.isInstance(error)) throw error;
    throw ioError('load', name, error);
  }
  const { record, variables, optimizerWeights } = unpackCheckpoint(artifacts, name);
  try {
    if (options.optimizer !== undefined && record.optimizerWeights === null) {
      throw new RobustFtError('STATE_MISMATCH', `checkpoint "${name}" holds no separate optimizer state`, {
        argument: 'options.optimizer',
        expected: 'a checkpoint saved with parts.optimizer (a model’s own optimizer loads with the model)',
      });
    }
    if (options.loadModel !== undefined && !record.hasModel) {
      throw new RobustFtError('STATE_MISMATCH', `checkpoint "${name}" holds no model`, {
        argument: 'options.loadModel',
      });
    }
    if (options.variables !== undefined) assignVariables(options.variables, variables, name);
    if (options.optimizer !== undefined) await options.optimizer.setWeights(optimizerWeights);
  } finally {
    for (const t of Object.values(variables)) t.dispose();
    for (const w of optimizerWeights) w.tensor.dispose();
  }
  let model: M | undefined;
  if (options.loadModel !== undefined) {
    try {
      model = await options.loadModel(checkpointModelUrl(name));
    } catch (error) {
      if (RobustFtError.isInstance(error)) throw error;
      throw ioError('load the model of', name, error);
    }
  }
  return { model, metadata: record.metadata, savedAt: new Date(record.savedAt), variables: record.variables };
}

/** Names of the checkpoints in this origin's IndexedDB. */
export async function listCheckpoints(): Promise<string[]> {
  const all = await tf.io.listModels();
  return Object.keys(all)
    .filter((url) => url.startsWith(`indexeddb://${STATE_PREFIX}`))
    .map((url) => url.slice(`indexeddb://${STATE_PREFIX}`.length))
    .sort();
}

/** Deletes a checkpoint (its record and its model, if any). A missing checkpoint throws `IO`. */
export async function deleteCheckpoint(name: string): Promise<void> {
  checkName(name);
  try {
    await tf.io.removeModel(stateUrl(name));
  } catch (error) {
    throw ioError('delete', name, error);
  }
  try {
    await tf.io.removeModel(checkpointModelUrl(name));
  } catch {
    // A checkpoint saved without a model has none to delete; that is not an error.
  }
}
