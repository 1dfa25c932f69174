/**
 * Causal self-attention: multi-head, grouped-query or multi-query, with RoPE on q and k when the
 * model uses rotary positions. Called inside the `attn` scope; each sub-module runs in its own leaf
 * scope (q_proj, k_proj, v_proj or the fused qkv_proj; q_norm and k_norm; rope, scores, softmax,
 * weighted_sum, output_proj), and the head split/merge reshapes and transposes stay at `attn`.
 * With a head_dim of its own, q and the merged heads are H * dh wide rather than d.
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

import * as tf from '@tensorflow/tfjs-core';
import { DENSE_ATTENTION, type AttentionSchedule } from '../config/attention_schedule.js';
import { scope } from '../core/scope.js';
import { blockedAttentionCore } from './blocked_attention.js';
import { rerunInBackward } from './checkpoint.js';
import { headWeightedSum } from './head_matmul.js';
import {
  CAUSAL_SQUARE,
  causalScores,
  causalSoftmax,
  softcapScores,
  softmaxOverKeys,
  type CausalSoftmaxParts,
} from './causal_softmax.js';
import { reshapeKeepingNothing } from './lean_gradients.js';
import { linear } from './linear.js';
import { applyRope, type RopeTables } from './rope.js';

/**
 * Attention's weights: q, k and v as three projections, or as one fused qkv_proj (Phi-3); the
 * q and k norms' gains (and LayerNorm biases) when the model has them; the output projection.
 */
export interface AttentionWeights {
  /** [d, dq], dq = H * dh (d unless head_dim is its own). */
  q_proj?: tf.Tensor2D;
  q_proj_bias?: tf.Tensor1D;
  /** [d, dkv], dkv = Hkv * dh. */
  k_proj?: tf.Tensor2D;
  k_proj_bias?: tf.Tensor1D;
  /** [d, dkv]. */
  v_proj?: tf.Tensor2D;
  v_proj_bias?: tf.Tensor1D;
  /** [d, dq + 2 dkv]: Wq, Wk and Wv side by side, in that order. */
  qkv_proj?: tf.Tensor2D;
  qkv_proj_bias?: tf.Tensor1D;
  /** [dh]: one gain for every query head. */
  q_norm?: tf.Tensor1D;
  q_norm_bias?: tf.Tensor1D;
  /** [dh]: one gain for every key head. */
  k_norm?: tf.Tensor1D;
  k_norm_bias?: tf.Tensor1D;
  /** [dq, d]. */
  output_proj: tf.Tensor2D;
  output_proj_bias?: tf.Tensor1D;
}

/** The model's norm applied to each head's dh features: (B, heads, T, dh) with a gain [dh] (and a LayerNorm bias). */
export type HeadNorm = (x: tf.Tensor4D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined) => tf.Tensor4D;

/** Query heads H and key/value heads Hkv (Hkv divides H: H for multi-head, 1 for multi-query). */
export interface AttentionHeads {
  query: number;
  keyValue: number;
}

/** One layer's cached keys and values: (B, Hkv, C, dk) each, C consecutive positions. */
export interface CachedKeys {
  readonly k: tf.Tensor4D;
  readonly v: tf.Tensor4D;
}

/**
 * One latent-attention layer's cache (latent_attention.ts): the normed latent c_KV (B, C, r) and
 * the rotated rope key k_R (B, 1, C, dr), C consecutive positions; never per-head keys and values.
 */
export interface CachedLatent {
  readonly latent: tf.Tensor3D;
  readonly ropeKey: tf.Tensor4D;
}

/** What one layer keeps: keys and values per key/value head, or the latent and the rope key. */
export type LayerCache = CachedKeys | CachedLatent;

/** The tensors a layer's cache holds. */
export function cachedTensors(layer: LayerCache): tf.Tensor[] {
  return 'k' in layer ? [layer.k, layer.v] : [layer.latent, layer.ropeKey];
}

