import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument, RobustFtError } from '@robust-ft/core';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Node file IO for checkpoints. `fileSystemHandler(dir)` is a `tf.io.IOHandler` for
 * `model.save(handler, { includeOptimizer })` and `tf.loadLayersModel(handler)`, writing tfjs's own
 * format (model.json + weights.bin) so the files also load with tfjs-node's `file://` handler.
 * `saveOptimizerState`/`loadOptimizerState` store any `tf.Optimizer`'s `getWeights()`.
 */

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';

function ioError(message: string, path: string, cause: unknown): RobustFtError {
  return new RobustFtError(
    'IO',
    `${message} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    {
      cause,
    },
  );
}

function checkDir(argument: string, dir: unknown): asserts dir is string {
  if (typeof dir !== 'string' || dir.length === 0)
    throw invalidArgument(argument, 'a non-empty directory path', dir);
}

/** Writes via a temporary file and a rename, so a crash never leaves a half-written checkpoint file. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function joinWeights(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** An IOHandler that saves to and loads from `dir` (created on save). */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  checkDir('dir', dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new RobustFtError('UNSUPPORTED', 'binary model topologies cannot be saved as model.json', {
          argument: 'artifacts.modelTopology',
        });
      }
      const weights = joinWeights(artifacts.weightData);
      const manifest: tf.io.WeightsManifestConfig = [
        { paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] },
      ];
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: manifest,
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
      try {
        await mkdir(dir, { recursive: true });
        await writeAtomic(join(dir, WEIGHTS_BIN), weights);
        await writeAtomic(join(dir, MODEL_JSON), JSON.stringify(json));
      } catch (cause) {
        throw ioError('cannot write checkpoint to', dir, cause);
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
      } catch (cause) {
        throw ioError('cannot read', join(dir, MODEL_JSON), cause);
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = tf.io.getWeightSpecs(manifest);
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            try {
              buffers.push(toArrayBuffer(await readFile(join(dir, p))));
            } catch (cause) {
              throw ioError('cannot read', join(dir, p), cause);
            }
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

interface OptimizerFile {
  format: 'robust-ft-optimizer';
  version: 1;
  className: string;
  weightsManifest: tf.io.WeightsManifestEntry[];
}

/** Saves `optimizer.getWeights()` to `dir/optimizer.json` + `dir/optimizer.bin`. */
export async function saveOptimizerState(optimizer: tf.Optimizer, dir: string): Promise<void> {
  checkDir('dir', dir);
  if (typeof optimizer?.getWeights !== 'function')
    throw invalidArgument('optimizer', 'a tf.Optimizer', optimizer);
  const named = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(named);
  const file: OptimizerFile = {
    format: 'robust-ft-optimizer',
    version: 1,
    className: optimizer.getClassName(),
    weightsManifest: specs,
  };
  try {
    await mkdir(dir, { recursive: true });
    await writeAtomic(join(dir, OPTIMIZER_BIN), new Uint8Array(data));
    await writeAtomic(join(dir, OPTIMIZER_JSON), JSON.stringify(file));
  } catch (cause) {
    throw ioError('cannot write optimizer state to', dir, cause);
  }
}

/** Restores state written by `saveOptimizerState` into `optimizer` (same class, same variables). */
export async function loadOptimizerState(optimizer: tf.Optimizer, dir: string): Promise<void> {
  checkDir('dir', dir);
  if (typeof optimizer?.setWeights !== 'function')
    throw invalidArgument('optimizer', 'a tf.Optimizer', optimizer);
  let file: OptimizerFile;
  let bin: Uint8Array;
  try {
    file = JSON.parse(await readFile(join(dir, OPTIMIZER_JSON), 'utf8')) as OptimizerFile;
    bin = await readFile(join(dir, OPTIMIZER_BIN));
  } catch (cause) {
    throw ioError('cannot read optimizer state from', dir, cause);
  }
  if (file.format !== 'robust-ft-optimizer' || !Array.isArray(file.weightsManifest)) {
    throw new RobustFtError(
      'STATE_MISMATCH',
      `${join(dir, OPTIMIZER_JSON)} is not a robust-ft optimizer state file`,
      {
        argument: 'dir',
      },
    );
  }
  if (file.className !== optimizer.getClassName()) {
    throw new RobustFtError(
      'STATE_MISMATCH',
      `optimizer state was saved from ${file.className}, cannot load into ${optimizer.getClassName()}`,
      { argument: 'optimizer', expected: file.className },
    );
  }
  const decoded = tf.io.decodeWeights(toArrayBuffer(bin), file.weightsManifest);
  // Keep the manifest order: optimizers restore positionally (tfjs) or by name (robust-ft).
  const named = file.weightsManifest.map((spec) => ({ name: spec.name, tensor: decoded[spec.name]! }));
  try {
    await optimizer.setWeights(named);
  } finally {
    // setWeights copies (robust-ft clones; tfjs's variable() holds its own reference), so ours go.
    tf.dispose(Object.values(decoded));
  }
}
