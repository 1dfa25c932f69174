import { Unpack, type TensorInfo, type UnpackAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/** tf.unstack: one output per index along `axis`, each without that axis. */
export const unpackConfig = metaKernel<{ value: TensorInfo }, UnpackAttrs>(
  Unpack,
  ({ inputs: { value }, backend, attrs }) => {
    const axis = attrs.axis < 0 ? attrs.axis + value.shape.length : attrs.axis;
    const count = value.shape[axis]!;
    const outShape = value.shape.filter((_, i) => i !== axis);
    return Array.from({ length: count }, () => backend.makeOutput(outShape.slice(), value.dtype));
  },
);
