/**
 * On wasm, Slice, Unpack, SplitV and Reverse read their input where it lies in the heap.
 *
 * tfjs-backend-wasm 4.22's Slice starts by reading its whole input back out of the heap into a
 * fresh JavaScript buffer (BackendWasm.readSync copies), then copies the slice out of that copy;
 * Unpack and SplitV are one Slice per output, so cutting an (H, T, T) tensor into its H heads
 * copies the whole tensor H times. Its Reverse is a C++ loop that works out every element's
 * coordinates on its own. Measured on one thread (scripts/bench_attention_core.ts, d 1024,
 * 16 heads, T 512): unstacking the attention weights (16, 512, 512) took 105-175 ms and reversing
 * RoPE's pairs (16, 512, 32, 2) 21-42 ms, against 28 ms for the 16 products that follow the
 * unstack. The kernels below compute the same outputs, element for element, with copies from a
 * view of the input's heap storage: one pass over what the outputs hold.
 *
 * Strings (and any dtype the heap views do not cover) and rank-0 reverses keep the stock kernel. The kernel names,
 * inputs, attrs and outputs are tfjs's, so a trace records exactly what it recorded before.
 */
import * as tf from '@tensorflow/tfjs-core';

type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The dtypes BackendWasm.typedArrayFromHeap views; any other keeps the stock kernel. */
const HEAP_DTYPES: ReadonlySet<tf.DataType> = new Set(['float32', 'int32', 'bool']);

/** The members of BackendWasm the copies use: an output in the heap, and a view of a tensor's storage. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): HeapArray;
}

/**
 * Copies the block of `size` at `begin` of x (row-major, `shape`) to out, in order. The axes after
 * the last one the block cuts are whole, so each run from there on is one contiguous copy.
 */
function copyBlock(
  x: HeapArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: HeapArray,
): void {
  const strides = tf.util.computeStrides(shape as number[]);
  let runAxis = shape.length - 1;
  while (runAxis > 0 && size[runAxis] === shape[runAxis]) runAxis--;
  const run = runAxis < 0 ? 1 : size[runAxis]! * (runAxis + 1 < shape.length ? strides[runAxis]! : 1);
  let written = 0;
  const copyAxis = (axis: number, offset: number): void => {
    if (axis >= runAxis) {
      const start = offset + (runAxis < 0 ? 0 : begin[runAxis]! * (strides[runAxis] ?? 1));
      out.set(x.subarray(start, start + run), written);
      written += run;
      return;
    }
    for (let i = 0; i < size[axis]!; i++) copyAxis(axis + 1, offset + (begin[axis]! + i) * strides[axis]!);
  };
  copyAxis(0, 0);
}

