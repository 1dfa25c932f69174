import { Pack, util, type PackAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';
import { expandDims } from './expand_dims.js';

/** tf.stack: N tensors of one shape and dtype become one with a new axis of size N at `axis`. */
export const packConfig = metaKernel<TensorInfo[], PackAttrs>(Pack, ({ inputs, backend, attrs: { axis } }) => {
  const first = inputs[0];
  if (first == null) throw new Error('Pack: needs at least one input');
  if (inputs.length === 1) return expandDims(backend, first, axis);
  for (const t of inputs) {
    util.assertShapesMatch(first.shape, t.shape, 'All tensors passed to stack must have matching shapes');
    util.assert(first.dtype === t.dtype, () => 'All tensors passed to stack must have matching dtypes');
  }
  const rank = first.shape.length;
  const outShape = first.shape.slice();
  outShape.splice(axis < 0 ? rank + axis + 1 : axis, 0, inputs.length);
  return backend.makeOutput(outShape, first.dtype);
});
