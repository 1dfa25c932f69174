import type { DataType, TensorInfo } from '@tensorflow/tfjs';

import type { MetaKernelFunc } from './meta_kernel.js';

/**
 * An elementwise kernel of one input: same shape; the dtype is the input's unless fixed, as in
 * cpu's unaryKernelFunc (Exp, for one, always yields float32).
 */
export function unaryKernelFunc(dtype?: DataType): MetaKernelFunc<{ x: TensorInfo }> {
  return ({ inputs: { x }, backend }) => backend.makeOutput(x.shape.slice(), dtype ?? x.dtype);
}
