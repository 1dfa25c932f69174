import { PadV2, util, type PadV2Attrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/**
 * Constant padding: each axis grows by its [before, after]. Dispatched by the gradient of Slice
 * (learned positions take rows 0..T-1 of their table; the gradient pads dy back to the table).
 */
export const padV2Config = metaKernel<{ x: TensorInfo }, PadV2Attrs>(
  PadV2,
  ({ inputs: { x }, backend, attrs: { paddings } }) => {
    util.assert(
      paddings.length === x.shape.length,
      () => `PadV2: paddings [${paddings.join('; ')}] must have one [before, after] per axis of shape [${x.shape}]`,
    );
    return backend.makeOutput(
      x.shape.map((size, axis) => paddings[axis]![0] + size + paddings[axis]![1]),
      x.dtype,
    );
  },
);
