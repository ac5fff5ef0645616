import {
  type CheckpointParts,
  type JsonObject,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  type NamedTensor,
  RobustFtError,
  type SavableModel,
} from '@robust-ft/core';
import {
  type CheckpointRecord,
  checkCheckpointParts,
  checkLoadCheckpointOptions,
  concatBytes,
  invalidArgument,
  packCheckpoint,
  parseDocument,
  restoreCheckpoint,
  sealDocument,
  unpackCheckpoint,
  unverifiedCheckpoint,
  verifyData,
  verifyDocument,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';
import { deleteStored, readStored, storedNames, writeStored } from './checkpoint-store';

const STATE_PREFIX = 'robust-ft-ckpt:';
const MODEL_PREFIX = 'robust-ft-model:';
/** The URL scheme under which `tf.loadLayersModel` finds a checkpoint's model (a registered load router). */
const SCHEME = 'robust-ft-checkpoint://';

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw invalidArgument('name', 'a non-empty string', name);
  return name;
}

/**
 * The URL of a checkpoint's layers model, for `tf.loadLayersModel` directly: robust-ft registers a
 * load router for it, which reads and verifies the checkpoint before tfjs decodes anything.
 */
export function checkpointModelUrl(name: string): string {
  return `${SCHEME}${checkName(name)}`;
}

function ioError(what: string, name: string, cause: unknown): RobustFtError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new RobustFtError('IO', `could not ${what} checkpoint "${name}" in IndexedDB: ${detail}`, {
    argument: 'name',
    cause,
  });
}

/** The sealed document of a checkpoint: our record, our manifest, and the layers model minus its bytes. */
interface CheckpointDocument {
  format: 'robust-ft-checkpoint';
  version: 2;
  record: CheckpointRecord;
  /** Variables and optimizer weights (`v:`/`o:` names), first in `data`. */
  stateSpecs: tf.io.WeightsManifestEntry[];
  /** The layers model's artifacts without weight data (which follows the state in `data`), or null. */
  model: (Omit<tf.io.ModelJSON, 'weightsManifest'> & { weightSpecs: tf.io.WeightsManifestEntry[] }) | null;
}

/** A layers model's artifacts, captured in memory (tfjs-layers writes them through a save handler). */
async function captureModel(model: SavableModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
    { includeOptimizer: model.optimizer != null },
  );
  if (captured === undefined || captured.modelTopology instanceof ArrayBuffer) {
    throw new RobustFtError('UNSUPPORTED', 'the model did not produce JSON artifacts to checkpoint', {
      argument: 'parts.model',
    });
  }
  return captured;
}

/**
 * Saves a checkpoint to IndexedDB under `name`, replacing any earlier one. Everything — the layers model
 * (with its optimizer), variables, a separate optimizer's `getWeights()` and metadata — goes into one
 * record written in one transaction, sealed with SHA-256 checksums and per-entry byte lengths.
 */
export async function saveCheckpoint(name: string, parts: CheckpointParts): Promise<void> {
  checkName(name);
  const optimizer = checkCheckpointParts(parts);
  const { model, variables, metadata } = parts;
  let modelArtifacts: tf.io.ModelArtifacts | undefined;
  if (model !== undefined) {
    try {
      modelArtifacts = await captureModel(model);
    } catch (error) {
      if (RobustFtError.isInstance(error)) throw error;
      throw ioError('save the model of', name, error);
    }
  }
  const state = await packCheckpoint({
    variables,
    optimizerWeights: optimizer === undefined ? undefined : await optimizer.getWeights(),
    hasModel: model !== undefined,
    metadata,
  });
  const stateSpecs = state.weightSpecs ?? [];
  const stateBytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(state.weightData ?? []));
  let modelPart: CheckpointDocument['model'] = null;
  let modelBytes = new Uint8Array(0);
  if (modelArtifacts !== undefined) {
    const { weightData, weightSpecs, modelTopology, ...rest } = modelArtifacts;
    modelBytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(weightData ?? []));
    modelPart = { ...rest, modelTopology: modelTopology as object, weightSpecs: weightSpecs ?? [] };
  }
  const document: CheckpointDocument = {
    format: 'robust-ft-checkpoint',
    version: 2,
    record: state.modelTopology as unknown as CheckpointRecord,
    stateSpecs,
    model: modelPart,
  };
  const data = concatBytes([stateBytes, modelBytes]);
  const sealed = await sealDocument(JSON.parse(JSON.stringify(document)) as object, allSpecs(document), data);
  try {
    await writeStored({ name, document: JSON.stringify(sealed), data: data.buffer as ArrayBuffer });
  } catch (error) {
    if (RobustFtError.isInstance(error)) throw error;
    throw ioError('save', name, error);
  }
}

