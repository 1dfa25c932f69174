/**
 * Causal multi-head self-attention with RoPE on q and k. Called inside the `attn` scope; each
 * sub-module runs in its own leaf scope (q_proj, k_proj, v_proj, rope, scores, softmax,
 * weighted_sum, output_proj), and the head split/merge reshapes and transposes stay at `attn`.
 */

import * as tf from '@tensorflow/tfjs';
import { scope } from '../scope.js';
import { causalScores, causalSoftmax, softmaxOverKeys, type CausalSoftmaxParts } from './causal_softmax.js';
import { linear } from './linear.js';
import { applyRope, type RopeTables } from './rope.js';

export interface AttentionWeights {
  q_proj: tf.Tensor2D;
  k_proj: tf.Tensor2D;
  v_proj: tf.Tensor2D;
  output_proj: tf.Tensor2D;
}

/** The modules attention is built from, replaceable one at a time (see ModelParts). */
export interface AttentionParts extends CausalSoftmaxParts {
  linear: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D;
  rope: (x: tf.Tensor4D, tables: RopeTables) => tf.Tensor4D;
}

export const defaultAttentionParts: AttentionParts = {
  linear,
  rope: applyRope,
  scores: causalScores,
  softmax: softmaxOverKeys,
};

/** (B, T, d) -> (B, H, T, dk). */
export function splitHeads(x: tf.Tensor3D, numHeads: number): tf.Tensor4D {
  const [B, T, d] = x.shape;
  tf.util.assert(d % numHeads === 0, () => `attn: d_model ${d} of x [${x.shape}] is not divisible by ${numHeads} heads`);
  const heads = tf.reshape<tf.Rank.R4>(x, [B, T, numHeads, d / numHeads]); // (B, T, H, dk)
  return tf.transpose(heads, [0, 2, 1, 3]); // (B, H, T, dk)
}

/** (B, H, T, dk) -> (B, T, d). */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, H, T, dk] = x.shape;
  const heads = tf.transpose(x, [0, 2, 1, 3]); // (B, T, H, dk)
  return tf.reshape<tf.Rank.R3>(heads, [B, T, H * dk]); // (B, T, d)
}

export function attention(
  x: tf.Tensor3D,
  weights: AttentionWeights,
  numHeads: number,
  rope: RopeTables,
  parts: AttentionParts = defaultAttentionParts,
): tf.Tensor3D {
  const q = scope('q_proj', () => parts.linear(x, weights.q_proj)); // (B, T, d)
  const k = scope('k_proj', () => parts.linear(x, weights.k_proj)); // (B, T, d)
  const v = scope('v_proj', () => parts.linear(x, weights.v_proj)); // (B, T, d)
  const qHeads = splitHeads(q, numHeads); // (B, H, T, dk)
  const kHeads = splitHeads(k, numHeads); // (B, H, T, dk)
  const vHeads = splitHeads(v, numHeads); // (B, H, T, dk)
  const [qRotated, kRotated] = scope('rope', () => [parts.rope(qHeads, rope), parts.rope(kHeads, rope)]);
  const probabilities = causalSoftmax(qRotated, kRotated, parts); // (B, H, T, T)
  const weighted = scope('weighted_sum', () => tf.matMul<tf.Tensor4D>(probabilities, vHeads)); // (B, H, T, dk)
  const merged = mergeHeads(weighted); // (B, T, d)
  return scope('output_proj', () => parts.linear(merged, weights.output_proj)); // (B, T, d)
}