/** A new heap tensor holding x's block of `size` at `begin`. */
function sliceOf(
  backend: WasmHeap,
  x: tf.TensorInfo,
  begin: readonly number[],
  size: readonly number[],
): tf.TensorInfo {
  const out = backend.makeOutput([...size], x.dtype);
  // Views only after the allocation: growing the heap replaces the buffer views are made on.
  if (tf.util.sizeFromShape([...size]) > 0) {
    copyBlock(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  }
  return out;
}

/** x cut along `axis` into consecutive blocks of the given sizes, each a new heap tensor. */
function blocksAlong(backend: WasmHeap, x: tf.TensorInfo, axis: number, sizes: readonly number[]): tf.TensorInfo[] {
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((extent) => {
    const size = [...x.shape];
    size[axis] = extent;
    const out = sliceOf(backend, x, begin, size);
    begin[axis]! += extent;
    return out;
  });
}

/**
 * x with the given axes reversed, into out: axes are merged where neighbours are both reversed or
 * both kept, and runs that are kept along the last axis are copied whole.
 */
function reverseInto(x: HeapArray, shape: readonly number[], axes: ReadonlySet<number>, out: HeapArray): void {
  const dims: number[] = [];
  const flipped: boolean[] = [];
  shape.forEach((dim, axis) => {
    if (dim === 1) return; // a reversed length-1 axis moves nothing
    const flip = axes.has(axis);
    if (dims.length > 0 && flipped[flipped.length - 1] === flip) dims[dims.length - 1]! *= dim;
    else {
      dims.push(dim);
      flipped.push(flip);
    }
  });
  if (dims.length === 0) {
    out.set(x);
    return;
  }
  const strides = tf.util.computeStrides(dims);
  const last = dims.length - 1;
  const runLength = dims[last]!;
  let written = 0;
  // The last axis's runs, all those under one index of the axis before it, in one loop.
  const copyRuns = (offset: number, runs: number, runStride: number, runsFlipped: boolean): void => {
    for (let r = 0; r < runs; r++) {
      const from = offset + (runsFlipped ? runs - 1 - r : r) * runStride;
      if (!flipped[last]) out.set(x.subarray(from, from + runLength), written);
      else for (let i = 0; i < runLength; i++) out[written + i] = x[from + runLength - 1 - i]!;
      written += runLength;
    }
  };
  const copyAxis = (axis: number, offset: number): void => {
    if (axis >= last - 1) {
      if (last === 0) copyRuns(offset, 1, 0, false);
      else copyRuns(offset, dims[last - 1]!, strides[last - 1]!, flipped[last - 1]!);
      return;
    }
    const dim = dims[axis]!;
    for (let i = 0; i < dim; i++) copyAxis(axis + 1, offset + (flipped[axis] ? dim - 1 - i : i) * strides[axis]!);
  };
  copyAxis(0, 0);
}

function sliceKernel(stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs['x']!;
    if (!HEAP_DTYPES.has(x.dtype)) return stock.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
    const [start, extent] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
    return sliceOf(args.backend as unknown as WasmHeap, x, start, extent);
  };
}

function unpackKernel(stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const value = args.inputs['value']!;
    if (!HEAP_DTYPES.has(value.dtype)) return stock.kernelFunc(args);
    const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.UnpackAttrs).axis, value.shape)[0]!;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const ones = new Array<number>(value.shape[axis]!).fill(1);
    // Each block of one along the axis, with the axis dropped from its shape.
    return blocksAlong(args.backend as unknown as WasmHeap, value, axis, ones).map(({ dataId, dtype }) => ({
      dataId,
      dtype,
      shape: outShape,
    }));
  };
}

function splitKernel(stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs['x']!;
    if (!HEAP_DTYPES.has(x.dtype)) return stock.kernelFunc(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
    const splitAxis = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, splitAxis);
    return blocksAlong(args.backend as unknown as WasmHeap, x, splitAxis, sizes);
  };
}

function reverseKernel(stock: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs['x']!;
    if (!HEAP_DTYPES.has(x.dtype) || x.shape.length === 0) return stock.kernelFunc(args);
    const axes = new Set(tf.util.parseAxisParam((args.attrs as unknown as tf.ReverseAttrs).dims, x.shape));
    const backend = args.backend as unknown as WasmHeap;
    const out = backend.makeOutput([...x.shape], x.dtype);
    if (tf.util.sizeFromShape(x.shape) > 0) {
      reverseInto(backend.typedArrayFromHeap(x), x.shape, axes, backend.typedArrayFromHeap(out));
    }
    return out;
  };
}

const REPLACEMENTS: Readonly<Record<string, (stock: tf.KernelConfig) => tf.KernelFunc>> = {
  Slice: sliceKernel,
  Unpack: unpackKernel,
  SplitV: splitKernel,
  Reverse: reverseKernel,
};

let registered = false;

/** Replace wasm's Slice, Unpack, SplitV and Reverse as above; once per process, after the wasm kernels are registered. */
export function readWasmInputsInPlace(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, replacement] of Object.entries(REPLACEMENTS)) {
    const stock = tf.getKernel(kernelName, 'wasm');
    if (stock === undefined) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ ...stock, kernelFunc: replacement(stock) });
  }
}
