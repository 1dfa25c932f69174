import { Identity, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

export const identityConfig = metaKernel<{ x: TensorInfo }, Record<string, never>>(
  Identity,
  ({ inputs: { x }, backend }) => backend.shareStorage(x, x.shape.slice()),
);
