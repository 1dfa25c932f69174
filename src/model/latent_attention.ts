/**
 * Multi-head latent attention (DeepSeek-V2 and V3; src/config/latent_attention.ts has the
 * algebra), as transformers' DeepseekV3Attention computes it. H heads, dn = qk_nope_head_dim,
 * dr = qk_rope_head_dim, dqk = dn + dr, dv = v_head_dim, r = kv_lora_rank, rq = q_lora_rank:
 *
 *   q        = q_up(q_latent_norm(q_down x))  or  q_proj x             (B, T, H dqk)
 *   [c | kR] = kv_down x                                              (B, T, r + dr)
 *   [kC | v] = kv_up(kv_latent_norm(c)) per head                      (B, H, T, dn + dv)
 *   q_R, k_R rotated (RoPE over dr); k_R is one head, shared by all H
 *   out      = output_proj(softmax(mask([q_C | q_R] [kC | k_R]^T / sqrt(dqk))) v)
 *
 * Each projection and norm runs in its own leaf scope (q_down, q_latent_norm, q_up or q_proj,
 * kv_down, kv_latent_norm, kv_up, rope, output_proj), the names the analytic inventory uses; the
 * splits, concatenations and the rope key's broadcast over the heads are data movement at `attn`.
 *
 * With a cache, a layer keeps c normed (B, C, r) and k_R rotated (B, 1, C, dr) per position, what
 * the analytic cache bytes count, never per-head keys and values. A decode step then cannot run
 * kv_up on its new tokens alone (the cached positions have no keys to join); it takes the
 * absorbed form, which reads the latents as they are (absorbedAttention).
 */

import * as tf from '@tensorflow/tfjs-core';
import { scope } from '../core/scope.js';
import {
  attentionCore,
  cachedAttentionCore,
  mergeHeads,
  splitHeads,
  type AttentionCacheSlot,
  type AttentionCoreSpec,
  type AttentionParts,
  type CachedLatent,
} from './attention.js';
import { concatKeepingNothing, reshapeKeepingNothing } from './lean_gradients.js';
import type { RopeTables } from './rope.js';

/** A latent-attention layer's weights, stored [d_in, d_out] like every projection (linear.ts). */
export interface LatentAttentionWeights {
  /** [d, H dqk]: the full-rank query, when the config has no q_lora_rank. */
  q_proj?: tf.Tensor2D;
  /** [d, rq]. */
  q_down?: tf.Tensor2D;
  /** [rq]: the query latent's norm gain (and a LayerNorm's bias). */
  q_latent_norm?: tf.Tensor1D;
  q_latent_norm_bias?: tf.Tensor1D;
  /** [rq, H dqk]. */
  q_up?: tf.Tensor2D;
  /** [d, r + dr]: the latent c_KV, then the shared rope key k_R. */
  kv_down?: tf.Tensor2D;
  /** [r]. */
  kv_latent_norm?: tf.Tensor1D;
  kv_latent_norm_bias?: tf.Tensor1D;
  /** [r, H (dn + dv)]: each head's key part k_C, then its value. */
  kv_up?: tf.Tensor2D;
  /** [H dv, d]. */
  output_proj: tf.Tensor2D;
}

/** The head widths of a latent layer. */
export interface LatentHeads {
  readonly heads: number;
  /** dn: the part of each query and key head without rotation. */
  readonly nope: number;
  /** dr: the rotated part; the key's is one head shared by all. */
  readonly rope: number;
  /** dv: each value head. */
  readonly value: number;
}

/** The model's norm over the last axis, with its gain (and a LayerNorm's bias). */
export type LatentNorm = (x: tf.Tensor3D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined) => tf.Tensor3D;

/**
 * k_R (B, 1, T, dr) repeated over the H heads, (B, H, T, dr). Its gradient sums dy over the
 * heads in one Sum, where tfjs's Tile gradient would slice and add H times.
 */
function shareAcrossHeads(ropeKey: tf.Tensor4D, heads: number): tf.Tensor4D {
  const share = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const key = inputs[0] as tf.Tensor4D;
    const value = tf.tile(key, [1, heads, 1, 1]); // (B, H, T, dr)
    const gradFunc = (dy: tf.Tensor4D): tf.Tensor => tf.sum(dy, 1, true); // (B, 1, T, dr)
    return { value, gradFunc };
  });
  return share(ropeKey);
}

function required<T>(tensor: T | undefined, name: string): T {
  if (tensor === undefined) throw new Error(`attn: a latent-attention layer has no ${name}`);
  return tensor;
}

