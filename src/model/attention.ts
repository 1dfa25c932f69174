/**
 * Causal self-attention: multi-head, grouped-query or multi-query, with RoPE on q and k when the
 * model uses rotary positions. Called inside the `attn` scope; each sub-module runs in its own leaf
 * scope (q_proj, k_proj, v_proj, rope, scores, softmax, weighted_sum, output_proj), and the head
 * split/merge reshapes and transposes stay at `attn`.
 *
 * Grouped-query attention (Hkv key/value heads, each shared by G = H / Hkv query heads) shares
 * K and V without repeating them: query head h = j*G + g belongs to key/value head j (the
 * standard grouping), and the G query heads of a group are stacked along the rows,
 * q (B, H, T, dk) -> (B, Hkv, G*T, dk), a reshape that moves no data. Then one matmul per
 * (b, j) computes all G score matrices against the group's one k, and one the weighted sums with
 * its one v. No broadcast batch dims, so tfjs's own matMul gradients are right, and the gradients
 * of k and v sum over the G query heads inside a single matmul (contraction G*T), as
 * src/analytic/training/backward_matmuls.ts writes them. With Hkv = H (G = 1) this is exactly the
 * multi-head path, kernel for kernel.
 */

import * as tf from '@tensorflow/tfjs';
import { scope } from '../core/scope.js';
import { causalScores, causalSoftmax, softmaxOverKeys, type CausalSoftmaxParts } from './causal_softmax.js';
import { linear } from './linear.js';
import { applyRope, type RopeTables } from './rope.js';

export interface AttentionWeights {
  q_proj: tf.Tensor2D;
  q_proj_bias?: tf.Tensor1D;
  /** [d, dkv], dkv = Hkv * dk. */
  k_proj: tf.Tensor2D;
  k_proj_bias?: tf.Tensor1D;
  /** [d, dkv]. */
  v_proj: tf.Tensor2D;
  v_proj_bias?: tf.Tensor1D;
  output_proj: tf.Tensor2D;
  output_proj_bias?: tf.Tensor1D;
}

/** Query heads H and key/value heads Hkv (Hkv divides H: H for multi-head, 1 for multi-query). */
export interface AttentionHeads {
  query: number;
  keyValue: number;
}

/** The modules attention is built from, replaceable one at a time (see ModelParts). */
export interface AttentionParts extends CausalSoftmaxParts {
  linear: (x: tf.Tensor3D, weight: tf.Tensor2D, bias?: tf.Tensor1D) => tf.Tensor3D;
  rope: (x: tf.Tensor4D, tables: RopeTables) => tf.Tensor4D;
}

export const defaultAttentionParts: AttentionParts = {
  linear,
  rope: applyRope,
  scores: causalScores,
  softmax: softmaxOverKeys,
};

/** (B, T, heads * dk) -> (B, heads, T, dk). */
function splitHeads(x: tf.Tensor3D, numHeads: number): tf.Tensor4D {
  const [B, T, width] = x.shape;
  tf.util.assert(
    width % numHeads === 0,
    () => `attn: width ${width} of x [${x.shape}] is not divisible by ${numHeads} heads`,
  );
  const heads = tf.reshape<tf.Rank.R4>(x, [B, T, numHeads, width / numHeads]); // (B, T, heads, dk)
  return tf.transpose(heads, [0, 2, 1, 3]); // (B, heads, T, dk)
}

/** (B, H, T, dk) -> (B, T, d). */
function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, H, T, dk] = x.shape;
  const heads = tf.transpose(x, [0, 2, 1, 3]); // (B, T, H, dk)
  return tf.reshape<tf.Rank.R3>(heads, [B, T, H * dk]); // (B, T, d)
}

/**
 * The attention core for q (B, H, T, dk) and k, v (B, Hkv, T, dk): softmax(mask(q k^T / sqrt(dk)))
 * v, (B, H, T, dk). Each key/value head serves its G = H / Hkv query heads, stacked along the rows.
 */
export function attentionCore(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, parts: CausalSoftmaxParts): tf.Tensor4D {
  const [B, H, T, dk] = q.shape;
  const Hkv = k.shape[1];
  tf.util.assert(
    Hkv > 0 &&
      H % Hkv === 0 &&
      tf.util.arraysEqual(k.shape, v.shape) &&
      k.shape[0] === B &&
      k.shape[2] === T &&
      k.shape[3] === dk,
    () => `attn: q has shape [${q.shape}], k [${k.shape}] and v [${v.shape}]: k and v need a head count dividing q's`,
  );
  if (Hkv === H) {
    const probabilities = causalSoftmax(q, k, parts); // (B, H, T, T)
    return scope('weighted_sum', () => tf.matMul<tf.Tensor4D>(probabilities, v)); // (B, H, T, dk)
  }
  const G = H / Hkv;
  const grouped = tf.reshape<tf.Rank.R4>(q, [B, Hkv, G * T, dk]); // (B, Hkv, G*T, dk): row g*T + t is head j*G + g at t
  const probabilities = causalSoftmax(grouped, k, parts); // (B, Hkv, G*T, T)
  const weighted = scope('weighted_sum', () => tf.matMul<tf.Tensor4D>(probabilities, v)); // (B, Hkv, G*T, dk)
  return tf.reshape<tf.Rank.R4>(weighted, [B, H, T, dk]); // (B, H, T, dk)
}

/**
 * Self-attention of x (B, T, d). `rope` holds the rotary tables for T positions, or is undefined
 * when the model adds learned positions to its embeddings instead.
 */
export function attention(
  x: tf.Tensor3D,
  weights: AttentionWeights,
  heads: AttentionHeads,
  rope: RopeTables | undefined,
  parts: AttentionParts = defaultAttentionParts,
): tf.Tensor3D {
  const q = scope('q_proj', () => parts.linear(x, weights.q_proj, weights.q_proj_bias)); // (B, T, d)
  const k = scope('k_proj', () => parts.linear(x, weights.k_proj, weights.k_proj_bias)); // (B, T, dkv)
  const v = scope('v_proj', () => parts.linear(x, weights.v_proj, weights.v_proj_bias)); // (B, T, dkv)
  const qHeads = splitHeads(q, heads.query); // (B, H, T, dk)
  const kHeads = splitHeads(k, heads.keyValue); // (B, Hkv, T, dk)
  const vHeads = splitHeads(v, heads.keyValue); // (B, Hkv, T, dk)
  const [qPositioned, kPositioned] =
    rope === undefined ? [qHeads, kHeads] : scope('rope', () => [parts.rope(qHeads, rope), parts.rope(kHeads, rope)]);
  const weighted = attentionCore(qPositioned, kPositioned, vHeads, parts); // (B, H, T, dk)
  const merged = mergeHeads(weighted); // (B, T, d)
  return scope('output_proj', () => parts.linear(merged, weights.output_proj, weights.output_proj_bias)); // (B, T, d)
}
