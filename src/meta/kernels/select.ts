import { Select, upcastType, util, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

interface SelectInputs {
  condition: TensorInfo;
  t: TensorInfo;
  e: TensorInfo;
}

// tf.where has already broadcast the three inputs to one shape.
export const selectConfig = metaKernel<SelectInputs, Record<string, never>>(
  Select,
  ({ inputs: { condition, t, e }, backend }) => {
    util.assertShapesMatch(t.shape, e.shape, 'Select: t and e');
    util.assert(
      condition.shape.length <= t.shape.length,
      () => `Select: condition [${condition.shape}] has a higher rank than t [${t.shape}]`,
    );
    return backend.makeOutput(t.shape.slice(), upcastType(t.dtype, e.dtype));
  },
);