function allSpecs(document: Pick<CheckpointDocument, 'stateSpecs' | 'model'>): tf.io.WeightsManifestEntry[] {
  return [...(document.stateSpecs ?? []), ...(document.model?.weightSpecs ?? [])];
}

/** Reads and verifies a checkpoint; nothing is decoded before both checks pass. */
async function readVerified(
  name: string,
): Promise<{ document: CheckpointDocument; data: Uint8Array; stateBytes: number } | undefined> {
  let stored: Awaited<ReturnType<typeof readStored>>;
  try {
    stored = await readStored(name);
  } catch (error) {
    if (RobustFtError.isInstance(error)) throw error;
    throw ioError('load', name, error);
  }
  if (stored === undefined) return undefined;
  const label = `checkpoint "${name}"`;
  const raw = parseDocument(
    typeof stored.document === 'string' ? stored.document : '',
    `${label} (document)`,
  );
  const doc = raw as unknown as Partial<CheckpointDocument>;
  const ok =
    Array.isArray(doc.stateSpecs) &&
    (doc.model === null || (typeof doc.model === 'object' && Array.isArray(doc.model?.weightSpecs)));
  const specs = ok ? allSpecs(doc as CheckpointDocument) : [];
  const record = await verifyDocument(raw, specs, `${label} (document)`);
  if (record === undefined) throw unverifiedCheckpoint(`${label} (document)`, 'allowUnverified');
  if (!ok || doc.format !== 'robust-ft-checkpoint' || doc.version !== 2) {
    throw new RobustFtError('CHECKPOINT_CORRUPT', `${label} (document) is not a robust-ft checkpoint`, {
      argument: name,
    });
  }
  const data = stored.data instanceof ArrayBuffer ? new Uint8Array(stored.data) : new Uint8Array(0);
  await verifyData(record, data, `${label} (data)`);
  const stateBytes = record.entries.slice(0, doc.stateSpecs!.length).reduce((n, e) => n + e.byteLength, 0);
  return { document: doc as CheckpointDocument, data, stateBytes };
}

function sliceBuffer(data: Uint8Array, from: number, to: number): ArrayBuffer {
  return data.buffer.slice(data.byteOffset + from, data.byteOffset + to) as ArrayBuffer;
}

/** The load handler behind `checkpointModelUrl(name)`. */
function modelHandler(name: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const found = await readVerified(name);
      if (found === undefined) throw ioError('load', name, new Error('no such checkpoint'));
      const model = found.document.model;
      if (model === null) {
        throw new RobustFtError('STATE_MISMATCH', `checkpoint "${name}" holds no model`, {
          argument: 'name',
        });
      }
      const { weightSpecs, ...json } = model;
      return {
        ...(json as tf.io.ModelArtifacts),
        weightSpecs,
        weightData: sliceBuffer(found.data, found.stateBytes, found.data.byteLength),
      };
    },
  };
}

// tfjs's IORouter type says IOHandler, but routers return null for URLs that are not theirs (as its own do).
tf.io.registerLoadRouter(((url: string | string[]) => {
  const path = Array.isArray(url) ? url[0] : url;
  return typeof path === 'string' && path.startsWith(SCHEME) ? modelHandler(path.slice(SCHEME.length)) : null;
}) as Parameters<typeof tf.io.registerLoadRouter>[0]);

