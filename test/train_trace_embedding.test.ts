import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../src/runtime/backend.js';
import { embedding } from '../src/model/index.js';
import { traceKernels } from '../src/trace/index.js';

const V = 6;
const d = 3;
// Row 4 three times, row 1 twice, rows 0, 3 and 5 never: the scatter must sum repeats and leave zeros.
const IDS = [
  [4, 1, 4],
  [2, 4, 1],
];

/** Table and upstream values that do not come from the code under test. */
const tableValues = Array.from({ length: V * d }, (_, i) => (i % 7) - 3 + i / 10);
const upstreamValues = Array.from({ length: IDS.length * 3 * d }, (_, i) => ((i * 5) % 11) / 4 - 1);

/** dE by hand: every token adds its upstream row into the row of its id. */
function handGradient(): number[] {
  const gradient = new Array<number>(V * d).fill(0);
  IDS.flat().forEach((id, token) => {
    for (let j = 0; j < d; j++) gradient[id * d + j]! += upstreamValues[token * d + j]!;
  });
  return gradient;
}

describe.each(['cpu', 'wasm'] as const)('embedding gradient on %s', (backendName) => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    await useBackend(backendName);
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it('the lookup returns the rows of the ids', () => {
    const table = tf.tensor2d(tableValues, [V, d]);
    const ids = tf.tensor2d(IDS.flat(), [2, 3], 'int32');
    const rows = embedding(table, ids);
    expect(rows.shape).toEqual([2, 3, d]);
    const expected = IDS.flat().flatMap((id) => tableValues.slice(id * d, id * d + d));
    expect(Array.from(rows.dataSync())).toEqual(Array.from(new Float32Array(expected)));
    tf.dispose([table, ids, rows]);
  });

  it('dE sums the upstream rows of repeated ids, zero for unused rows, as a hand loop does', () => {
    const table = tf.tensor2d(tableValues, [V, d]);
    const ids = tf.tensor2d(IDS.flat(), [2, 3], 'int32');
    const upstream = tf.tensor3d(upstreamValues, [2, 3, d]);
    const before = tf.memory().numTensors;
    const [gradient] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(embedding(t as tf.Tensor2D, ids), upstream)))([table]);
    expect(gradient!.shape).toEqual([V, d]);
    const got = Array.from(gradient!.dataSync());
    const expected = handGradient();
    got.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
    // Unused rows are exactly zero, not just close.
    for (const unused of [0, 3, 5]) expect(got.slice(unused * d, unused * d + d)).toEqual([0, 0, 0]);
    gradient!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([table, ids, upstream]);
  });

  it('runs one GatherV2 forward and a ScatterNd backward, and no matmul either way', () => {
    const table = tf.tensor2d(tableValues, [V, d]);
    const ids = tf.tensor2d(IDS.flat(), [2, 3], 'int32');
    const { result, records } = traceKernels(() =>
      tf.tidy(() => tf.grads((t: tf.Tensor) => tf.sum(embedding(t as tf.Tensor2D, ids)))([table])),
    );
    tf.dispose(result);
    const kernels = records.map((record) => record.kernel);
    expect(kernels.filter((kernel) => kernel === 'GatherV2')).toHaveLength(1);
    expect(kernels.filter((kernel) => kernel === 'ScatterNd')).toHaveLength(1);
    expect(kernels).not.toContain('UnsortedSegmentSum');
    expect(records.filter((record) => record.matmul !== undefined)).toEqual([]);
    const scatter = records.find((record) => record.kernel === 'ScatterNd')!;
    expect(scatter.inputs.map((input) => input.shape)).toEqual([
      [6, 1],
      [6, d],
    ]);
    expect(scatter.outputs[0]!.shape).toEqual([V, d]);
    tf.dispose([table, ids]);
  });
});
