import { Transpose, util, type TensorInfo, type TransposeAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

export const transposeConfig = metaKernel<{ x: TensorInfo }, TransposeAttrs>(
  Transpose,
  ({ inputs: { x }, backend, attrs: { perm } }) => {
    util.assert(
      perm.length === x.shape.length,
      () => `Transpose: perm [${perm}] must have one entry per axis of shape [${x.shape}]`,
    );
    return backend.makeOutput(
      perm.map((axis) => x.shape[axis]!),
      x.dtype,
    );
  },
);
