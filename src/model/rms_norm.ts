import * as tf from '@tensorflow/tfjs';

/** RMSNorm's epsilon (design.md section 1). */
export const RMS_NORM_EPS = 1e-5;

/** RMSNorm(x) = x / sqrt(mean(x^2 over the last axis) + eps) * gain. No bias, no mean subtraction. */
export function rmsNorm<T extends tf.Tensor>(x: T, gain: tf.Tensor1D, eps: number = RMS_NORM_EPS): T {
  tf.util.assert(
    x.shape[x.rank - 1] === gain.shape[0],
    () => `rmsNorm: x has shape [${x.shape}] but gain has [${gain.shape}]`,
  );
  const meanSquare = tf.mean(tf.square(x), -1, true); // (..., 1)
  const normalised = tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps)));
  return tf.mul(normalised, gain) as T;
}
