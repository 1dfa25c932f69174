/**
 * The SwiGLU feed-forward network: W2( SiLU(W1 x) * (W3 x) ), SiLU(z) = z * sigmoid(z).
 * Called inside the `ffn` scope; runs w1, w3, silu, gate (the product) and w2 in leaf scopes.
 */

import * as tf from '@tensorflow/tfjs-core';
import { scope } from '../core/scope.js';
import { gatedOutput } from './gated_ffn.js';
import { linear } from './linear.js';

/** x (B, T, d), W1 and W3 [d, F], W2 [F, d] -> (B, T, d); `project` applies each matrix. */
export function swiglu(
  x: tf.Tensor3D,
  w1: tf.Tensor2D,
  w2: tf.Tensor2D,
  w3: tf.Tensor2D,
  project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D = linear,
): tf.Tensor3D {
  tf.util.assert(
    tf.util.arraysEqual(w1.shape, w3.shape) && w2.shape[0] === w1.shape[1] && w2.shape[1] === w1.shape[0],
    () => `ffn: w1 [${w1.shape}], w3 [${w3.shape}] must be [d, F] and w2 [${w2.shape}] must be [F, d]`,
  );
  const w1x = scope('w1', () => project(x, w1)); // (B, T, F)
  const w3x = scope('w3', () => project(x, w3)); // (B, T, F)
  return gatedOutput(w1x, w3x, w2, 'silu', project);
}
