import { _FusedMatMul, broadcast_util, type TensorInfo, type _FusedMatMulAttrs } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';
import { batchMatMulShape } from './batch_mat_mul.js';

interface FusedMatMulInputs {
  a: TensorInfo;
  b: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

/** matMul, then + bias (broadcast), then the activation: cpu's _FusedMatMul, shapes only. */
export const fusedMatMulConfig = metaKernel<FusedMatMulInputs, _FusedMatMulAttrs>(
  _FusedMatMul,
  ({ inputs: { a, b, bias, preluActivationWeights }, backend, attrs }) => {
    let shape = batchMatMulShape(a, b, attrs.transposeA, attrs.transposeB);
    if (bias != null) shape = broadcast_util.assertAndGetBroadcastShape(shape, bias.shape);
    if (attrs.activation === 'prelu' && preluActivationWeights != null) {
      shape = broadcast_util.assertAndGetBroadcastShape(shape, preluActivationWeights.shape);
    }
    return backend.makeOutput(shape, a.dtype);
  },
);