/** Every head's query of x (B, T, d): through the query latent, or one full-rank q_proj. (B, H, T, dqk). */
function latentQueries(
  x: tf.Tensor3D,
  weights: LatentAttentionWeights,
  heads: LatentHeads,
  parts: AttentionParts,
  norm: LatentNorm,
): tf.Tensor4D {
  const { q_proj: full, q_down: down, q_up: up } = weights;
  if (full !== undefined)
    return splitHeads(
      scope('q_proj', () => parts.linear(x, full)),
      heads.heads,
    ); // (B, H, T, dqk)
  const latent = scope('q_down', () => parts.linear(x, required(down, 'q_down'))); // (B, T, rq)
  const normed = scope('q_latent_norm', () =>
    norm(latent, required(weights.q_latent_norm, 'q_latent_norm'), weights.q_latent_norm_bias),
  ); // (B, T, rq)
  const q = scope('q_up', () => parts.linear(normed, required(up, 'q_up'))); // (B, T, H dqk)
  return splitHeads(q, heads.heads); // (B, H, T, dqk)
}

/**
 * Every head's key and value rebuilt from latents (B, C, r): kv_up, then split per head into the
 * key part k_C (B, H, C, dn) and the value (B, H, C, dv).
 */
function keysAndValues(
  latent: tf.Tensor3D,
  weights: LatentAttentionWeights,
  heads: LatentHeads,
  parts: AttentionParts,
): [tf.Tensor4D, tf.Tensor4D] {
  const joined = scope('kv_up', () => parts.linear(latent, required(weights.kv_up, 'kv_up'))); // (B, C, H (dn + dv))
  const perHead = splitHeads(joined, heads.heads); // (B, H, C, dn + dv)
  return tf.split<tf.Tensor4D>(perHead, [heads.nope, heads.value], 3) as [tf.Tensor4D, tf.Tensor4D];
}

/**
 * A decode step's attention over the latent cache in the absorbed form (DeepSeek's "absorb"
 * inference, and vLLM's decode): kv_up's key half folded into each head's query and its value
 * half applied after the weighted sum, so the cached latents are never expanded per head. The
 * latent is one key/value head shared by all H query heads, the grouped-query core with Hkv = 1:
 *
 *   absorb_k      q_C W_UK per head              [H, B N, dn] x [H, dn, r]
 *   scores        [q_C W_UK | q_R] [c | k_R]^T   [B, 1, H N, r + dr] x [B, 1, r + dr, C], / sqrt(dn + dr)
 *   weighted_sum  P c                            [B, 1, H N, C] x [B, 1, C, r]
 *   absorb_v      (P c) W_UV per head            [H, B N, r] x [H, r, dv]
 *
 * Returns the merged heads (B, N, H dv), output_proj's input.
 */
function absorbedAttention(
  queryNope: tf.Tensor4D,
  queryRotated: tf.Tensor4D,
  attended: CachedLatent,
  weights: LatentAttentionWeights,
  heads: LatentHeads,
  parts: AttentionParts,
  core: AttentionCoreSpec,
  start: number,
): tf.Tensor3D {
  const [B, H, N, dn] = queryNope.shape;
  const { latent, ropeKey } = attended;
  const [, C, r] = latent.shape;
  const [dr, dv] = [heads.rope, heads.value];
  const perHead = tf.reshape<tf.Rank.R3>(required(weights.kv_up, 'kv_up'), [r, H, dn + dv]); // (r, H, dn + dv)
  const [keyHalf, valueHalf] = tf.split<tf.Tensor3D>(perHead, [dn, dv], 2); // (r, H, dn), (r, H, dv)
  const queryByHead = tf.reshape<tf.Rank.R3>(tf.transpose(queryNope, [1, 0, 2, 3]), [H, B * N, dn]); // (H, B*N, dn)
  const queryLatent = scope('absorb_k', () => tf.matMul<tf.Tensor3D>(queryByHead, tf.transpose(keyHalf!, [1, 2, 0]))); // (H, B*N, r)
  const queryLatentHeads = tf.transpose(tf.reshape<tf.Rank.R4>(queryLatent, [H, B, N, r]), [1, 0, 2, 3]); // (B, H, N, r)
  const q = tf.concat([queryLatentHeads, queryRotated], 3); // (B, H, N, r + dr)
  const latentHead = tf.reshape<tf.Rank.R4>(latent, [B, 1, C, r]); // (B, 1, C, r): one head for all queries
  const k = tf.concat([latentHead, ropeKey], 3); // (B, 1, C, r + dr)
  const weightedLatent = cachedAttentionCore(q, k, latentHead, parts, core, start, start + N - C, dn + dr); // (B, H, N, r)
  const latentByHead = tf.reshape<tf.Rank.R3>(tf.transpose(weightedLatent, [1, 0, 2, 3]), [H, B * N, r]); // (H, B*N, r)
  const values = scope('absorb_v', () => tf.matMul<tf.Tensor3D>(latentByHead, tf.transpose(valueHalf!, [1, 0, 2]))); // (H, B*N, dv)
  const byToken = tf.transpose(tf.reshape<tf.Rank.R4>(values, [H, B, N, dv]), [1, 2, 0, 3]); // (B, N, H, dv)
  return tf.reshape<tf.Rank.R3>(byToken, [B, N, H * dv]); // (B, N, H dv)
}

