/**
 * Scaled dot-product scores with a causal mask, and the softmax over them. The mask is additive
 * (0 where key <= query, -Infinity after), built by tf ops from two ranges so it costs no host
 * array even at T = 16k and runs unchanged on a shape-only backend. Every T x T score is computed
 * and then masked: that is the work the kernels do, and what design.md section 3 counts.
 */

import * as tf from '@tensorflow/tfjs';
import { scope } from '../scope.js';

/** The additive causal mask (T, T): 0 on and below the diagonal, -Infinity above it. */
export function causalMask(seq: number): tf.Tensor2D {
  const queryPosition = tf.reshape<tf.Rank.R2>(tf.range(0, seq, 1, 'int32'), [seq, 1]); // (T, 1)
  const keyPosition = tf.reshape<tf.Rank.R2>(tf.range(0, seq, 1, 'int32'), [1, seq]); // (1, T)
  const isFuture = tf.greater(keyPosition, queryPosition); // (T, T)
  return tf.where(isFuture, tf.fill([seq, seq], -Infinity), tf.fill([seq, seq], 0));
}

/** q k^T / sqrt(dk) with future keys masked to -Infinity: q, k (B, H, T, dk) -> (B, H, T, T). */
export function causalScores(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
  tf.util.assert(
    tf.util.arraysEqual(q.shape, k.shape),
    () => `attn scores: q has shape [${q.shape}] but k has [${k.shape}]`,
  );
  const [, , T, dk] = q.shape;
  const scores = tf.matMul<tf.Tensor4D>(q, k, false, true); // (B, H, T, T)
  const scaled = tf.mul<tf.Tensor4D>(scores, 1 / Math.sqrt(dk));
  return tf.add<tf.Tensor4D>(scaled, causalMask(T));
}

/** Softmax over the key axis of (B, H, T, T) scores. */
export function softmaxOverKeys(scores: tf.Tensor4D): tf.Tensor4D {
  return tf.softmax(scores, -1);
}

export interface CausalSoftmaxParts {
  scores: (q: tf.Tensor4D, k: tf.Tensor4D) => tf.Tensor4D;
  softmax: (scores: tf.Tensor4D) => tf.Tensor4D;
}

const defaultCausalSoftmaxParts: CausalSoftmaxParts = { scores: causalScores, softmax: softmaxOverKeys };

/**
 * The attention weights P = softmax(mask(q k^T / sqrt(dk))), (B, H, T, T), with the scores under
 * the `scores` scope and the softmax under `softmax`. Row t sums to 1 over keys 0..t; later keys get 0.
 */
export function causalSoftmax(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  parts: CausalSoftmaxParts = defaultCausalSoftmaxParts,
): tf.Tensor4D {
  const scores = scope('scores', () => parts.scores(q, k));
  return scope('softmax', () => parts.softmax(scores));
}
