/**
 * Constants the model computes on the host (rope tables, seeded weights and ids), made so that a
 * backend that keeps shapes and no values never costs a host array.
 *
 * tf.tensor takes a full JavaScript array before the backend sees it; the shape-only meta
 * backend (src/meta) then drops the values on arrival. At a 70B-class model's 1,048,576 tokens
 * the two rope tables alone are 1 GB, and at d_model 400,000,000 they pass the largest typed
 * array V8 can make. So the values are computed only where they are kept.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * What a backend that stores no values declares (src/meta/backend.ts implements it; meta sits
 * beside this layer, so the contract is by shape, and test/meta_size.test.ts ties the two).
 */
export interface ValueFreeBackend {
  readonly holdsValues: false;
}

/** False on a backend that keeps shapes only; true on every backend that computes. */
export function backendHoldsValues(): boolean {
  return (tf.backend() as Partial<ValueFreeBackend>).holdsValues !== false;
}

/** No values: what a shape-only backend is handed in place of the array it would drop. */
const NO_VALUES: Record<'float32' | 'int32', Float32Array | Int32Array> = {
  float32: new Float32Array(0),
  int32: new Int32Array(0),
};

/**
 * A tensor of `shape` holding `values()`, made without a kernel (as tf.tensor does, so a trace
 * never shows it). On a backend that holds no values, `values` is never called: the engine
 * registers the shape and dtype and the backend gives it storage of none.
 */
export function hostConstant<R extends tf.Rank>(
  shape: tf.ShapeMap[R],
  dtype: 'float32' | 'int32',
  values: () => Float32Array | Int32Array,
): tf.Tensor<R> {
  if (backendHoldsValues()) return tf.tensor<R>(values(), shape, dtype);
  return tf.engine().makeTensor(NO_VALUES[dtype], shape, dtype) as tf.Tensor<R>;
}

/**
 * A backend that keeps tensors in one heap it lets kernels write into (tfjs-backend-wasm's
 * BackendWasm: makeOutput allocates a tensor's storage there, typedArrayFromHeap views it).
 */
interface HeapBackend {
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
}

function isHeapBackend(backend: unknown): backend is HeapBackend {
  const candidate = backend as Partial<HeapBackend>;
  return typeof candidate.makeOutput === 'function' && typeof candidate.typedArrayFromHeap === 'function';
}

/**
 * A float32 tensor of `shape` whose values `fill` writes in place, made without a kernel (as
 * hostConstant). On wasm, `fill` writes straight into the tensor's storage in the backend's heap:
 * no JavaScript array is made and nothing is copied, which at GPT-2 small's 760 MB of weights is
 * the difference between one pass over the bytes and three (make, copy in, collect). Elsewhere
 * it fills a fresh array the backend takes as it is (cpu keeps it without a copy). A backend that
 * holds no values never calls `fill`.
 */
export function hostConstantFilled<R extends tf.Rank>(
  shape: tf.ShapeMap[R],
  fill: (values: Float32Array) => void,
): tf.Tensor<R> {
  if (!backendHoldsValues()) return tf.engine().makeTensor(NO_VALUES.float32, shape, 'float32') as tf.Tensor<R>;
  const size = tf.util.sizeFromShape(shape);
  const backend = tf.backend();
  if (isHeapBackend(backend)) {
    const info = backend.makeOutput(shape, 'float32');
    try {
      // The view is taken after the allocation, which may have grown (and so replaced) the heap.
      fill(backend.typedArrayFromHeap(info) as Float32Array);
    } catch (error) {
      backend.disposeData(info.dataId, true);
      throw error;
    }
    return tf.engine().makeTensorFromTensorInfo(info, backend) as tf.Tensor<R>;
  }
  const values = new Float32Array(size);
  fill(values);
  return tf.tensor<R>(values, shape, 'float32');
}

/** The wasm backend's module, as far as the heap's kind is read from it (BackendWasm.wasm). */
interface HeapModule {
  wasm?: { HEAPU8?: Uint8Array };
}

/**
 * True when the backend's heap is a shared memory (the threaded wasm build's): views of it stay
 * valid when a later allocation grows it, and another thread can write into it. A non-shared
 * heap's growth replaces its buffer and detaches every view taken before.
 */
export function backendHeapIsShared(): boolean {
  const backend = tf.backend();
  if (!isHeapBackend(backend) || typeof SharedArrayBuffer === 'undefined') return false;
  return (backend as HeapModule).wasm?.HEAPU8?.buffer instanceof SharedArrayBuffer;
}

/**
 * A float32 tensor of `shape` in the backend's shared heap, and a view of its storage for the
 * caller to fill before any kernel reads it (its values are whatever the heap held). Only on a
 * shared heap (backendHeapIsShared), where the view outlives later allocations.
 */
export function hostConstantInSharedHeap<R extends tf.Rank>(
  shape: tf.ShapeMap[R],
): { tensor: tf.Tensor<R>; values: Float32Array } {
  const backend = tf.backend();
  if (!isHeapBackend(backend) || !backendHeapIsShared()) {
    throw new Error('hostConstantInSharedHeap: the backend has no shared heap; use hostConstantFilled');
  }
  const info = backend.makeOutput(shape, 'float32');
  const values = backend.typedArrayFromHeap(info) as Float32Array;
  return { tensor: tf.engine().makeTensorFromTensorInfo(info, backend) as tf.Tensor<R>, values };
}
