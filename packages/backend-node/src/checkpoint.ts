import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type CheckpointParts,
  type CheckpointVerifyOptions,
  type JsonObject,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  RobustFtError,
  type StatefulOptimizer,
} from '@robust-ft/core';
import {
  type CheckpointRecord,
  checkCheckpointParts,
  checkLoadCheckpointOptions,
  checkOptions,
  concatBytes,
  INTEGRITY_KEY,
  invalidArgument,
  type OptionSchema,
  packCheckpoint,
  parseDocument,
  restoreCheckpoint,
  sealDocument,
  sha256Hex,
  unpackCheckpoint,
  unverifiedCheckpoint,
  verifyData,
  verifyDocument,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Node file IO for checkpoints: the same `saveCheckpoint`/`loadCheckpoint` API as @robust-ft/backend-web,
 * with a directory where the browser has a name. A checkpoint directory holds up to three documents, each
 * with its own weights file: `model.json` (a layers model in tfjs's own format, written through
 * `fileSystemHandler(dir)`, so it also loads with tfjs-node's `file://` handler), `optimizer.json` (a
 * separate optimizer's `getWeights()`, with its class name) and `checkpoint.json` (variables, metadata and
 * the save time). `fileSystemHandler(dir)` is also a plain `tf.io.IOHandler` for `model.save`/`tf.loadLayersModel`.
 *
 * Integrity: each JSON document carries a SHA-256 of itself and the byte length and SHA-256 of every
 * weight entry (core's checkpoint-integrity); both are checked before anything is decoded, so damage is
 * a `CHECKPOINT_CORRUPT` naming the file and entry. Atomicity: the weights go to a new file named by
 * their hash, then the JSON document is renamed into place (the commit), then unreferenced weight files
 * are removed — a crash at any point leaves the previous checkpoint loadable.
 * Checkpoints written before checksums existed are refused with `CHECKPOINT_CORRUPT` unless
 * `{ allowUnverified: true }` is passed (they then load as before, with a warning).
 */

const MODEL_JSON = 'model.json';
const OPTIMIZER_JSON = 'optimizer.json';
const MODEL_WEIGHTS = 'weights';
const OPTIMIZER_WEIGHTS = 'optimizer';

const CHECKPOINT_JSON = 'checkpoint.json';
const STATE_WEIGHTS = 'state';
/** The URL scheme under which `tf.loadLayersModel` finds a checkpoint directory's model (a load router). */
const SCHEME = 'robust-ft-file://';

/** @deprecated Use `CheckpointVerifyOptions` (core's, the same in Node and the browser). */
export type CheckpointLoadOptions = CheckpointVerifyOptions;

const LOAD_OPTIONS: OptionSchema<CheckpointVerifyOptions> = { allowUnverified: 'boolean' };

function ioError(message: string, path: string, cause: unknown): RobustFtError {
  return new RobustFtError(
    'IO',
    `${message} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    {
      argument: path,
      cause,
    },
  );
}

function checkDir(argument: string, dir: unknown): asserts dir is string {
  if (typeof dir !== 'string' || dir.length === 0)
    throw invalidArgument(argument, 'a non-empty directory path', dir);
}

function checkOptimizer(
  optimizer: unknown,
  method: 'getWeights' | 'setWeights',
): asserts optimizer is tf.Optimizer {
  if (typeof (optimizer as Partial<tf.Optimizer> | undefined)?.[method] !== 'function')
    throw invalidArgument('optimizer', 'a tf.Optimizer', optimizer);
}

/** Writes via a temporary file and a rename, so a crash never leaves a half-written file. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Commits one checkpoint document: weights first (a new file, named by content, so the old one stays
 * valid), then the JSON by rename, then the weight files no document references any more.
 */
async function commit(
  dir: string,
  jsonName: string,
  weightsPrefix: string,
  data: Uint8Array,
  build: (weightsFile: string) => Promise<object>,
): Promise<void> {
  const weightsFile = `${weightsPrefix}-${(await sha256Hex(data)).slice(0, 16)}.bin`;
  const document = await build(weightsFile);
  try {
    await mkdir(dir, { recursive: true });
    await writeAtomic(join(dir, weightsFile), data);
    await writeAtomic(join(dir, jsonName), JSON.stringify(document));
  } catch (cause) {
    throw ioError('cannot write checkpoint to', dir, cause);
  }
  // Best effort: a stale weights file is harmless (nothing references it).
  const stale = new RegExp(`^${weightsPrefix}-[0-9a-f]{16}\\.bin$`);
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (stale.test(f) && f !== weightsFile) await rm(join(dir, f), { force: true }).catch(() => undefined);
  }
}

/** Reads and verifies a checkpoint document and its single weights file; nothing is decoded here. */
async function readVerified(
  dir: string,
  jsonName: string,
  specsOf: (document: Record<string, unknown>) => { specs: tf.io.WeightsManifestEntry[]; paths: string[] },
  options: CheckpointVerifyOptions,
): Promise<{ document: Record<string, unknown>; data: Uint8Array; verified: boolean }> {
  const jsonPath = join(dir, jsonName);
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (cause) {
    throw ioError('cannot read', jsonPath, cause);
  }
  const document = parseDocument(text, jsonPath);
  const { specs, paths } = specsOf(document);
  const record = await verifyDocument(document, specs, jsonPath);
  if (record === undefined) {
    if (options.allowUnverified !== true) throw unverifiedCheckpoint(jsonPath, 'allowUnverified');
    console.warn(`robust-ft: loading ${jsonPath} without integrity checks (it has no checksums)`);
  } else if (paths.length !== 1) {
    throw new RobustFtError(
      'CHECKPOINT_CORRUPT',
      `${jsonPath}: expected one weights file, found ${paths.length}`,
      {
        argument: jsonPath,
      },
    );
  }
  const buffers: Uint8Array[] = [];
  for (const p of paths) {
    const path = join(dir, p);
    try {
      buffers.push(await readFile(path));
    } catch (cause) {
      if (record === undefined) throw ioError('cannot read', path, cause);
      throw new RobustFtError(
        'CHECKPOINT_CORRUPT',
        `${path} is missing or unreadable (${jsonName} refers to it): ${cause instanceof Error ? cause.message : String(cause)}`,
        { argument: path, cause },
      );
    }
  }
  const data = buffers.length === 1 ? buffers[0]! : concatBytes(buffers);
  if (record !== undefined) await verifyData(record, data, join(dir, paths[0]!));
  return { document, data, verified: record !== undefined };
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function joinWeights(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

function manifestOf(
  document: Record<string, unknown>,
  file: string,
): { specs: tf.io.WeightsManifestEntry[]; paths: string[] } {
  const manifest = document.weightsManifest;
  const ok =
    Array.isArray(manifest) &&
    manifest.every(
      (g) =>
        typeof g === 'object' &&
        g !== null &&
        Array.isArray((g as tf.io.WeightsManifestConfig[number]).paths) &&
        Array.isArray((g as tf.io.WeightsManifestConfig[number]).weights),
    );
  if (!ok) {
    throw new RobustFtError('CHECKPOINT_CORRUPT', `${file} has no readable weightsManifest`, {
      argument: file,
    });
  }
  const groups = manifest as tf.io.WeightsManifestConfig;
  return { specs: groups.flatMap((g) => g.weights), paths: groups.flatMap((g) => g.paths) };
}

/** An IOHandler that saves to and loads from `dir` (created on save). */
export function fileSystemHandler(dir: string, options: CheckpointVerifyOptions = {}): tf.io.IOHandler {
  checkDir('dir', dir);
  checkOptions('fileSystemHandler', options, LOAD_OPTIONS);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new RobustFtError('UNSUPPORTED', 'binary model topologies cannot be saved as model.json', {
          argument: 'artifacts.modelTopology',
        });
      }
      const weights = joinWeights(artifacts.weightData);
      const specs = artifacts.weightSpecs ?? [];
      await commit(dir, MODEL_JSON, MODEL_WEIGHTS, weights, async (weightsFile) => {
        const json: tf.io.ModelJSON = {
          modelTopology: artifacts.modelTopology ?? {},
          weightsManifest: [{ paths: [weightsFile], weights: specs }],
          format: artifacts.format,
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy,
        };
        if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
        if (artifacts.signature !== undefined) json.signature = artifacts.signature;
        if (artifacts.userDefinedMetadata !== undefined)
          json.userDefinedMetadata = artifacts.userDefinedMetadata;
        if (artifacts.modelInitializer !== undefined) json.modelInitializer = artifacts.modelInitializer;
        if (artifacts.initializerSignature !== undefined)
          json.initializerSignature = artifacts.initializerSignature;
        // JSON round trip first: the checksum is of the document exactly as it will be parsed back.
        return sealDocument(JSON.parse(JSON.stringify(json)) as object, specs, weights);
      });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = join(dir, MODEL_JSON);
      const { document, data } = await readVerified(dir, MODEL_JSON, (d) => manifestOf(d, file), options);
      const { [INTEGRITY_KEY]: _record, ...json } = document;
      const buffer = toArrayBuffer(data);
      return tf.io.getModelArtifactsForJSON(json as unknown as tf.io.ModelJSON, async (manifest) => [
        tf.io.getWeightSpecs(manifest),
        buffer,
      ]);
    },
  };
}

interface OptimizerFile {
  format: 'robust-ft-optimizer';
  version: 1 | 2;
  className: string;
  /** The weights file (version 2); version 1 always used `optimizer.bin`. */
  path?: string;
  weightsManifest: tf.io.WeightsManifestEntry[];
}

/** Writes a separate optimizer's `getWeights()` to `dir/optimizer.json` + a weights file; its weight count. */
async function writeOptimizerState(optimizer: StatefulOptimizer, dir: string): Promise<number> {
  const named = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data);
  await commit(dir, OPTIMIZER_JSON, OPTIMIZER_WEIGHTS, bytes, async (path) => {
    const file: OptimizerFile = {
      format: 'robust-ft-optimizer',
      version: 2,
      className: classNameOf(optimizer),
      path,
      weightsManifest: specs,
    };
    return sealDocument(JSON.parse(JSON.stringify(file)) as object, specs, bytes);
  });
  return named.length;
}

function classNameOf(optimizer: StatefulOptimizer): string {
  const getClassName = (optimizer as Partial<tf.Optimizer>).getClassName;
  return typeof getClassName === 'function' ? getClassName.call(optimizer) : '';
}

/**
 * Restores `dir/optimizer.json` into `optimizer` (same class, same variables). The files are verified
 * before decoding; the decoded tensors are staging copies that `setWeights` validates before it assigns
 * anything, and they are disposed whatever happens.
 */
async function readOptimizerState(
  optimizer: StatefulOptimizer,
  dir: string,
  options: CheckpointVerifyOptions,
): Promise<void> {
  const jsonPath = join(dir, OPTIMIZER_JSON);
  const { document, data } = await readVerified(
    dir,
    OPTIMIZER_JSON,
    (d) => {
      const f = d as Partial<OptimizerFile>;
      if (f.format !== 'robust-ft-optimizer' || !Array.isArray(f.weightsManifest)) {
        throw new RobustFtError('STATE_MISMATCH', `${jsonPath} is not a robust-ft optimizer state file`, {
          argument: jsonPath,
        });
      }
      return { specs: f.weightsManifest, paths: [typeof f.path === 'string' ? f.path : 'optimizer.bin'] };
    },
    options,
  );
  const file = document as unknown as OptimizerFile;
  const className = classNameOf(optimizer);
  if (file.className !== className) {
    throw new RobustFtError(
      'STATE_MISMATCH',
      `${jsonPath}: optimizer state was saved from ${file.className}, cannot load into ${className}`,
      { argument: 'optimizer', expected: file.className },
    );
  }
  let decoded: tf.NamedTensorMap;
  try {
    decoded = tf.io.decodeWeights(toArrayBuffer(data), file.weightsManifest);
  } catch (cause) {
    // Only reachable for unverified files: verified bytes always decode.
    throw new RobustFtError('CHECKPOINT_CORRUPT', `${jsonPath}: cannot decode the optimizer weights`, {
      argument: jsonPath,
      cause,
    });
  }
  // Keep the manifest order: optimizers restore positionally (tfjs) or by name (robust-ft).
  const named = file.weightsManifest.map((spec) => ({ name: spec.name, tensor: decoded[spec.name]! }));
  try {
    await optimizer.setWeights(named);
  } catch (error) {
    if (RobustFtError.isInstance(error)) {
      throw new RobustFtError(error.code, `${jsonPath}: ${error.message}`, {
        ...(error.argument === undefined ? {} : { argument: error.argument }),
        ...(error.expected === undefined ? {} : { expected: error.expected }),
        cause: error,
      });
    }
    throw new RobustFtError(
      'STATE_MISMATCH',
      `${jsonPath}: the optimizer rejected the state: ${String(error)}`,
      {
        argument: jsonPath,
        cause: error,
      },
    );
  } finally {
    // setWeights copies (robust-ft clones; tfjs's variable() holds its own reference), so ours go.
    tf.dispose(Object.values(decoded));
  }
}

/** The document of `checkpoint.json`: robust-ft's record and the manifest of its weights file. */
interface StateFile {
  record: CheckpointRecord;
  path: string;
  weightsManifest: tf.io.WeightsManifestEntry[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The URL of a checkpoint directory's layers model, for `tf.loadLayersModel`: robust-ft registers a load
 * router for it that reads through `fileSystemHandler(dir)`, so the files are verified before decoding.
 */
export function checkpointModelUrl(dir: string): string {
  checkDir('dir', dir);
  return `${SCHEME}${resolve(dir)}`;
}

/** Directories whose model may load without checksums (set only while `loadCheckpoint` builds it). */
const unverifiedModels = new Set<string>();

// tfjs's IORouter type says IOHandler, but routers return null for URLs that are not theirs (as its own do).
tf.io.registerLoadRouter(((url: string | string[]) => {
  const path = Array.isArray(url) ? url[0] : url;
  if (typeof path !== 'string' || !path.startsWith(SCHEME)) return null;
  const dir = path.slice(SCHEME.length);
  return fileSystemHandler(dir, { allowUnverified: unverifiedModels.has(dir) });
}) as Parameters<typeof tf.io.registerLoadRouter>[0]);

/**
 * Saves a checkpoint to the directory `dir` (created if needed), replacing any earlier one there: the
 * layers model (with its optimizer), a separate optimizer's `getWeights()`, variables and metadata. Each
 * file is written atomically and sealed with SHA-256 checksums and per-entry byte lengths;
 * `checkpoint.json` is written after the model and optimizer, and the documents of parts this save does
 * not include are removed last.
 */
export async function saveCheckpoint(dir: string, parts: CheckpointParts): Promise<void> {
  checkDir('dir', dir);
  const optimizer = checkCheckpointParts(parts);
  const { model } = parts;
  if (model !== undefined) {
    await model.save(fileSystemHandler(dir), { includeOptimizer: model.optimizer != null });
  }
  const optimizerWeights = optimizer === undefined ? null : await writeOptimizerState(optimizer, dir);
  const state = await packCheckpoint({
    variables: parts.variables,
    hasModel: model !== undefined,
    metadata: parts.metadata,
  });
  const record = { ...(state.modelTopology as unknown as CheckpointRecord), optimizerWeights };
  const specs = state.weightSpecs ?? [];
  const bytes = joinWeights(state.weightData);
  await commit(dir, CHECKPOINT_JSON, STATE_WEIGHTS, bytes, async (path) => {
    const file: StateFile = { record, path, weightsManifest: specs };
    return sealDocument(JSON.parse(JSON.stringify(file)) as object, specs, bytes);
  });
  if (model === undefined) await removeDocument(dir, MODEL_JSON, MODEL_WEIGHTS);
  if (optimizer === undefined) await removeDocument(dir, OPTIMIZER_JSON, OPTIMIZER_WEIGHTS);
}

/** Removes one document and its weights files; true when the document existed. */
async function removeDocument(dir: string, jsonName: string, weightsPrefix: string): Promise<boolean> {
  const had = await exists(join(dir, jsonName));
  try {
    await rm(join(dir, jsonName), { force: true });
  } catch (cause) {
    throw ioError('cannot remove', join(dir, jsonName), cause);
  }
  const weights = new RegExp(`^${weightsPrefix}(-[0-9a-f]{16})?\\.bin$`);
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (weights.test(f)) await rm(join(dir, f), { force: true }).catch(() => undefined);
  }
  return had;
}

/** The record and variables of `dir`; a directory without `checkpoint.json` (model/optimizer files only) has none. */
async function readState(
  dir: string,
  options: CheckpointVerifyOptions,
): Promise<{ record: CheckpointRecord; variables: Record<string, tf.Tensor> }> {
  const hasModel = await exists(join(dir, MODEL_JSON));
  const hasOptimizer = await exists(join(dir, OPTIMIZER_JSON));
  const jsonPath = join(dir, CHECKPOINT_JSON);
  if (!(await exists(jsonPath))) {
    if (!hasModel && !hasOptimizer) throw ioError('no checkpoint in', dir, new Error('no such checkpoint'));
    // Written by fileSystemHandler/saveOptimizerState alone: the files present are the checkpoint.
    const modified = (await stat(join(dir, hasModel ? MODEL_JSON : OPTIMIZER_JSON))).mtime;
    const record: CheckpointRecord = {
      format: 'robust-ft-checkpoint',
      version: 1,
      savedAt: modified.toISOString(),
      hasModel,
      variables: [],
      optimizerWeights: hasOptimizer ? 0 : null,
      metadata: {} as JsonObject,
    };
    return { record, variables: {} };
  }
  const { document, data } = await readVerified(
    dir,
    CHECKPOINT_JSON,
    (d) => {
      const f = d as Partial<StateFile>;
      if (typeof f.record !== 'object' || !Array.isArray(f.weightsManifest) || typeof f.path !== 'string') {
        throw new RobustFtError('CHECKPOINT_CORRUPT', `${jsonPath} is not a robust-ft checkpoint record`, {
          argument: jsonPath,
        });
      }
      return { specs: f.weightsManifest, paths: [f.path] };
    },
    options,
  );
  const file = document as unknown as StateFile;
  const { record, variables, optimizerWeights } = unpackCheckpoint(
    {
      modelTopology: file.record as unknown as JsonObject,
      format: 'robust-ft-checkpoint',
      weightSpecs: file.weightsManifest,
      weightData: toArrayBuffer(data),
    },
    dir,
  );
  tf.dispose(optimizerWeights.map((w) => w.tensor));
  // The files present decide what loads: a model or optimizer saved next to the record by the older
  // fileSystemHandler/saveOptimizerState calls counts too.
  return {
    record: {
      ...record,
      hasModel,
      optimizerWeights: hasOptimizer ? (record.optimizerWeights ?? 0) : null,
    },
    variables,
  };
}

/**
 * Loads the checkpoint in `dir` written by `saveCheckpoint`: verifies every file's checksums and byte
 * lengths, then assigns `variables`, restores `optimizer` and, when `loadModel` is given, builds the
 * model from `checkpointModelUrl(dir)` (with its optimizer state, if it had one). Decoded tensors are
 * staging copies: the variables and the optimizer check them completely before assigning anything, and
 * they are disposed whatever happens.
 */
export async function loadCheckpoint<M = unknown>(
  dir: string,
  options: LoadCheckpointOptions<M> = {},
): Promise<LoadedCheckpoint<M>> {
  checkDir('dir', dir);
  checkLoadCheckpointOptions(options);
  const { record, variables } = await readState(dir, options);
  return restoreCheckpoint(
    {
      label: `checkpoint ${dir}`,
      record,
      variables,
      restoreOptimizer: (optimizer) => readOptimizerState(optimizer, dir, options),
      async loadModel(load) {
        const url = checkpointModelUrl(dir);
        const key = url.slice(SCHEME.length);
        if (options.allowUnverified === true) unverifiedModels.add(key);
        try {
          return await load(url);
        } catch (error) {
          if (RobustFtError.isInstance(error)) throw error;
          throw ioError('cannot load the model of', dir, error);
        } finally {
          unverifiedModels.delete(key);
        }
      },
    },
    options,
  );
}

/** Checkpoint directories directly under `root` (those holding a checkpoint, model or optimizer document), sorted. */
export async function listCheckpoints(root: string): Promise<string[]> {
  checkDir('root', root);
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (cause) {
    throw ioError('cannot list', root, cause);
  }
  const found: string[] = [];
  for (const name of entries) {
    const dir = join(root, name);
    for (const doc of [CHECKPOINT_JSON, MODEL_JSON, OPTIMIZER_JSON]) {
      if (await exists(join(dir, doc))) {
        found.push(name);
        break;
      }
    }
  }
  return found.sort();
}

/**
 * Deletes the checkpoint in `dir`: its documents and weights files, then the directory if that leaves it
 * empty (other files are kept). A directory without a checkpoint throws `IO`.
 */
export async function deleteCheckpoint(dir: string): Promise<void> {
  checkDir('dir', dir);
  // The record first: without it a crash leaves at most model/optimizer files, which still load as such.
  const removed = [
    await removeDocument(dir, CHECKPOINT_JSON, STATE_WEIGHTS),
    await removeDocument(dir, MODEL_JSON, MODEL_WEIGHTS),
    await removeDocument(dir, OPTIMIZER_JSON, OPTIMIZER_WEIGHTS),
  ];
  if (!removed.some(Boolean)) throw ioError('no checkpoint in', dir, new Error('no such checkpoint'));
  await rmdir(dir).catch(() => undefined);
}

/**
 * Saves `optimizer.getWeights()` to `dir/optimizer.json` + a weights file it names, atomically, leaving
 * any other file in `dir` alone.
 * @deprecated Use `saveCheckpoint(dir, { optimizer })` (the same name and types as in the browser).
 */
export async function saveOptimizerState(optimizer: tf.Optimizer, dir: string): Promise<void> {
  checkDir('dir', dir);
  checkOptimizer(optimizer, 'getWeights');
  await writeOptimizerState(optimizer, dir);
}

/**
 * Restores the optimizer state in `dir` into `optimizer` (same class, same variables).
 * @deprecated Use `loadCheckpoint(dir, { optimizer, allowUnverified })` (the same name and types as in
 * the browser).
 */
export async function loadOptimizerState(
  optimizer: tf.Optimizer,
  dir: string,
  options: CheckpointVerifyOptions = {},
): Promise<void> {
  checkDir('dir', dir);
  checkOptimizer(optimizer, 'setWeights');
  checkOptions('loadOptimizerState', options, LOAD_OPTIONS);
  await readOptimizerState(optimizer, dir, options);
}
