import * as tf from '@tensorflow/tfjs';

/**
 * x @ W^T with W stored [d_out, d_in], on the 3-D activation directly: one BatchMatMul of batch
 * [B] of [T, d_in] x [d_in, d_out], the shape the analytic formulas count (no flatten to [B*T, d]).
 */
export function linear(x: tf.Tensor3D, weight: tf.Tensor2D): tf.Tensor3D {
  tf.util.assert(
    x.shape[2] === weight.shape[1],
    () => `linear: x has shape [${x.shape}] but the weight [d_out, d_in] has [${weight.shape}]`,
  );
  return tf.matMul(x, weight, false, true); // (B, T, d_out)
}
