import { UnsortedSegmentSum, type TensorInfo, type UnsortedSegmentSumAttrs } from '@tensorflow/tfjs';

import { metaKernel } from '../meta_kernel.js';

// [numSegments, ...x.shape after the segment ids' dims], as cpu builds it; cpu also checks each
// id against numSegments, and meta has no id values. The gradient of a MoE layer's gathers
// (each expert's rows, their routing weights, the chosen probabilities) sums rows back with it.
export const unsortedSegmentSumConfig = metaKernel<{ x: TensorInfo; segmentIds: TensorInfo }, UnsortedSegmentSumAttrs>(
  UnsortedSegmentSum,
  ({ inputs: { x, segmentIds }, backend, attrs: { numSegments } }) =>
    backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype),
);
