import * as tf from '@tensorflow/tfjs-core';

import { offTape } from './lean_gradients.js';
import { tokenAxes } from './token_axes.js';

/** LayerNorm's epsilon (GPT-2's layer_norm_epsilon). */
export const LAYER_NORM_EPS = 1e-5;

/**
 * LayerNorm(x) = (x - mean) / sqrt(var + eps) * gain + bias, mean and (biased) variance over the
 * last axis. Forward kernels: Mean, Sub, Square, Mean, Add, Rsqrt, Multiply, Multiply, Add.
 *
 * Its gradient is written out, as RMSNorm's is (src/model/rms_norm.ts says why: tfjs's Mean
 * gradient builds a ones tensor on the host). With n = (x - mean) * r, r = rsqrt(var + eps) per
 * token and dn = dy * gain:
 *
 *   dx    = r * (dn - mean(dn) - n * mean(dn * n))      (means over the last axis)
 *   dgain = sum over tokens of dy * n
 *   dbias = sum over tokens of dy
 *
 * It keeps what PyTorch's native_layer_norm keeps: x, the gain, and the mean and r per token
 * (fp32). The statistics and x - mean are computed off the tape (lean_gradients.ts) and handed to
 * the norm's custom gradient as inputs, as RMSNorm's r is; x - mean is not kept.
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
  const mean = offTape(() => tf.mean(x, -1, true)); // (..., 1)
  const centred = offTape(() => tf.sub(x, mean)); // (..., d)
  const inverseStd = offTape(() => tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps))); // (..., 1)
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient.
  const normalise = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, shift, mu, r, c, save] = inputs as [
      tf.Tensor,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.GradSaveFunc,
    ];
    const value = tf.add(tf.mul(tf.mul(c, r), scale), shift);
    save([input, scale, mu, r]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [savedInput, savedScale, savedMean, savedR] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor, tf.Tensor];
      const n = tf.mul(tf.sub(savedInput, savedMean), savedR); // (..., d)
      const tokens = tokenAxes(dy.rank);
      const dn = tf.mul(dy, savedScale); // (..., d)
      const meanDn = tf.mean(dn, -1, true); // (..., 1)
      const projection = tf.mean(tf.mul(dn, n), -1, true); // (..., 1)
      const dx = tf.mul(savedR, tf.sub(tf.sub(dn, meanDn), tf.mul(n, projection))); // (..., d)
      const dGain = tf.sum(tf.mul(dy, n), tokens); // (d)
      const dBias = tf.sum(dy, tokens); // (d)
      // The statistics and x - mean are off the tape: their gradients are never read.
      const unread = tf.scalar(0);
      return [dx, dGain, dBias, unread, unread, unread];
    };
    return { value, gradFunc };
  });
  return normalise(x, gain, bias, mean, inverseStd, centred) as T;
}
