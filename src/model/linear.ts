import * as tf from '@tensorflow/tfjs';

/**
 * x @ W^T with W stored [d_out, d_in] and x (B, T, d_in) matmul'd directly: one BatchMatMul of
 * batch [B] of [T, d_in] x [d_in, d_out], the shape the analytic formulas count (no flatten to
 * [B*T, d_in]).
 *
 * The gradient is written out because tfjs 4.22's BatchMatMul gradient does not reduce a
 * broadcast batch: for a 2-D W it returns dW with shape [B, d_out, d_in] and tf.grads throws.
 * Backward runs two matmuls, each 2 * B*T * d_in * d_out FLOPs:
 *   dx = dy @ W                          (B, T, d_out) x [d_out, d_in] -> (B, T, d_in)
 *   dW = dy^T @ x over all B*T tokens    [d_out, B*T] x [B*T, d_in]    -> [d_out, d_in]
 */
const linearWithGradient = tf.customGrad((...args) => {
  const [x, weight, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, weight]);
  return {
    value: tf.matMul(x, weight, false, true), // (B, T, d_out)
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedX, savedWeight] = saved as [tf.Tensor3D, tf.Tensor2D];
      const [B, T, dIn] = savedX.shape;
      const dOut = savedWeight.shape[0];
      const dx = tf.matMul(dy, savedWeight); // (B, T, d_in)
      const tokensOut = tf.reshape(dy, [B * T, dOut]); // (B*T, d_out)
      const tokensIn = tf.reshape(savedX, [B * T, dIn]); // (B*T, d_in)
      const dWeight = tf.matMul(tokensOut, tokensIn, true, false); // (d_out, d_in)
      return [dx, dWeight];
    },
  };
});

export function linear(x: tf.Tensor3D, weight: tf.Tensor2D): tf.Tensor3D {
  tf.util.assert(
    x.shape[2] === weight.shape[1],
    () => `linear: x has shape [${x.shape}] but the weight [d_out, d_in] has [${weight.shape}]`,
  );
  return linearWithGradient(x, weight) as tf.Tensor3D; // (B, T, d_out)
}
