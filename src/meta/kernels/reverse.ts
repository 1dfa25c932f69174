import { Reverse, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/** Reversing axes moves values, never shapes: the output has the input's shape and dtype. */
export const reverseConfig = metaKernel<{ x: TensorInfo }, { dims: number | number[] }>(
  Reverse,
  ({ inputs: { x }, backend }) => backend.makeOutput(x.shape.slice(), x.dtype),
);
