import * as tf from '@tensorflow/tfjs-core';
import { geodesicAngle, geodesicMixup } from '../../src/index';
import { type CaseResult, compare, flat, type Golden, record, toTensor } from './compare';

/** Rows of a 2-D golden whose every entry is finite. */
function finiteRows(value: Golden): boolean[] {
  return (value as Golden[]).map((row) => flat(row).every(Number.isFinite));
}

/** A guarded row: the reference is NaN or not unit-norm; ours must be finite, unit-norm and `expected`. */
function guardedRow(name: string, ours: number[], expected: number[], note: string): CaseResult {
  const norm = Math.sqrt(ours.reduce((s, v) => s + v * v, 0));
  const err = Math.max(...ours.map((v, i) => Math.abs(v - expected[i]!)));
  const ok = ours.every(Number.isFinite) && Math.abs(norm - 1) < 1e-5 && err < 1e-5;
  return { name, ok, maxAbsError: err, guarded: true, note };
}

/** `m2mix_slerp.json`: sph_inter values, θ and norms; edge rows; the odd-batch flip pairing. */
export function replaySlerp(file: Golden): CaseResult[] {
  const results: CaseResult[] = [];
  const a = toTensor(record(file, 'a')) as tf.Tensor2D;
  const b = toTensor(record(file, 'b')) as tf.Tensor2D;
  results.push(
    compare('slerp/theta', geodesicAngle(a, b), record((record(file, 'cases') as Golden[])[0]!, 'theta')),
  );
  for (const c of record(file, 'cases') as Golden[]) {
    const lambda = record(c, 'lambda') as number;
    const out = geodesicMixup(a, b, lambda);
    results.push(compare(`slerp/lambda=${lambda}/out`, out, record(c, 'out')));
    results.push(
      compare(
        `slerp/lambda=${lambda}/out_norm`,
        tf.tidy(() => tf.norm(out, 'euclidean', 1)),
        record(c, 'out_norm'),
      ),
    );
    out.dispose();
  }

  // Edge rows: compare where the reference is finite and unit-norm, check the fallback elsewhere.
  const edge = record(file, 'edge_cases');
  const ea = toTensor(record(edge, 'a')) as tf.Tensor2D;
  const eb = toTensor(record(edge, 'b')) as tf.Tensor2D;
  const lambda = record(edge, 'lambda') as number;
  const out = geodesicMixup(ea, eb, lambda);
  const refOut = record(edge, 'out') as Golden[];
  const finite = finiteRows(refOut);
  const ours = out.arraySync() as number[][];
  const aRows = ea.arraySync() as number[][];
  const dots = flat(record(edge, 'dot'));
  ours.forEach((row, i) => {
    const refRow = refOut[i]!;
    const refNorm = Math.sqrt(flat(refRow).reduce((s, v) => s + v * v, 0));
    if (finite[i] && Math.abs(refNorm - 1) < 1e-9) {
      results.push(
        compare(
          `slerp/edge/row${i}`,
          tf.tidy(() => tf.tensor1d(row)),
          refRow,
        ),
      );
    } else if (dots[i]! > 0) {
      // Identical (or rounded-to-identical) rows: the fallback returns the row itself.
      results.push(
        guardedRow(`slerp/edge/row${i}`, row, aRows[i]!, 'reference NaN (θ = 0): nlerp fallback = a'),
      );
    } else {
      // Antipodal: the documented great circle through a and p ⟂ a; at λ = ½ the midpoint is p itself,
      // so it is orthogonal to a (and to b = −a).
      const dot = row.reduce((s, v, j) => s + v * aRows[i]![j]!, 0);
      const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
      const expectedDot = Math.cos((1 - lambda) * Math.PI);
      const err = Math.abs(dot - expectedDot);
      results.push({
        name: `slerp/edge/row${i}`,
        ok: row.every(Number.isFinite) && Math.abs(norm - 1) < 1e-5 && err < 1e-5,
        maxAbsError: err,
        guarded: true,
        note: 'reference zero vector (antipodal): unit-norm point at angle (1−λ)π from a',
      });
    }
  });

  const odd = record(file, 'odd_batch_flip_pairing');
  const x = toTensor(record(odd, 'x')) as tf.Tensor2D;
  const oddOut = geodesicMixup(x, tf.reverse(x, 0), record(odd, 'lambda') as number);
  const oddRef = record(odd, 'out') as Golden[];
  const oddRows = oddOut.arraySync() as number[][];
  const xRows = x.arraySync() as number[][];
  oddRows.forEach((row, i) => {
    if (finiteRows(oddRef)[i])
      results.push(
        compare(
          `slerp/odd-flip/row${i}`,
          tf.tidy(() => tf.tensor1d(row)),
          oddRef[i]!,
        ),
      );
    else
      results.push(
        guardedRow(
          `slerp/odd-flip/row${i}`,
          row,
          xRows[i]!,
          'reference NaN (row paired with itself): the row',
        ),
      );
  });
  tf.dispose([a, b, ea, eb, out, x, oddOut]);
  return results;
}
