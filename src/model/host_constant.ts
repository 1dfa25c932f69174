/**
 * Constants the model computes on the host (rope tables, seeded weights and ids), made so that a
 * backend that keeps shapes and no values never costs a host array.
 *
 * tf.tensor takes a full JavaScript array before the backend sees it; the shape-only meta
 * backend (src/meta) then drops the values on arrival. At a 70B-class model's 1,048,576 tokens
 * the two rope tables alone are 1 GB, and at d_model 400,000,000 they pass the largest typed
 * array V8 can make. So the values are computed only where they are kept.
 */
import * as tf from '@tensorflow/tfjs';

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
