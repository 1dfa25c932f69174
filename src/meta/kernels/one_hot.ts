import { OneHot, type OneHotAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// indices (...) -> (..., depth) in the requested dtype, as on cpu; the op has already checked
// depth. The cross-entropy gradient builds its one-hot targets with it.
export const oneHotConfig = metaKernel<{ indices: TensorInfo }, OneHotAttrs>(
  OneHot,
  ({ inputs: { indices }, backend, attrs: { depth, dtype } }) => backend.makeOutput([...indices.shape, depth], dtype),
);
