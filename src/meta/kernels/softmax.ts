import { Softmax, type SoftmaxAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// exp(x - max) / sum: float32 whatever the logits' dtype, as on cpu.
export const softmaxConfig = metaKernel<{ logits: TensorInfo }, SoftmaxAttrs>(
  Softmax,
  ({ inputs: { logits }, backend, attrs: { dim } }) => {
    const rank = logits.shape.length;
    // The same limit as every tfjs backend, so meta accepts exactly what cpu accepts.
    if (dim !== -1 && dim !== rank - 1) {
      throw new Error(
        `Softmax along a non-last dimension is not yet supported. Logits was rank ${rank} and dim was ${dim}`,
      );
    }
    return backend.makeOutput(logits.shape.slice(), 'float32');
  },
);
