import { GatherNd, backend_util, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// prepareAndValidate is cpu's own reading of the operands (the output is indices.shape[:-1]
// followed by the slices it selects); cpu also checks each index, and meta has no index values.
// A MoE combine's gradient gathers each routed row's output gradient with it.
export const gatherNdConfig = metaKernel<{ params: TensorInfo; indices: TensorInfo }, Record<string, never>>(
  GatherNd,
  ({ inputs: { params, indices }, backend }) => {
    const [resultShape] = backend_util.prepareAndValidate(params, indices);
    return backend.makeOutput(resultShape, params.dtype);
  },
);
