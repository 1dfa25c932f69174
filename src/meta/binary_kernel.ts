import { backend_util, type DataType, type TensorInfo } from '@tensorflow/tfjs';

import type { MetaKernelFunc } from './meta_kernel.js';

/**
 * An elementwise kernel of two inputs with numpy broadcasting. The dtype is the first input's
 * unless fixed (comparisons yield bool), as in cpu's binaryKernelFunc: the ops have already
 * made both dtypes match.
 */
export function binaryKernelFunc(dtype?: DataType): MetaKernelFunc<{ a: TensorInfo; b: TensorInfo }> {
  return ({ inputs: { a, b }, backend }) =>
    backend.makeOutput(backend_util.assertAndGetBroadcastShape(a.shape, b.shape), dtype ?? a.dtype);
}
