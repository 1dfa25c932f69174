import { Sum, backend_util, util, type SumAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/** The shape of a reduction over `axis`, with the reduced axes kept as 1s when `keepDims`. */
export function reducedShape(x: TensorInfo, axis: number | number[], keepDims: boolean): number[] {
  const axes = util.parseAxisParam(axis, x.shape);
  const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  return keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
}

// Sums bool as int32 and keeps int32 and float32, as cpu's Sum does.
export const sumConfig = metaKernel<{ x: TensorInfo }, SumAttrs>(
  Sum,
  ({ inputs: { x }, backend, attrs: { axis, keepDims } }) =>
    backend.makeOutput(
      reducedShape(x, axis, keepDims),
      backend_util.upcastType(x.dtype === 'bool' ? 'int32' : x.dtype, 'int32'),
    ),
);