/** Positions a layer's cache holds. */
export function cachedPositions(layer: LayerCache): number {
  return 'k' in layer ? layer.k.shape[2] : layer.latent.shape[1];
}

/**
 * One layer's KV cache as one call of attention sees it: `start` (P) positions come before the
 * call's tokens, `past` holds the last of them (undefined for a prefill, which starts at 0), and
 * attention sets `present` to what the cache holds after the call, kept out of the caller's tidy.
 */
export interface AttentionCacheSlot {
  readonly start: number;
  readonly past: LayerCache | undefined;
  present?: LayerCache;
}

/** The modules attention is built from, replaceable one at a time (see ModelParts). */
export interface AttentionParts extends CausalSoftmaxParts {
  linear: (x: tf.Tensor3D, weight: tf.Tensor2D, bias?: tf.Tensor1D) => tf.Tensor3D;
  rope: (x: tf.Tensor4D, tables: RopeTables) => tf.Tensor4D;
  /**
   * The keys and values the new queries attend over: the cached ones a window still reaches,
   * then the fresh ones (B, Hkv, N, dk); the fresh ones alone for a prefill.
   */
  extendCache: (past: CachedKeys | undefined, fresh: CachedKeys, window: number | undefined) => CachedKeys;
}

/** The last `count` positions of a cached (B, heads, C, dk) tensor: (B, heads, min(C, count), dk). */
function lastPositions(x: tf.Tensor4D, count: number): tf.Tensor4D {
  const [B, heads, C, dk] = x.shape;
  return C <= count ? x : tf.slice(x, [0, 0, C - count, 0], [B, heads, count, dk]);
}

/**
 * The cache with the fresh keys and values appended. With a window w the newest query keeps
 * itself and the w - 1 positions before it, so only the last w - 1 cached positions are
 * attended (src/analytic/inference/decode.ts counts min(P, w - 1) + N keys).
 */
function extendCache(past: CachedKeys | undefined, fresh: CachedKeys, window: number | undefined): CachedKeys {
  if (past === undefined) return fresh;
  const reach = window === undefined ? Infinity : window - 1;
  const [k, v] = [lastPositions(past.k, reach), lastPositions(past.v, reach)];
  if (k.shape[2] === 0) return fresh;
  return {
    k: tf.concat([k, fresh.k], 2), // (B, Hkv, C + N, dk)
    v: tf.concat([v, fresh.v], 2), // (B, Hkv, C + N, dk)
  };
}

export const defaultAttentionParts: AttentionParts = {
  linear,
  rope: applyRope,
  scores: causalScores,
  softmax: softmaxOverKeys,
  softcap: softcapScores,
  extendCache,
};

/** What one layer's attention core needs besides q, k and v: which keys it keeps, and how it is computed. */
export interface AttentionCoreSpec {
  /** The layer's sliding window (keys q - window < k <= q), or undefined for full causal attention. */
  readonly window: number | undefined;
  /** Dense (every score, then the mask) or blocked (skip the blocks the mask empties). */
  readonly schedule: AttentionSchedule;
  /** cap * tanh(scores / cap) before the mask (Gemma 2), or undefined for none. */
  readonly softcap?: number;
  /**
   * Selective checkpointing (checkpoint.ts): the core keeps only q, k and v for the backward pass,
   * which reruns it. A training step's choice; absent or false, tfjs keeps what each kernel's
   * gradient needs.
   */
  readonly recompute?: boolean;
}

/** Full causal attention computed densely: what every layer did before windows and blocks. */
const DENSE_CAUSAL_CORE: AttentionCoreSpec = { window: undefined, schedule: DENSE_ATTENTION };

