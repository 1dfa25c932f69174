/**
 * The GELU MLP of the original GPT-2 block: W2( GELU(W1 x) ), two matrices (plus their biases
 * when the architecture has them), no w3. Called inside the `ffn` scope; runs w1, gelu and w2 in
 * leaf scopes.
 */

import * as tf from '@tensorflow/tfjs-core';
import { scope } from '../core/scope.js';
import { elementwiseKeeping } from './lean_gradients.js';
import { linear } from './linear.js';

/** sqrt(2 / pi), the tanh approximation's scale. */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** The cubic term's coefficient in the tanh approximation. */
const CUBIC_COEFFICIENT = 0.044715;

/**
 * GELU as GPT-2 computes it (Hendrycks and Gimpel's tanh approximation, Hugging Face's
 * "gelu_new"):
 *
 *   GELU(z) = 0.5 z (1 + tanh( sqrt(2/pi) (z + 0.044715 z^3) ))
 *
 * with the inner polynomial written as z (a + b z^2), a = sqrt(2/pi), b = 0.044715 a, so it takes
 * eight kernels the wasm backend has: Square, Multiply, Add, Multiply, Tanh, Add, Multiply, Multiply.
 *
 * Its gradient keeps z alone, as PyTorch's GELU does, and computes the rest again: with
 * u = z (a + b z^2) and t = tanh(u), dz = dy (0.5 (1 + t) + 0.5 z (1 - t^2) (a + 3 b z^2)).
 * tfjs's own gradients would keep every intermediate of the eight kernels.
 */
export function gelu<T extends tf.Tensor>(z: T): T {
  return elementwiseKeeping(z, geluValue, 'input', (dy, input) => {
    const zSquared = tf.square(input);
    const t = tf.tanh(tf.mul(input, tf.add(tf.mul(zSquared, CUBIC_COEFFICIENT * SQRT_2_OVER_PI), SQRT_2_OVER_PI)));
    const slope = tf.add(tf.mul(zSquared, 3 * CUBIC_COEFFICIENT * SQRT_2_OVER_PI), SQRT_2_OVER_PI); // du/dz
    const outer = tf.mul(tf.add(t, 1), 0.5);
    const inner = tf.mul(tf.mul(tf.mul(input, tf.sub(1, tf.square(t))), slope), 0.5);
    return tf.mul(dy, tf.add(outer, inner));
  });
}

/** GELU's value, the eight kernels above. */
function geluValue(z: tf.Tensor): tf.Tensor {
  const zSquared = tf.square(z);
  const inner = tf.mul(z, tf.add(tf.mul(zSquared, CUBIC_COEFFICIENT * SQRT_2_OVER_PI), SQRT_2_OVER_PI));
  const onePlusTanh = tf.add(tf.tanh(inner), 1);
  return tf.mul(tf.mul(z, onePlusTanh), 0.5);
}

/** x (B, T, d), W1 [d, F], W2 [F, d] -> (B, T, d); `project` applies each matrix (and its bias). */
export function geluMlp(
  x: tf.Tensor3D,
  w1: tf.Tensor2D,
  w2: tf.Tensor2D,
  project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D = linear,
): tf.Tensor3D {
  tf.util.assert(
    w2.shape[0] === w1.shape[1] && w2.shape[1] === w1.shape[0],
    () => `ffn: w1 [${w1.shape}] must be [d, F] and w2 [${w2.shape}] must be [F, d]`,
  );
  const w1x = scope('w1', () => project(x, w1)); // (B, T, F)
  const activated = scope('gelu', () => gelu(w1x)); // (B, T, F)
  return scope('w2', () => project(activated, w2)); // (B, T, d)
}
