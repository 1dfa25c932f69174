import { Tile, util, type TensorInfo, type TileAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

export const tileConfig = metaKernel<{ x: TensorInfo }, TileAttrs>(
  Tile,
  ({ inputs: { x }, backend, attrs: { reps } }) => {
    util.assert(
      reps.length === x.shape.length,
      () => `Tile: reps [${reps}] must have one entry per axis of shape [${x.shape}]`,
    );
    return backend.makeOutput(
      x.shape.map((size, i) => size * reps[i]!),
      x.dtype,
    );
  },
);
