import * as tf from '@tensorflow/tfjs-core';

import { offTape } from './lean_gradients.js';
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
 * It keeps what PyTorch's fused RMSNorm keeps: the input x, the gain and r, one fp32 statistic per
 * token (the saved-activation formula's rstd). r is computed off the tape (lean_gradients.ts) and
 * handed to the norm's custom gradient as an input, so the gradient keeps it without a tensor made
 * inside its forward outliving it (which tfjs's per-kernel leak check, IS_TEST, would report).
 */
export function rmsNorm<T extends tf.Tensor>(x: T, gain: tf.Tensor1D, eps: number = RMS_NORM_EPS): T {
  tf.util.assert(
    x.shape[x.rank - 1] === gain.shape[0],
    () => `rmsNorm: x has shape [${x.shape}] but gain has [${gain.shape}]`,
  );
  const inverseRms = offTape(() => tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))); // (..., 1)
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient.
  const normalise = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, r, save] = inputs as [tf.Tensor, tf.Tensor1D, tf.Tensor, tf.GradSaveFunc];
    const value = tf.mul(tf.mul(input, r), scale);
    save([input, scale, r]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale, savedR] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor];
      const n = tf.mul(savedInput, savedR); // (..., d)
      const dn = tf.mul(dy, savedScale); // (..., d)
      const projection = tf.mean(tf.mul(dn, n), -1, true); // (..., 1)
      const dx = tf.mul(savedR, tf.sub(dn, tf.mul(n, projection))); // (..., d)
      const dGain = tf.sum(tf.mul(dy, n), tokenAxes(dy.rank)); // (d)
      // r is off the tape: its gradient is never read (a scalar stands in, made without a kernel).
      return [dx, dGain, tf.scalar(0)];
    };
    return { value, gradFunc };
  });
  return normalise(x, gain, inverseRms) as T;
}
