import { ZerosLike, type TensorInfo } from '@tensorflow/tfjs-core';

import { assertRealNumeric } from '../assert_real_numeric.js';
import { metaKernel } from '../meta_kernel.js';

export const zerosLikeConfig = metaKernel<{ x: TensorInfo }, Record<string, never>>(
  ZerosLike,
  ({ inputs: { x }, backend }) => {
    assertRealNumeric(ZerosLike, x);
    return backend.makeOutput(x.shape.slice(), x.dtype);
  },
);