/** (B, T, heads * dk) -> (B, heads, T, dk). */
export function splitHeads(x: tf.Tensor3D, numHeads: number): tf.Tensor4D {
  const [B, T, width] = x.shape;
  tf.util.assert(
    width % numHeads === 0,
    () => `attn: width ${width} of x [${x.shape}] is not divisible by ${numHeads} heads`,
  );
  // A view kept by no gradient, so the projection's output is freed once transposed.
  const heads = reshapeKeepingNothing<tf.Rank.R4>(x, [B, T, numHeads, width / numHeads]); // (B, T, heads, dk)
  return tf.transpose(heads, [0, 2, 1, 3]); // (B, heads, T, dk)
}

/** (B, H, T, dk) -> (B, T, d). */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, H, T, dk] = x.shape;
  const heads = tf.transpose(x, [0, 2, 1, 3]); // (B, T, H, dk)
  return tf.reshape<tf.Rank.R3>(heads, [B, T, H * dk]); // (B, T, d)
}

/**
 * The attention core for q (B, H, T, dk) and k, v (B, Hkv, T, dk): softmax(mask(q k^T / sqrt(dk)))
 * v, (B, H, T, dk). Each key/value head serves its G = H / Hkv query heads, stacked along the rows.
 * `core` says which keys each query keeps (causal, and a window's band) and whether the scores
 * are computed densely or block by block (blocked_attention.ts).
 */
export function attentionCore(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  parts: CausalSoftmaxParts,
  core: AttentionCoreSpec = DENSE_CAUSAL_CORE,
): tf.Tensor4D {
  if (core.recompute === true) {
    const once: AttentionCoreSpec = { ...core, recompute: false };
    return rerunInBackward(
      ([qKept, kKept, vKept]) =>
        attentionCore(qKept as tf.Tensor4D, kKept as tf.Tensor4D, vKept as tf.Tensor4D, parts, once),
      [q, k, v],
    ); // (B, H, T, dv)
  }
  const [B, H, T, dk] = q.shape;
  const Hkv = k.shape[1];
  // Values may be narrower or wider than the scores' depth (latent attention's v_head_dim).
  const dv = v.shape[3];
  tf.util.assert(
    Hkv > 0 &&
      H % Hkv === 0 &&
      tf.util.arraysEqual(k.shape.slice(0, 3), v.shape.slice(0, 3)) &&
      k.shape[0] === B &&
      k.shape[2] === T &&
      k.shape[3] === dk,
    () => `attn: q has shape [${q.shape}], k [${k.shape}] and v [${v.shape}]: k and v need a head count dividing q's`,
  );
  if (core.schedule.kind === 'blocked') {
    return blockedAttentionCore(q, k, v, parts, core.schedule.block, core.window, core.softcap);
  }
  const square = { ...CAUSAL_SQUARE, window: core.window };
  if (Hkv === H) {
    const probabilities = causalSoftmax(q, k, parts, square, core.softcap); // (B, H, T, T)
    return scope('weighted_sum', () => headWeightedSum(probabilities, v)); // (B, H, T, dv)
  }
  const G = H / Hkv;
  const grouped = tf.reshape<tf.Rank.R4>(q, [B, Hkv, G * T, dk]); // (B, Hkv, G*T, dk): row g*T + t is head j*G + g at t
  const probabilities = causalSoftmax(grouped, k, parts, { ...square, queries: T }, core.softcap); // (B, Hkv, G*T, T)
  const weighted = scope('weighted_sum', () => headWeightedSum(probabilities, v)); // (B, Hkv, G*T, dv)
  return reshapeKeepingNothing<tf.Rank.R4>(weighted, [B, H, T, dv]); // (B, H, T, dv)
}

/**
 * The attention core of a decode step: q (B, H, N, dk) at positions queryStart.. against k and v
 * (B, Hkv, C, dk) at positions keyStart.., C >= N, the new tokens' keys last. The N x C block is
 * computed densely, as the formulas count a decode step, and masked only where it removes a
 * pair: among the new queries (N > 1) or past a window. The scores are scaled by 1 / sqrt(depth),
 * dk unless given (absorbed latent attention, latent_attention.ts).
 */
