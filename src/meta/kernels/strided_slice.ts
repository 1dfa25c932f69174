import { StridedSlice, slice_util, type StridedSliceAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';
import { reshape } from './reshape.js';

export const stridedSliceConfig = metaKernel<{ x: TensorInfo }, StridedSliceAttrs>(
  StridedSlice,
  ({ inputs: { x }, backend, attrs }) => {
    const { finalShape, isIdentity } = slice_util.sliceInfo(
      x.shape,
      attrs.begin,
      attrs.end,
      attrs.strides,
      attrs.beginMask,
      attrs.endMask,
      attrs.ellipsisMask,
      attrs.newAxisMask,
      attrs.shrinkAxisMask,
    );
    // A slice that keeps everything is a reshape on cpu: it shares storage, so here too.
    if (isIdentity) return reshape(backend, x, finalShape);
    return backend.makeOutput(finalShape, x.dtype);
  },
);
