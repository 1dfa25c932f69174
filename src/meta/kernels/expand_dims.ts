import { ExpandDims, util, type ExpandDimsAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import type { MetaBackend } from '../backend.js';
import { metaKernel } from '../meta_kernel.js';
import { reshape } from './reshape.js';

/** `input` with a size-1 axis inserted at `dim` (negative counts from the end), sharing storage. */
export function expandDims(backend: MetaBackend, input: TensorInfo, dim: number): TensorInfo {
  const inputRank = input.shape.length;
  util.assert(
    -(inputRank + 1) <= dim && dim <= inputRank,
    () => `ExpandDims: dim ${dim} must be in [${-(inputRank + 1)}, ${inputRank}] for shape [${input.shape}]`,
  );
  const newShape = input.shape.slice();
  newShape.splice(dim < 0 ? inputRank + dim + 1 : dim, 0, 1);
  return reshape(backend, input, newShape);
}

export const expandDimsConfig = metaKernel<{ input: TensorInfo }, ExpandDimsAttrs>(
  ExpandDims,
  ({ inputs: { input }, backend, attrs: { dim } }) => expandDims(backend, input, dim),
);
