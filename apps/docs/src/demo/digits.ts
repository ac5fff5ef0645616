/**
 * The live demo's data: the benchmark's own pre-trained digits CNN and data, which the site serves from
 * `public/demo/` (copied from `apps/bench/{assets,data}` at build time). The mapping to MNIST framing,
 * the IDX parser and the seeded stratified split are the benchmark's (`apps/bench/src/data/mapping.ts`,
 * pure functions without Node imports), so the browser sees exactly the images the benchmark does.
 * Only the fetching differs: the page fetches over HTTP, the Node test reads the files.
 */
import {
  type Dataset,
  fromBytes,
  head,
  parseIdx,
  stratifiedSplit,
  uciDigitsFromCsv,
} from '../../../bench/src/data/mapping';

export { type Dataset, head };

/** Reads one file of the demo folder (`assets/…`, `data/…`) as bytes. */
export type FetchBytes = (path: string) => Promise<Uint8Array>;

export const MODEL_JSON = 'assets/pretrained-cnn/model.json';
export const UCI_CSV = 'data/uci-digits.csv.gz';
export const FONT_IMAGES = 'data/font-digits-images-idx3-ubyte.gz';
export const FONT_LABELS = 'data/font-digits-labels-idx1-ubyte.gz';

/** The tfjs layers artifacts, ready for `tf.io.fromMemory`. */
export interface ModelArtifacts {
  modelTopology: object;
  weightSpecs: { name: string; shape: number[]; dtype: 'float32' | 'int32' | 'bool' }[];
  weightData: ArrayBuffer;
}

export interface DigitsData {
  model: ModelArtifacts;
  /** The benchmark's ID train split (seed 0: 1,108 UCI digits), in its seeded order. */
  idTrain: Dataset;
  /** The benchmark's ID test split (seed 0: 539 UCI digits). */
  idTest: Dataset;
  /** Printed font digits (2,360), the benchmark's natural OOD shift. */
  fonts: Dataset;
}

/** gunzip with the platform's DecompressionStream (browsers and Node ≥ 18 alike). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const isGzip = (b: Uint8Array) => b[0] === 0x1f && b[1] === 0x8b;

async function idx(fetchBytes: FetchBytes, path: string) {
  const raw = await fetchBytes(path);
  return parseIdx(isGzip(raw) ? await gunzip(raw) : raw);
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: ModelArtifacts['weightSpecs'] }[];
}

async function loadArtifacts(fetchBytes: FetchBytes): Promise<ModelArtifacts> {
  const json = JSON.parse(new TextDecoder().decode(await fetchBytes(MODEL_JSON))) as ModelJson;
  const dir = MODEL_JSON.slice(0, MODEL_JSON.lastIndexOf('/') + 1);
  const parts = await Promise.all(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => fetchBytes(`${dir}${p}`))),
  );
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    weightData.set(p, offset);
    offset += p.byteLength;
  }
  return {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: weightData.buffer,
  };
}

/** The benchmark's split of the UCI digits for `seed` (its `buildSets`: 70 % train+val, then 88 % train). */
export function benchSplits(uci: Dataset, seed: number): { idTrain: Dataset; idTest: Dataset } {
  const { train: trainVal, test } = stratifiedSplit(uci, 0.7, seed);
  const { train } = stratifiedSplit(trainVal, 0.88, seed + 1);
  return { idTrain: train, idTest: test };
}

export async function loadDigits(fetchBytes: FetchBytes, seed = 0): Promise<DigitsData> {
  const [model, csv, fontImages, fontLabels] = await Promise.all([
    loadArtifacts(fetchBytes),
    fetchBytes(UCI_CSV).then(gunzip),
    idx(fetchBytes, FONT_IMAGES),
    idx(fetchBytes, FONT_LABELS),
  ]);
  const uci = uciDigitsFromCsv(new TextDecoder().decode(csv));
  const fonts = fromBytes('font-digits', fontImages.data, fontLabels.data, fontImages.shape[0] ?? 0);
  return { model, ...benchSplits(uci, seed), fonts };
}

/**
 * A class-stratified sample of `n` images (the benchmark's seeded split, keeping its "train" part), so a
 * short demo still sees every class in the benchmark's proportions.
 */
export function sample(ds: Dataset, n: number, seed: number): Dataset {
  if (n >= ds.n) return ds;
  return head(stratifiedSplit(ds, n / ds.n, seed).train, n);
}
