import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../src/runtime/backend.js';
import { traceKernels } from '../src/trace/tracer.js';

/**
 * wasm's Slice, Unpack, SplitV and Reverse as src/runtime/wasm_heap_views.ts replaces them, against
 * a reference written here from the definitions by index arithmetic alone: out[i] = x[begin + i]
 * for a slice, out[i] = x[i with every reversed axis a read as dim_a - 1 - i_a] for a reverse.
 * Random shapes of rank 1 to 4, every dtype the heap holds.
 */

beforeAll(async () => {
  await useBackend('wasm');
});

/** Row-major strides of shape. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) out[axis] = out[axis + 1]! * shape[axis + 1]!;
  return out;
}

/** The multi-index of flat position `flat` in shape. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const stride = strides(shape);
  return stride.map((s, axis) => Math.floor(flat / s) % shape[axis]!);
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function referenceSlice(
  values: readonly number[],
  shape: readonly number[],
  begin: readonly number[],
  extent: readonly number[],
): number[] {
  const inStride = strides(shape);
  return Array.from(
    { length: size(extent) },
    (_, flat) =>
      values[unravel(flat, extent).reduce((offset, i, axis) => offset + (begin[axis]! + i) * inStride[axis]!, 0)]!,
  );
}

function referenceReverse(values: readonly number[], shape: readonly number[], axes: ReadonlySet<number>): number[] {
  const inStride = strides(shape);
  return Array.from(
    { length: values.length },
    (_, flat) =>
      values[
        unravel(flat, shape).reduce(
          (offset, i, axis) => offset + (axes.has(axis) ? shape[axis]! - 1 - i : i) * inStride[axis]!,
          0,
        )
      ]!,
  );
}

const DTYPES = ['float32', 'int32', 'bool'] as const;
type HeapDtype = (typeof DTYPES)[number];

/** Distinct values where the dtype allows (float32, int32), so a misplaced element shows. */
function valuesFor(count: number, dtype: HeapDtype): number[] {
  return Array.from({ length: count }, (_, i) =>
    dtype === 'bool' ? ((i * 7 + 3) % 5) % 2 : dtype === 'int32' ? i * 3 - 7 : i * 0.5 - 3.25,
  );
}

/** A wasm tensor of `shape` holding valuesFor's values, with those values for the reference. */
function heapTensor(shape: number[], dtype: HeapDtype): { values: number[]; x: tf.Tensor } {
  const values = valuesFor(size(shape), dtype);
  return { values, x: tf.tensor(values, shape, dtype) };
}

/**
 * Each of `parts` holds the next block of `sizes[i]` along `axis` of the tensor `values` of
 * `shape`, with that axis left out of its shape when `axisDropped`.
 */
function expectBlocksAlong(
  parts: readonly tf.Tensor[],
  values: readonly number[],
  shape: readonly number[],
  axis: number,
  sizes: readonly number[],
  axisDropped: boolean,
): void {
  let start = 0;
  parts.forEach((part, i) => {
    const begin = shape.map((_, a) => (a === axis ? start : 0));
    const extent = shape.map((dim, a) => (a === axis ? sizes[i]! : dim));
    expect(part.shape).toEqual(axisDropped ? shape.filter((_, a) => a !== axis) : extent);
    expect(Array.from(part.dataSync())).toEqual(referenceSlice(values, shape, begin, extent));
    start += sizes[i]!;
  });
}

const arbitraryShape = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 });
const arbitraryDtype = fc.constantFrom(...DTYPES);

/** A shape with a block inside it: begin + size <= dim on every axis, size >= 0. */
const arbitraryBlock = arbitraryShape.chain((shape) =>
  fc
    .tuple(
      ...shape.map((dim) =>
        fc
          .integer({ min: 0, max: dim })
          .chain((start) => fc.tuple(fc.constant(start), fc.integer({ min: 0, max: dim - start }))),
      ),
    )
    .map((pairs) => ({ shape, begin: pairs.map(([start]) => start), extent: pairs.map(([, extent]) => extent) })),
);

