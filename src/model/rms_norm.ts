import * as tf from '@tensorflow/tfjs';

import { tokenAxes } from './token_axes.js';

/** RMSNorm's epsilon (design.md section 1). */
export const RMS_NORM_EPS = 1e-5;

/** x * rsqrt(mean(x^2 over the last axis) + eps), and the per-token factor: Square, Mean, Add, Rsqrt, Multiply. */
function rmsNormalise(x: tf.Tensor, eps: number): { normalised: tf.Tensor; inverseRms: tf.Tensor } {
  const meanSquare = tf.mean(tf.square(x), -1, true); // (..., 1)
  const inverseRms = tf.rsqrt(tf.add(meanSquare, eps)); // (..., 1)
  return { normalised: tf.mul(x, inverseRms), inverseRms }; // (..., d)
}

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
 * kernels only, nothing made on the host. The gradient keeps the inputs x and gain and computes
 * n and r again (five kernels): a tensor made inside the forward and kept would outlive it, which
 * tfjs's per-kernel leak check (IS_TEST) reports, and the inputs are alive anyway.
 */
export function rmsNorm<T extends tf.Tensor>(x: T, gain: tf.Tensor1D, eps: number = RMS_NORM_EPS): T {
  tf.util.assert(
    x.shape[x.rank - 1] === gain.shape[0],
    () => `rmsNorm: x has shape [${x.shape}] but gain has [${gain.shape}]`,
  );
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient.
  const normalise = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, save] = inputs as [tf.Tensor, tf.Tensor1D, tf.GradSaveFunc];
    const value = tf.mul(rmsNormalise(input, eps).normalised, scale);
    save([input, scale]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale] = saved as [tf.Tensor, tf.Tensor1D];
      const { normalised: n, inverseRms: r } = rmsNormalise(savedInput, eps);
      const dn = tf.mul(dy, savedScale); // (..., d)
      const projection = tf.mean(tf.mul(dn, n), -1, true); // (..., 1)
      const dx = tf.mul(r, tf.sub(dn, tf.mul(n, projection))); // (..., d)
      const dGain = tf.sum(tf.mul(dy, n), tokenAxes(dy.rank)); // (d)
      return [dx, dGain];
    };
    return { value, gradFunc };
  });
  return normalise(x, gain) as T;
}
