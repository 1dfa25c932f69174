import { SplitV, backend_util, util, type SplitVAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

export const splitVConfig = metaKernel<{ x: TensorInfo }, SplitVAttrs>(
  SplitV,
  ({ inputs: { x }, backend, attrs: { numOrSizeSplits, axis } }) => {
    const $axis = util.parseAxisParam(axis, x.shape)[0]!;
    const splitSizes = backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
    return splitSizes.map((size) => {
      const shape = x.shape.slice();
      shape[$axis] = size;
      return backend.makeOutput(shape, x.dtype);
    });
  },
);
