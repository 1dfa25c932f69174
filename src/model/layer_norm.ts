import * as tf from '@tensorflow/tfjs';

import { tokenAxes } from './token_axes.js';

/** LayerNorm's epsilon (GPT-2's layer_norm_epsilon). */
export const LAYER_NORM_EPS = 1e-5;

/** (x - mean) * rsqrt(var + eps) over the last axis, and the per-token factor: Mean, Sub, Square, Mean, Add, Rsqrt, Multiply. */
function standardise(x: tf.Tensor, eps: number): { normalised: tf.Tensor; inverseStd: tf.Tensor } {
  const mean = tf.mean(x, -1, true); // (..., 1)
  const centred = tf.sub(x, mean); // (..., d)
  const variance = tf.mean(tf.square(centred), -1, true); // (..., 1)
  const inverseStd = tf.rsqrt(tf.add(variance, eps)); // (..., 1)
  return { normalised: tf.mul(centred, inverseStd), inverseStd }; // (..., d)
}

/**
 * LayerNorm(x) = (x - mean) / sqrt(var + eps) * gain + bias, mean and (biased) variance over the
 * last axis. Forward kernels: Mean, Sub, Square, Mean, Add, Rsqrt, Multiply, Multiply, Add.
 *
 * Its gradient is written out, as RMSNorm's is (src/model/rms_norm.ts says why: tfjs's Mean
 * gradient builds a ones tensor on the host; and why it recomputes n and r from the kept x).
 * With n = (x - mean) * r, r = rsqrt(var + eps) per token and dn = dy * gain:
 *
 *   dx    = r * (dn - mean(dn) - n * mean(dn * n))      (means over the last axis)
 *   dgain = sum over tokens of dy * n
 *   dbias = sum over tokens of dy
 */
export function layerNorm<T extends tf.Tensor>(
  x: T,
  gain: tf.Tensor1D,
  bias: tf.Tensor1D,
  eps: number = LAYER_NORM_EPS,
): T {
  const d = x.shape[x.rank - 1];
  tf.util.assert(
    d === gain.shape[0] && d === bias.shape[0],
    () => `layerNorm: x has shape [${x.shape}] but gain has [${gain.shape}] and bias [${bias.shape}]`,
  );
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient.
  const normalise = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, shift, save] = inputs as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const value = tf.add(tf.mul(standardise(input, eps).normalised, scale), shift);
    save([input, scale]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale] = saved as [tf.Tensor, tf.Tensor1D];
      const { normalised: n, inverseStd: r } = standardise(savedInput, eps);
      const tokens = tokenAxes(dy.rank);
      const dn = tf.mul(dy, savedScale); // (..., d)
      const meanDn = tf.mean(dn, -1, true); // (..., 1)
      const projection = tf.mean(tf.mul(dn, n), -1, true); // (..., 1)
      const dx = tf.mul(r, tf.sub(tf.sub(dn, meanDn), tf.mul(n, projection))); // (..., d)
      const dGain = tf.sum(tf.mul(dy, n), tokens); // (d)
      const dBias = tf.sum(dy, tokens); // (d)
      return [dx, dGain, dBias];
    };
    return { value, gradFunc };
  });
  return normalise(x, gain, bias) as T;
}
