/**
 * Scaled dot-product scores with a causal mask, and the softmax over them. The mask is additive
 * (0 where key <= query, -Infinity after), built by tf ops from ranges so it costs no host array
 * even at T = 16k and runs unchanged on a shape-only backend. Every T x T score is computed and
 * then masked: that is the work the kernels do, and what design.md section 3 counts.
 *
 * Grouped-query attention stacks the G query heads that share one key/value head along the rows
 * (see attention.ts): q is then (B, Hkv, G*T, dk) against k (B, Hkv, T, dk), and score row g*T + t
 * belongs to query position t. With G = 1 everything here is plain multi-head attention.
 */

import * as tf from '@tensorflow/tfjs';
import { scope } from '../core/scope.js';

/** The additive causal mask (T, T): 0 on and below the diagonal, -Infinity above it. */
function causalMask(seq: number): tf.Tensor2D {
  const queryPosition = tf.reshape<tf.Rank.R2>(tf.range(0, seq, 1, 'int32'), [seq, 1]); // (T, 1)
  const keyPosition = tf.reshape<tf.Rank.R2>(tf.range(0, seq, 1, 'int32'), [1, seq]); // (1, T)
  const isFuture = tf.greater(keyPosition, queryPosition); // (T, T)
  return tf.where(isFuture, tf.fill([seq, seq], -Infinity), tf.fill([seq, seq], 0));
}

/**
 * q k^T / sqrt(dk) with future keys masked to -Infinity: q (B, heads, G*T, dk) and k
 * (B, heads, T, dk) -> (B, heads, G*T, T). Multi-head: G = 1, q and k both (B, H, T, dk).
 *
 * With G > 1 the mask goes on a view of the scores as (B, heads * G, T, T): row g*T + t of
 * key/value head j is query head j*G + g at position t, so each T x T block takes the one (T, T)
 * mask, i.e. row r is masked at query position r mod T. The views move no data, and the mask
 * costs what multi-head attention's does.
 */
export function causalScores(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
  const [B, heads, queryRows, dk] = q.shape;
  const T = k.shape[2];
  tf.util.assert(
    k.shape[0] === B && k.shape[1] === heads && k.shape[3] === dk && T > 0 && queryRows % T === 0,
    () => `attn scores: q has shape [${q.shape}] but k has [${k.shape}]`,
  );
  const scores = tf.matMul<tf.Tensor4D>(q, k, false, true); // (B, heads, G*T, T)
  const scaled = tf.mul<tf.Tensor4D>(scores, 1 / Math.sqrt(dk));
  const groups = queryRows / T;
  if (groups === 1) return tf.add<tf.Tensor4D>(scaled, causalMask(T));
  const perQueryHead = tf.reshape<tf.Rank.R4>(scaled, [B, heads * groups, T, T]); // (B, H, T, T)
  const masked = tf.add<tf.Tensor4D>(perQueryHead, causalMask(T)); // (B, H, T, T)
  return tf.reshape<tf.Rank.R4>(masked, [B, heads, queryRows, T]); // (B, heads, G*T, T)
}

/** Softmax over the key axis of (B, heads, G*T, T) scores. */
export function softmaxOverKeys(scores: tf.Tensor4D): tf.Tensor4D {
  return tf.softmax(scores, -1);
}

export interface CausalSoftmaxParts {
  scores: (q: tf.Tensor4D, k: tf.Tensor4D) => tf.Tensor4D;
  softmax: (scores: tf.Tensor4D) => tf.Tensor4D;
}

const defaultCausalSoftmaxParts: CausalSoftmaxParts = { scores: causalScores, softmax: softmaxOverKeys };

/**
 * The attention weights P = softmax(mask(q k^T / sqrt(dk))), (B, heads, G*T, T), with the scores
 * under the `scores` scope and the softmax under `softmax`. Each row sums to 1 over keys 0..t of
 * its query position t; later keys get 0.
 */
export function causalSoftmax(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  parts: CausalSoftmaxParts = defaultCausalSoftmaxParts,
): tf.Tensor4D {
  const scores = scope('scores', () => parts.scores(q, k));
  return scope('softmax', () => parts.softmax(scores));
}