export function cachedAttentionCore(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  parts: CausalSoftmaxParts,
  core: AttentionCoreSpec,
  queryStart: number,
  keyStart: number,
  depth?: number,
): tf.Tensor4D {
  const [B, H, N, dk] = q.shape;
  const [, Hkv, C] = k.shape;
  const dv = v.shape[3];
  tf.util.assert(
    Hkv > 0 &&
      H % Hkv === 0 &&
      tf.util.arraysEqual(k.shape.slice(0, 3), v.shape.slice(0, 3)) &&
      k.shape[0] === B &&
      k.shape[3] === dk,
    () => `attn: q has shape [${q.shape}], k [${k.shape}] and v [${v.shape}]: k and v need a head count dividing q's`,
  );
  tf.util.assert(
    C >= N && keyStart + C === queryStart + N,
    () => `attn: ${N} new queries at position ${queryStart} cannot attend over ${C} keys from position ${keyStart}`,
  );
  const { window } = core;
  const masked = N > 1 || (window !== undefined && keyStart < queryStart - window + 1);
  const G = H / Hkv;
  const grouped = tf.reshape<tf.Rank.R4>(q, [B, Hkv, G * N, dk]); // (B, Hkv, G*N, dk): row g*N + n is head j*G + g
  const block = { queryStart, queries: N, keyStart, window, masked, ...(depth === undefined ? {} : { depth }) };
  const probabilities = causalSoftmax(grouped, k, parts, block, core.softcap); // (B, Hkv, G*N, C)
  const weighted = scope('weighted_sum', () => headWeightedSum(probabilities, v)); // (B, Hkv, G*N, dv)
  return tf.reshape<tf.Rank.R4>(weighted, [B, H, N, dv]); // (B, H, N, dv)
}

/**
 * The attention core with a KV cache: a prefill (no past) runs the forward core over its T
 * positions; a decode step attends over the cache extended by its own keys. Either way the cache
 * then keeps what the next step needs, at most `window` positions on a sliding layer, in `slot`.
 */
function coreWithCache(
  q: tf.Tensor4D,
  fresh: CachedKeys,
  parts: AttentionParts,
  core: AttentionCoreSpec,
  slot: AttentionCacheSlot,
): tf.Tensor4D {
  tf.util.assert(
    slot.past !== undefined || slot.start === 0,
    () => `attn: a step at position ${slot.start} needs the cache of the positions before it`,
  );
  const past = slot.past;
  if (past !== undefined && !('k' in past)) throw new Error('attn: a latent cache reached key/value attention');
  const attended = scope('kv_cache', () => parts.extendCache(past, fresh, core.window));
  const N = q.shape[2];
  const C = attended.k.shape[2];
  const weighted =
    past === undefined
      ? attentionCore(q, attended.k, attended.v, parts, core) // (B, H, T, dk)
      : cachedAttentionCore(q, attended.k, attended.v, parts, core, slot.start, slot.start + N - C); // (B, H, N, dk)
  const kept = core.window ?? Infinity;
  slot.present = scope('kv_cache', () => ({
    k: tf.keep(lastPositions(attended.k, kept)), // (B, Hkv, min(C, w), dk)
    v: tf.keep(lastPositions(attended.v, kept)), // (B, Hkv, min(C, w), dk)
  }));
  return weighted;
}

/**
 * Self-attention of x (B, T, d). `rope` holds the rotary tables for the T positions, or is
 * undefined when the model adds learned positions to its embeddings instead. `headNorm` is the
 * model's norm for the q and k norms, when the weights have them. With a `cache` slot the keys
 * and values are cached (a prefill) or the queries attend over the cache too (a decode step).
 */