/**
 * Loads a checkpoint written by `saveCheckpoint`: verifies its checksums and byte lengths, then
 * assigns `variables`, restores `optimizer` and, when `loadModel` is given, rebuilds the model (with its
 * optimizer state, if it had one). Decoded tensors are staging copies: the variables and the optimizer
 * check them completely before assigning anything, and they are disposed whatever happens.
 */
export async function loadCheckpoint<M = unknown>(
  name: string,
  options: LoadCheckpointOptions<M> = {},
): Promise<LoadedCheckpoint<M>> {
  checkName(name);
  checkLoadCheckpointOptions(options);
  const found = await readVerified(name);
  if (found === undefined) return loadLegacy(name, options);
  const { document, data, stateBytes } = found;
  const { record, variables, optimizerWeights } = unpackCheckpoint(
    {
      modelTopology: document.record as unknown as JsonObject,
      format: document.format,
      weightSpecs: document.stateSpecs,
      weightData: sliceBuffer(data, 0, stateBytes),
    },
    name,
  );
  return restore(name, record, variables, optimizerWeights, options, checkpointModelUrl(name));
}

async function restore<M>(
  name: string,
  record: CheckpointRecord,
  variables: Record<string, tf.Tensor>,
  optimizerWeights: NamedTensor[],
  options: LoadCheckpointOptions<M>,
  modelUrl: string,
): Promise<LoadedCheckpoint<M>> {
  try {
    return await restoreCheckpoint(
      {
        label: `checkpoint "${name}"`,
        record,
        variables,
        restoreOptimizer: (optimizer) => optimizer.setWeights(optimizerWeights),
        async loadModel(load) {
          try {
            return await load(modelUrl);
          } catch (error) {
            if (RobustFtError.isInstance(error)) throw error;
            throw ioError('load the model of', name, error);
          }
        },
      },
      options,
    );
  } finally {
    for (const w of optimizerWeights) w.tensor.dispose();
  }
}

/** A v1 checkpoint (tfjs's IndexedDB, no checksums): refused unless `allowUnverified`. */
async function loadLegacy<M>(name: string, options: LoadCheckpointOptions<M>): Promise<LoadedCheckpoint<M>> {
  const url = `indexeddb://${STATE_PREFIX}${name}`;
  const handler = tf.io.getLoadHandlers(url)[0];
  const exists = handler !== undefined && url in (await tf.io.listModels().catch(() => ({})));
  if (!exists) throw ioError('load', name, new Error('no such checkpoint'));
  if (options.allowUnverified !== true) throw unverifiedCheckpoint(`checkpoint "${name}"`, 'allowUnverified');
  console.warn(`robust-ft: loading checkpoint "${name}" without integrity checks (it has no checksums)`);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await handler.load!();
  } catch (error) {
    throw ioError('load', name, error);
  }
  const { record, variables, optimizerWeights } = unpackCheckpoint(artifacts, name);
  return restore(name, record, variables, optimizerWeights, options, `indexeddb://${MODEL_PREFIX}${name}`);
}

/** Names of the checkpoints in this origin's IndexedDB. */
export async function listCheckpoints(): Promise<string[]> {
  try {
    return (await storedNames()).sort();
  } catch (error) {
    if (RobustFtError.isInstance(error)) throw error;
    throw ioError('list', '*', error);
  }
}

/** Deletes a checkpoint (one transaction). A missing checkpoint throws `IO`. */
export async function deleteCheckpoint(name: string): Promise<void> {
  checkName(name);
  let deleted: boolean;
  try {
    deleted = await deleteStored(name);
  } catch (error) {
    if (RobustFtError.isInstance(error)) throw error;
    throw ioError('delete', name, error);
  }
  if (!deleted) throw ioError('delete', name, new Error('no such checkpoint'));
}