/**
 * Latent self-attention of x (B, T, d) with rope tables for its T positions over dr features.
 * Without a cache, and for a prefill, every head's key and value is rebuilt from the latent (the
 * naive form, as transformers computes it); a prefill then caches the latent and the rope key.
 * A decode step appends its latents to the cache and attends in the absorbed form.
 */
export function latentAttention(
  x: tf.Tensor3D,
  weights: LatentAttentionWeights,
  heads: LatentHeads,
  rope: RopeTables,
  parts: AttentionParts,
  core: AttentionCoreSpec,
  norm: LatentNorm,
  cache?: AttentionCacheSlot,
): tf.Tensor3D {
  const [B, T] = x.shape;
  const { heads: H, nope: dn, rope: dr } = heads;
  const queries = latentQueries(x, weights, heads, parts, norm); // (B, H, T, dqk)
  const [queryNope, queryRope] = tf.split<tf.Tensor4D>(queries, [dn, dr], 3); // (B, H, T, dn), (B, H, T, dr)
  const compressed = scope('kv_down', () => parts.linear(x, required(weights.kv_down, 'kv_down'))); // (B, T, r + dr)
  const r = compressed.shape[2] - dr;
  const [latent, ropeKey] = tf.split<tf.Tensor3D>(compressed, [r, dr], 2); // (B, T, r), (B, T, dr)
  const normed = scope('kv_latent_norm', () =>
    norm(latent!, required(weights.kv_latent_norm, 'kv_latent_norm'), weights.kv_latent_norm_bias),
  ); // (B, T, r)
  // A view kept by no gradient: RoPE's gradient needs only its tables, so k_R's pre-rotation
  // values are read by no backward pass (tfjs's Reshape would keep them).
  const oneHead = reshapeKeepingNothing<tf.Rank.R4>(ropeKey!, [B, 1, T, dr]); // (B, 1, T, dr): one rope key for all heads
  const [queryRotated, keyRotated] = scope('rope', () => [parts.rope(queryRope!, rope), parts.rope(oneHead, rope)]);
  const fresh: CachedLatent = { latent: normed, ropeKey: keyRotated };
  const past = cache?.past;
  if (past !== undefined && !('latent' in past)) throw new Error('attn: a key/value cache reached latent attention');
  let merged: tf.Tensor3D; // (B, T, H dv)
  let kept = fresh;
  if (past === undefined) {
    const [keyNope, values] = keysAndValues(normed, weights, heads, parts); // (B, H, T, dn), (B, H, T, dv)
    // The scores' gradient keeps the joined q and k (what PyTorch's matmul saves of
    // torch.cat([q_nope, q_pe]) and of the joined key states); their parts, q_C, the rotated
    // q_R, k_C and k_R shared across the heads, are read by no backward pass, so the joins keep
    // nothing (tfjs's Concat would keep every part, doubling q and k).
    const q = concatKeepingNothing<tf.Tensor4D>([queryNope!, queryRotated], 3); // (B, H, T, dqk)
    const k = concatKeepingNothing<tf.Tensor4D>([keyNope, shareAcrossHeads(keyRotated, H)], 3); // (B, H, T, dqk)
    merged = mergeHeads(attentionCore(q, k, values, parts, core)); // (B, T, H dv)
  } else {
    kept = scope('kv_cache', () => ({
      latent: tf.concat([past.latent, fresh.latent], 1), // (B, C, r)
      ropeKey: tf.concat([past.ropeKey, fresh.ropeKey], 2), // (B, 1, C, dr)
    }));
    merged = absorbedAttention(queryNope!, queryRotated, kept, weights, heads, parts, core, cache!.start); // (B, T, H dv)
  }
  if (cache !== undefined) {
    cache.present = scope('kv_cache', () => ({
      latent: tf.keep(kept.latent), // (B, C, r)
      ropeKey: tf.keep(kept.ropeKey), // (B, 1, C, dr)
    }));
  }
  return scope('output_proj', () => parts.linear(merged, weights.output_proj)); // (B, T, d)
}
