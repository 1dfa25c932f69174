import * as tf from '@tensorflow/tfjs';

import { tokenAxes } from './token_axes.js';

/** RMSNorm's epsilon (design.md section 1). */
export const RMS_NORM_EPS = 1e-5;

/**
 * RMSNorm(x) = x / sqrt(mean(x^2 over the last axis) + eps) * gain. No bias, no mean subtraction.
 *
 * The forward kernels are the plain ones (Square, Mean, Add, Rsqrt, Multiply, Multiply). The
 * gradient is written out rather than taken kernel by kernel: tfjs's Mean gradient builds a ones
 * tensor of x's shape in JavaScript at every call (host memory, and most of a GPT-2 XL training
 * step's time on the shape-only backend). With n = x * r, r = rsqrt(mean(x^2) + eps) per token
 * and dn = dy * gain, calculus gives
 *
 *   dx    = r * (dn - n * mean(dn * n))      (means over the last axis)
 *   dgain = sum over tokens of dy * n
 *
 * kernels only, nothing made on the host. n, r and the gain are kept for it (r is one value per token).
 */
export function rmsNorm<T extends tf.Tensor>(x: T, gain: tf.Tensor1D, eps: number = RMS_NORM_EPS): T {
  tf.util.assert(
    x.shape[x.rank - 1] === gain.shape[0],
    () => `rmsNorm: x has shape [${x.shape}] but gain has [${gain.shape}]`,
  );
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient.
  const normalise = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, save] = inputs as [tf.Tensor, tf.Tensor1D, tf.GradSaveFunc];
    const meanSquare = tf.mean(tf.square(input), -1, true); // (..., 1)
    const inverseRms = tf.rsqrt(tf.add(meanSquare, eps)); // (..., 1)
    const normalised = tf.mul(input, inverseRms); // (..., d)
    const value = tf.mul(normalised, scale);
    save([normalised, inverseRms, scale]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [n, r, g] = saved as [tf.Tensor, tf.Tensor, tf.Tensor1D];
      const dn = tf.mul(dy, g); // (..., d)
      const projection = tf.mean(tf.mul(dn, n), -1, true); // (..., 1)
      const dx = tf.mul(r, tf.sub(dn, tf.mul(n, projection))); // (..., d)
      const dGain = tf.sum(tf.mul(dy, n), tokenAxes(dy.rank)); // (d)
      return [dx, dGain];
    };
    return { value, gradFunc };
  });
  return normalise(x, gain) as T;
}
