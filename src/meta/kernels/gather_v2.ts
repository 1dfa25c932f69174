import { GatherV2, backend_util, util, type GatherV2Attrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// cpu also checks every index against the axis size; meta has no index values to check.
export const gatherV2Config = metaKernel<{ x: TensorInfo; indices: TensorInfo }, GatherV2Attrs>(
  GatherV2,
  ({ inputs: { x, indices }, backend, attrs: { axis, batchDims } }) => {
    const parsedAxis = util.parseAxisParam(axis, x.shape)[0]!;
    const shapeInfo = backend_util.segment_util.collectGatherOpShapeInfo(x, indices, parsedAxis, batchDims ?? 0);
    return backend.makeOutput(shapeInfo.outputShape, x.dtype);
  },
);
