import * as tf from '@tensorflow/tfjs-core';
import type { VariableSource } from './checkpoint';
import { invalidArgument, RobustFtError } from './errors';
import type { NamedTensor } from './named-tensors';
import type { JsonObject } from './optimizer-registry';

// The codec of robust-ft's own checkpoint record (variables, a separate optimizer's weights, metadata),
// shared by @robust-ft/backend-web (IndexedDB) and @robust-ft/backend-node (a directory). Internal: users
// go through `saveCheckpoint`/`loadCheckpoint`.

/**
 * The checkpoint's own record (everything but a layers model, which tfjs stores itself). It travels as
 * a `tf.io.ModelArtifacts` so tfjs's IndexedDB handler can store it: the JSON goes in `modelTopology`,
 * the tensors in `weightSpecs`/`weightData`.
 */
export interface CheckpointRecord {
  format: 'robust-ft-checkpoint';
  version: 1;
  savedAt: string;
  /** True when a layers model was saved beside this record (under `checkpointModelUrl(name)`). */
  hasModel: boolean;
  /** Names of the saved variables, in order. */
  variables: string[];
  /** Number of optimizer weights saved, or null when no optimizer state was saved here. */
  optimizerWeights: number | null;
  metadata: JsonObject;
}

export interface UnpackedCheckpoint {
  record: CheckpointRecord;
  variables: Record<string, tf.Tensor>;
  optimizerWeights: NamedTensor[];
}

const FORMAT = 'robust-ft-checkpoint';
// Prefixes keep variable names and optimizer weight names from colliding in one weight list.
const VAR = 'v:';
const OPT = 'o:';

export function variableEntries(source: VariableSource, argument: string): [string, tf.Tensor][] {
  if (Array.isArray(source)) {
    return source.map((v, i) => {
      if (!(v instanceof tf.Variable)) throw invalidArgument(`${argument}[${i}]`, 'a tf.Variable', v);
      return [v.name, v];
    });
  }
  if (typeof source !== 'object' || source === null) {
    throw invalidArgument(argument, 'a map of name → tensor or an array of tf.Variable', source);
  }
  return Object.entries(source as Record<string, tf.Tensor>).map(([name, t]) => {
    if (!(t instanceof tf.Tensor)) throw invalidArgument(`${argument}["${name}"]`, 'a tf.Tensor', t);
    return [name, t];
  });
}

/** Encodes variables and optimizer weights into artifacts; reads tensor data, so it is async. */
export async function packCheckpoint(parts: {
  variables?: VariableSource | undefined;
  optimizerWeights?: NamedTensor[] | undefined;
  hasModel: boolean;
  metadata?: JsonObject | undefined;
  now?: Date;
}): Promise<tf.io.ModelArtifacts> {
  const vars = parts.variables === undefined ? [] : variableEntries(parts.variables, 'parts.variables');
  const named: NamedTensor[] = vars.map(([name, tensor]) => ({ name: VAR + name, tensor }));
  for (const w of parts.optimizerWeights ?? []) named.push({ name: OPT + w.name, tensor: w.tensor });
  const { data, specs } = await tf.io.encodeWeights(named);
  const record: CheckpointRecord = {
    format: FORMAT,
    version: 1,
    savedAt: (parts.now ?? new Date()).toISOString(),
    hasModel: parts.hasModel,
    variables: vars.map(([name]) => name),
    optimizerWeights: parts.optimizerWeights === undefined ? null : parts.optimizerWeights.length,
    metadata: parts.metadata ?? {},
  };
  return {
    modelTopology: record as unknown as JsonObject,
    format: FORMAT,
    generatedBy: 'robust-ft',
    weightSpecs: specs,
    weightData: data,
  };
}

/** Decodes artifacts written by `packCheckpoint`; the caller owns (and must dispose) every tensor. */
export function unpackCheckpoint(artifacts: tf.io.ModelArtifacts, name: string): UnpackedCheckpoint {
  const record = artifacts.modelTopology as unknown as CheckpointRecord | undefined;
  if (artifacts.format !== FORMAT || record?.format !== FORMAT || record.version !== 1) {
    throw new RobustFtError('STATE_MISMATCH', `checkpoint "${name}" was not written by robust-ft (v1)`, {
      argument: 'name',
    });
  }
  const decoded =
    artifacts.weightSpecs === undefined || artifacts.weightData === undefined
      ? {}
      : tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  const variables: Record<string, tf.Tensor> = {};
  const optimizerWeights: NamedTensor[] = [];
  // Walk the specs, not the decoded map, so optimizer weights keep their saved order (setWeights needs it).
  for (const spec of artifacts.weightSpecs ?? []) {
    const tensor = decoded[spec.name];
    if (tensor === undefined) continue;
    if (spec.name.startsWith(VAR)) variables[spec.name.slice(VAR.length)] = tensor;
    else if (spec.name.startsWith(OPT)) optimizerWeights.push({ name: spec.name.slice(OPT.length), tensor });
    else tensor.dispose();
  }
  return { record, variables, optimizerWeights };
}

/**
 * Checks every target against the saved values and returns the assignment, which cannot fail: a
 * loader checks the variables, then restores the optimizer (itself all-or-nothing), then assigns.
 */
export function prepareAssignVariables(
  targets: VariableSource,
  saved: Record<string, tf.Tensor>,
  label: string,
): () => void {
  const entries = variableEntries(targets, 'options.variables');
  for (const [key, target] of entries) {
    if (!(target instanceof tf.Variable)) {
      throw invalidArgument(`options.variables["${key}"]`, 'a tf.Variable to restore into', target);
    }
    const value = saved[key];
    if (value === undefined) {
      throw new RobustFtError('STATE_MISMATCH', `${label} holds no variable "${key}"`, {
        argument: 'options.variables',
      });
    }
    if (!tf.util.arraysEqual(value.shape, target.shape) || value.dtype !== target.dtype) {
      throw new RobustFtError(
        'STATE_MISMATCH',
        `variable "${key}" is ${target.dtype}[${target.shape}] but ${label} holds ${value.dtype}[${value.shape}]`,
        { argument: 'options.variables' },
      );
    }
  }
  return () => {
    for (const [key, target] of entries) (target as tf.Variable).assign(saved[key]!);
  };
}
