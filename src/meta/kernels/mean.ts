import { Mean, type MeanAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';
import { reducedShape } from './sum.js';

// cpu's Mean casts to float32 before dividing, so the mean is float32 for every input dtype.
export const meanConfig = metaKernel<{ x: TensorInfo }, MeanAttrs>(
  Mean,
  ({ inputs: { x }, backend, attrs: { axis, keepDims } }) =>
    backend.makeOutput(reducedShape(x, axis, keepDims), 'float32'),
);
