import { TopK, type TensorInfo, type TopKAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// The k largest along the last axis: values in x's dtype and their int32 indices, as on cpu. The
// mixture-of-experts router picks each token's experts with it.
export const topKConfig = metaKernel<{ x: TensorInfo }, TopKAttrs>(TopK, ({ inputs: { x }, backend, attrs: { k } }) => {
  const last = x.shape[x.shape.length - 1] ?? 0;
  // The same limit as cpu, so meta accepts exactly what cpu accepts.
  if (k < 0 || k > last) throw new Error(`'k' passed to topk() must be >= 0 and <= ${last} but got ${k}`);
  const shape = [...x.shape.slice(0, -1), k];
  return [backend.makeOutput(shape, x.dtype), backend.makeOutput(shape.slice(), 'int32')];
});
