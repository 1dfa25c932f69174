import { Slice, slice_util, type SliceAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/** The checked [begin, size] of a slice of `x` (size -1 means "to the end"), as cpu reads them. */
function sliceSize(x: TensorInfo, begin: number | number[], size: number | number[]): number[] {
  const [$begin, $size] = slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
  slice_util.assertParamsValid(x, $begin, $size);
  return $size;
}

export const sliceConfig = metaKernel<{ x: TensorInfo }, SliceAttrs>(
  Slice,
  ({ inputs: { x }, backend, attrs: { begin, size } }) => backend.makeOutput(sliceSize(x, begin, size), x.dtype),
);
