import { OnesLike, type TensorInfo } from '@tensorflow/tfjs-core';

import { assertRealNumeric } from '../assert_real_numeric.js';
import { metaKernel } from '../meta_kernel.js';

export const onesLikeConfig = metaKernel<{ x: TensorInfo }, Record<string, never>>(
  OnesLike,
  ({ inputs: { x }, backend }) => {
    assertRealNumeric(OnesLike, x);
    return backend.makeOutput(x.shape.slice(), x.dtype);
  },
);
