import { ScatterNd, backend_util, type ScatterNdAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// The output has the requested shape and the updates' dtype. calculateShapes is cpu's own
// reading of the operands; cpu also checks each index against the shape, and meta has no index
// values to check. The embedding gradient scatters token rows into dE with it.
export const scatterNdConfig = metaKernel<{ indices: TensorInfo; updates: TensorInfo }, ScatterNdAttrs>(
  ScatterNd,
  ({ inputs: { indices, updates }, backend, attrs: { shape } }) => {
    backend_util.calculateShapes(updates, indices, shape);
    return backend.makeOutput(shape.slice(), updates.dtype);
  },
);
