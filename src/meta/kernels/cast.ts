import { Cast, util, type CastAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

export const castConfig = metaKernel<{ x: TensorInfo }, CastAttrs>(
  Cast,
  ({ inputs: { x }, backend, attrs: { dtype } }) => {
    util.assert(
      x.dtype !== 'complex64' && dtype !== 'complex64',
      () => `Cast: the meta backend has no complex64 storage (casting ${x.dtype} to ${dtype})`,
    );
    // Like cpu: a cast to a wider dtype keeps the same storage under the new dtype.
    if (!util.hasEncodingLoss(x.dtype, dtype)) return backend.shareStorage(x, x.shape.slice(), dtype);
    return backend.makeOutput(x.shape.slice(), dtype);
  },
);
