import { Fill, util, type FillAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

// The one way to make a full-size tensor on meta: tf.zeros/tf.ones build the JS array first.
export const fillConfig = metaKernel<Record<string, never>, FillAttrs>(
  Fill,
  ({ backend, attrs: { shape, value, dtype } }) => backend.makeOutput(shape.slice(), dtype ?? util.inferDtype(value)),
);
