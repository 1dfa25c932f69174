import { Range, type RangeAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/** How many values tf.range(start, stop, step) holds, by the rule of cpu's rangeImpl. */
function rangeLength(start: number, stop: number, step: number): number {
  const empty = start === stop || (start < stop && step < 0) || (stop < start && step > 1);
  return empty ? 0 : Math.abs(Math.ceil((stop - start) / step));
}

export const rangeConfig = metaKernel<Record<string, never>, RangeAttrs>(
  Range,
  ({ backend, attrs: { start, stop, step, dtype } }) => backend.makeOutput([rangeLength(start, stop, step)], dtype),
);