describe('wasm kernels that read their input in place', () => {
  it('Slice copies exactly the block at begin of size, for any block of a rank 1-4 tensor', () => {
    fc.assert(
      fc.property(arbitraryBlock, arbitraryDtype, ({ shape, begin, extent }, dtype) => {
        const { values, x } = heapTensor(shape, dtype);
        const out = tf.slice(x, begin, extent);
        expect(out.shape).toEqual(extent);
        expect(out.dtype).toBe(dtype);
        expect(Array.from(out.dataSync())).toEqual(referenceSlice(values, shape, begin, extent));
        tf.dispose([x, out]);
      }),
      { numRuns: 150 },
    );
  });

  it('Unpack gives the slices along the axis, that axis dropped', () => {
    fc.assert(
      fc.property(
        arbitraryShape.chain((shape) => fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }))),
        arbitraryDtype,
        ([shape, axis], dtype) => {
          const { values, x } = heapTensor(shape, dtype);
          const parts = tf.unstack(x, axis);
          expect(parts).toHaveLength(shape[axis]!);
          expectBlocksAlong(parts, values, shape, axis, new Array<number>(shape[axis]!).fill(1), true);
          tf.dispose([x, ...parts]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('SplitV cuts the axis into consecutive pieces of the given sizes', () => {
    fc.assert(
      fc.property(
        arbitraryShape.chain((shape) =>
          fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
            fc.array(fc.integer({ min: 0, max: shape[axis]! }), { minLength: 1, maxLength: 3 }).map((cuts) => {
              const points = [0, ...[...cuts].sort((a, b) => a - b), shape[axis]!];
              return { shape, axis, sizes: points.slice(1).map((p, i) => p - points[i]!) };
            }),
          ),
        ),
        arbitraryDtype,
        ({ shape, axis, sizes }, dtype) => {
          const { values, x } = heapTensor(shape, dtype);
          const parts = tf.split(x, sizes, axis);
          expectBlocksAlong(parts, values, shape, axis, sizes, false);
          tf.dispose([x, ...parts]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('Reverse flips exactly the given axes', () => {
    fc.assert(
      fc.property(
        arbitraryShape.chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.uniqueArray(fc.integer({ min: 0, max: shape.length - 1 }), { maxLength: shape.length }),
          ),
        ),
        arbitraryDtype,
        ([shape, axes], dtype) => {
          const { values, x } = heapTensor(shape, dtype);
          const out = tf.reverse(x, axes);
          expect(out.shape).toEqual(shape);
          expect(Array.from(out.dataSync())).toEqual(referenceReverse(values, shape, new Set(axes)));
          tf.dispose([x, out]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('RoPE pair swap, hand-computed: [1,2,3,4,5,6] as pairs reversed is [2,1,4,3,6,5]', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 1, 3, 2]);
    const out = tf.reverse(x, 3);
    expect(Array.from(out.dataSync())).toEqual([2, 1, 4, 3, 6, 5]);
    tf.dispose([x, out]);
  });

  it('still runs as the kernels a trace records, and leaves no tensor behind', () => {
    const x = tf.tensor3d(valuesFor(2 * 3 * 4, 'float32'), [2, 3, 4]);
    const before = tf.memory().numTensors;
    const trace = traceKernels(() =>
      tf.tidy(() => [...tf.unstack(tf.reverse(tf.slice(x, [0, 1, 0], [2, 2, 4]), 2)), ...tf.split(x, [1, 1], 0)]),
    );
    expect(trace.records.map((record) => record.kernel)).toEqual(['Slice', 'Reverse', 'Unpack', 'SplitV']);
    // x holds i * 0.5 - 3.25 at flat i: x[0, 1, :] (flat 4-7) is -1.25 -0.75 -0.25 0.25, x[0, 2, :]
    // (flat 8-11) 0.75 1.25 1.75 2.25; the first unstacked piece is both rows, each reversed.
    expect(Array.from(trace.result[0]!.dataSync())).toEqual([0.25, -0.25, -0.75, -1.25, 2.25, 1.75, 1.25, 0.75]);
    tf.dispose(trace.result);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
