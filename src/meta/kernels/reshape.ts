import { Reshape, util, type ReshapeAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import type { MetaBackend } from '../backend.js';
import { metaKernel } from '../meta_kernel.js';

/** A view under a new shape sharing `x`'s storage, as cpu's Reshape (and the kernels built on it). */
export function reshape(backend: MetaBackend, x: TensorInfo, shape: number[]): TensorInfo {
  const xSize = util.sizeFromShape(x.shape);
  const $shape = util.inferFromImplicitShape(shape, xSize);
  const $xSize = util.sizeFromShape($shape);
  util.assert(
    xSize === $xSize,
    () =>
      `Reshape: the new shape [${$shape}] has ${$xSize} elements and the old shape ` +
      `[${x.shape}] has ${xSize}; they must have the same number of elements.`,
  );
  return backend.shareStorage(x, $shape);
}

export const reshapeConfig = metaKernel<{ x: TensorInfo }, ReshapeAttrs>(
  Reshape,
  ({ inputs: { x }, backend, attrs: { shape } }) => reshape(backend, x, shape),
);