export function attention(
  x: tf.Tensor3D,
  weights: AttentionWeights,
  heads: AttentionHeads,
  rope: RopeTables | undefined,
  parts: AttentionParts = defaultAttentionParts,
  core: AttentionCoreSpec = DENSE_CAUSAL_CORE,
  headNorm?: HeadNorm,
  cache?: AttentionCacheSlot,
): tf.Tensor3D {
  const [q, k, v] = projectQkv(x, weights, heads, parts); // (B, T, dq), (B, T, dkv), (B, T, dkv)
  const [qHeads, kHeads] = normHeads(splitHeads(q, heads.query), splitHeads(k, heads.keyValue), weights, headNorm); // (B, H, T, dk), (B, Hkv, T, dk)
  const vHeads = splitHeads(v, heads.keyValue); // (B, Hkv, T, dk)
  const [qPositioned, kPositioned] =
    rope === undefined ? [qHeads, kHeads] : scope('rope', () => [parts.rope(qHeads, rope), parts.rope(kHeads, rope)]);
  const weighted =
    cache === undefined
      ? attentionCore(qPositioned, kPositioned, vHeads, parts, core) // (B, H, T, dk)
      : coreWithCache(qPositioned, { k: kPositioned, v: vHeads }, parts, core, cache); // (B, H, T, dk)
  const merged = mergeHeads(weighted); // (B, T, dq)
  return scope('output_proj', () => parts.linear(merged, weights.output_proj, weights.output_proj_bias)); // (B, T, d)
}

/**
 * q, k and v of x (B, T, d): three projections, or one fused qkv_proj whose output
 * (B, T, dq + 2 dkv) is split along its features into q, k and v (a SplitV: data movement).
 */
function projectQkv(
  x: tf.Tensor3D,
  weights: AttentionWeights,
  heads: AttentionHeads,
  parts: AttentionParts,
): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  const { qkv_proj: fused, q_proj: wq, k_proj: wk, v_proj: wv } = weights;
  if (fused !== undefined) {
    return scope('qkv_proj', () => {
      const width = fused.shape[1];
      const headWidth = width / (heads.query + 2 * heads.keyValue);
      tf.util.assert(
        Number.isInteger(headWidth),
        () => `attn: qkv_proj [${fused.shape}] is not ${heads.query} + 2 x ${heads.keyValue} heads wide`,
      );
      const joined = parts.linear(x, fused, weights.qkv_proj_bias); // (B, T, dq + 2 dkv)
      const [dq, dkv] = [heads.query * headWidth, heads.keyValue * headWidth];
      return tf.split<tf.Tensor3D>(joined, [dq, dkv, dkv], -1) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    });
  }
  if (wq === undefined || wk === undefined || wv === undefined) {
    throw new Error('attn: the weights hold neither qkv_proj nor all of q_proj, k_proj and v_proj');
  }
  return [
    scope('q_proj', () => parts.linear(x, wq, weights.q_proj_bias)), // (B, T, dq)
    scope('k_proj', () => parts.linear(x, wk, weights.k_proj_bias)), // (B, T, dkv)
    scope('v_proj', () => parts.linear(x, wv, weights.v_proj_bias)), // (B, T, dkv)
  ];
}

/** q and k heads through their norms (Qwen3's q_norm and k_norm, over each head's dh features), when the model has them. */
function normHeads(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  weights: AttentionWeights,
  headNorm: HeadNorm | undefined,
): [tf.Tensor4D, tf.Tensor4D] {
  const { q_norm: qGain, k_norm: kGain } = weights;
  if (qGain === undefined && kGain === undefined) return [q, k];
  if (qGain === undefined || kGain === undefined || headNorm === undefined) {
    throw new Error("attn: q and k norms need both gains and the model's norm");
  }
  return [
    scope('q_norm', () => headNorm(q, qGain, weights.q_norm_bias)), // (B, H, T, dk)
    scope('k_norm', () => headNorm(k, kGain, weights.k_norm_bias)), // (B, Hkv, T, dk)
  ];
}
