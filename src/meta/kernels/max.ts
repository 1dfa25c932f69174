import { Max, type MaxAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';
import { reducedShape } from './sum.js';

export const maxConfig = metaKernel<{ x: TensorInfo }, MaxAttrs>(
  Max,
  ({ inputs: { x }, backend, attrs: { reductionIndices, keepDims } }) =>
    backend.makeOutput(reducedShape(x, reductionIndices, keepDims), x.dtype),
);
