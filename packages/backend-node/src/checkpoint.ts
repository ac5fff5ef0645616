import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument, RobustFtError } from '@robust-ft/core';
import {
  checkOptions,
  concatBytes,
  INTEGRITY_KEY,
  type OptionSchema,
  parseDocument,
  sealDocument,
  sha256Hex,
  unverifiedCheckpoint,
  verifyData,
  verifyDocument,
} from '@robust-ft/core/internal';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Node file IO for checkpoints. `fileSystemHandler(dir)` is a `tf.io.IOHandler` for
 * `model.save(handler, { includeOptimizer })` and `tf.loadLayersModel(handler)`, writing tfjs's own
 * format (model.json + a weights file named in its manifest) so the files also load with tfjs-node's
 * `file://` handler. `saveOptimizerState`/`loadOptimizerState` store any `tf.Optimizer`'s `getWeights()`.
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

export interface CheckpointLoadOptions {
  /** Load a checkpoint that has no integrity record (written by an older version). Default false. */
  allowUnverified?: boolean;
}

const LOAD_OPTIONS: OptionSchema<CheckpointLoadOptions> = { allowUnverified: 'boolean' };

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
  options: CheckpointLoadOptions,
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
export function fileSystemHandler(dir: string, options: CheckpointLoadOptions = {}): tf.io.IOHandler {
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

/** Saves `optimizer.getWeights()` to `dir/optimizer.json` + a weights file it names, atomically. */
export async function saveOptimizerState(optimizer: tf.Optimizer, dir: string): Promise<void> {
  checkDir('dir', dir);
  checkOptimizer(optimizer, 'getWeights');
  const named = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data);
  await commit(dir, OPTIMIZER_JSON, OPTIMIZER_WEIGHTS, bytes, async (path) => {
    const file: OptimizerFile = {
      format: 'robust-ft-optimizer',
      version: 2,
      className: optimizer.getClassName(),
      path,
      weightsManifest: specs,
    };
    return sealDocument(JSON.parse(JSON.stringify(file)) as object, specs, bytes);
  });
}

/**
 * Restores state written by `saveOptimizerState` into `optimizer` (same class, same variables). The
 * files are verified before decoding; the decoded tensors are staging copies that `setWeights`
 * validates before it assigns anything, and they are disposed whatever happens.
 */
export async function loadOptimizerState(
  optimizer: tf.Optimizer,
  dir: string,
  options: CheckpointLoadOptions = {},
): Promise<void> {
  checkDir('dir', dir);
  checkOptimizer(optimizer, 'setWeights');
  checkOptions('loadOptimizerState', options, LOAD_OPTIONS);
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
  if (file.className !== optimizer.getClassName()) {
    throw new RobustFtError(
      'STATE_MISMATCH',
      `${jsonPath}: optimizer state was saved from ${file.className}, cannot load into ${optimizer.getClassName()}`,
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
