/**
 * Scaled dot-product scores with the causal mask (and a sliding window's), and the softmax over
 * them. The mask is additive (0 where a key is kept, -Infinity where it is removed), built by tf
 * ops from position ranges, so it costs no host array even at T = 16k and runs unchanged on a
 * shape-only backend.
 *
 * Which keys a query keeps (src/config/windows.ts, as Hugging Face masks them): the query at
 * position q keeps the keys k <= q, and with a window w only those with q - w < k. The mask is
 * built from three position ranges, whose bounds a trace records as the Range kernels' attrs:
 * the query positions, the key positions, and (with a window) the earliest key each query keeps,
 * q - w + 1. So the band a mask applies can be read back from a trace, not only its cost.
 *
 * Dense attention computes every score of a (queries x keys) block and masks it. Blocked attention
 * (blocked_attention.ts) calls the same scores function once per block of queries and keys it
 * computes, with the block's first positions, and asks for the mask only where the block holds a
 * removed pair.
 *
 * Grouped-query attention stacks the G query heads that share one key/value head along the rows
 * (see attention.ts): q is then (B, Hkv, G*R, dk) against k (B, Hkv, C, dk), and score row g*R + r
 * belongs to query position queryStart + r. With G = 1 everything here is plain multi-head attention.
 */

import * as tf from '@tensorflow/tfjs-core';
import { scope } from '../core/scope.js';
import { headScores } from './head_matmul.js';
import { backendHoldsValues } from './host_constant.js';
import { elementwiseKeeping, scaleKeepingNothing } from './lean_gradients.js';

/** The positions a block of scores covers and the mask it needs. */
export interface ScoreBlock {
  /** Position of q's first row (each group of query heads repeats the same R positions). */
  readonly queryStart: number;
  /** R, the query positions per group of heads; absent: as many as there are keys (a square). */
  readonly queries?: number;
  /** Position of k's first row. */
  readonly keyStart: number;
  /** The layer's sliding window, or undefined for full causal attention. */
  readonly window: number | undefined;
  /** Whether the mask removes any pair of the block; a block it keeps whole is not masked. */
  readonly masked: boolean;
  /**
   * The depth the scores are scaled by, 1 / sqrt(depth); absent: q's last axis. Absorbed latent
   * attention takes its dot products over r + dr features but scales them as dn + dr.
   */
  readonly depth?: number;
}

/** The whole causal square, as dense attention computes it: positions from 0, masked. */
export const CAUSAL_SQUARE: ScoreBlock = { queryStart: 0, keyStart: 0, window: undefined, masked: true };

/**
 * The additive mask (R, C) for queries at positions queryStart + r and keys at keyStart + c:
 * 0 where the key is kept (k <= q, and q - window < k with a window), -Infinity where it is not.
 *
 * The positions are float32, exact below 2^24, and each comparison is made on an offset against
 * the scalar 0: tfjs's wasm kernels broadcast a comparison, and any int32 operation, element by
 * element through generic indexing, 20-40x slower than a float32 subtraction broadcasts
 * (scripts/bench_mask.ts), so "key - query > 0" built this way costs a few passes over (R, C)
 * instead of most of a small model's attention core.
 */
export function bandMask(
  queryStart: number,
  queries: number,
  keyStart: number,
  keys: number,
  window: number | undefined,
): tf.Tensor2D {
  const lowest = Math.min(queryStart, keyStart, window === undefined ? 0 : queryStart - window + 1);
  const highest = Math.max(queryStart + queries, keyStart + keys);
  // A shape-only backend computes no values, so it traces any length; a real one could not hold
  // the scores of 2^24 positions.
  tf.util.assert(
    !backendHoldsValues() || (lowest > -EXACT_POSITIONS && highest < EXACT_POSITIONS),
    () => `attn mask: positions ${lowest}..${highest} are beyond float32's exact integers (2^24)`,
  );
  const queryPosition = tf.reshape<tf.Rank.R2>(tf.range(queryStart, queryStart + queries, 1, 'float32'), [queries, 1]); // (R, 1)
  const keyPosition = tf.reshape<tf.Rank.R2>(tf.range(keyStart, keyStart + keys, 1, 'float32'), [1, keys]); // (1, C)
  let removed = tf.greater(tf.sub(keyPosition, queryPosition), 0); // (R, C): a future key
  if (window !== undefined) {
    const first = queryStart - window + 1;
    const earliest = tf.reshape<tf.Rank.R2>(tf.range(first, first + queries, 1, 'float32'), [queries, 1]); // (R, 1): q - w + 1
    removed = tf.logicalOr(removed, tf.less(tf.sub(keyPosition, earliest), 0)); // (R, C): or one the window has passed
  }
  return tf.where(removed, tf.fill([queries, keys], -Infinity), tf.fill([queries, keys], 0));
}

/** float32 holds every integer of magnitude below 2^24 exactly. */
const EXACT_POSITIONS = 2 ** 24;

/**
 * q k^T / sqrt(dk) with the removed keys masked to -Infinity: q (B, heads, G*R, dk) and k
 * (B, heads, C, dk) -> (B, heads, G*R, C). Multi-head: G = 1. A block with `masked` false is
 * returned unmasked (a soft-capped layer masks after its cap, with maskScores).
 */
export function causalScores(q: tf.Tensor4D, k: tf.Tensor4D, block: ScoreBlock = CAUSAL_SQUARE): tf.Tensor4D {
  const [B, heads, , dk] = q.shape;
  const C = k.shape[2];
  tf.util.assert(
    k.shape[0] === B && k.shape[1] === heads && k.shape[3] === dk && C > 0,
    () => `attn scores: q has shape [${q.shape}] but k has [${k.shape}]`,
  );
  const scores = headScores(q, k); // (B, heads, G*R, C)
  // Scaling by a number keeps nothing for the gradient: the raw scores die here (lean_gradients.ts).
  const scaled = scaleKeepingNothing(scores, 1 / Math.sqrt(block.depth ?? dk));
  return block.masked ? maskScores(scaled, block) : scaled;
}

/**
 * Scores (B, heads, G*R, C) plus the block's additive mask. With G > 1 the mask goes on a view of
 * the scores as (B, heads * G, R, C): row g*R + r of key/value head j is query head j*G + g at
 * position queryStart + r, so each R x C block takes the one (R, C) mask. The views move no data,
 * and the mask costs what multi-head attention's does.
 *
 * The mask is a constant, so the masked scores' gradient is dy itself: the mask is built and
 * applied inside one custom gradient that keeps nothing, so neither the mask nor the positions it
 * is built from, nor the unmasked scores, outlive the forward pass (tfjs's Add, Reshape and
 * Select gradients would keep them all).
 */
function maskScores(scores: tf.Tensor4D, block: ScoreBlock): tf.Tensor4D {
  const masked = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: maskedCopy(inputs[0] as tf.Tensor4D, block),
    gradFunc: (dy: tf.Tensor) => dy,
  }));
  return masked(scores) as tf.Tensor4D;
}

/** scores plus the block's additive mask, as maskScores describes it. */
function maskedCopy(scores: tf.Tensor4D, block: ScoreBlock): tf.Tensor4D {
  const [B, heads, queryRows, C] = scores.shape;
  const R = block.queries ?? C;
  tf.util.assert(
    R > 0 && queryRows % R === 0,
    () => `attn mask: scores have shape [${scores.shape}] but the block has ${R} query positions`,
  );
  const mask = bandMask(block.queryStart, R, block.keyStart, C, block.window); // (R, C)
  const groups = queryRows / R;
  if (groups === 1) return tf.add<tf.Tensor4D>(scores, mask);
  const perQueryHead = tf.reshape<tf.Rank.R4>(scores, [B, heads * groups, R, C]); // (B, H, R, C)
  const masked = tf.add<tf.Tensor4D>(perQueryHead, mask); // (B, H, R, C)
  return tf.reshape<tf.Rank.R4>(masked, [B, heads, queryRows, C]); // (B, heads, G*R, C)
}

/**
 * cap * tanh(scores / cap), Gemma 2's soft-capped attention logits. Its gradient keeps only its
 * output y = cap * tanh, the textbook's tanh (the same bytes), and reads tanh as y / cap:
 * dscores = dy (1 - (y / cap)^2).
 */
export function softcapScores(scores: tf.Tensor4D, cap: number): tf.Tensor4D {
  return elementwiseKeeping(
    scores,
    (input) => tf.mul(tf.tanh(tf.mul(input, 1 / cap)), cap),
    'output',
    (dy, capped) => tf.mul(dy, tf.sub(1, tf.square(tf.mul(capped, 1 / cap)))),
  );
}

/** Softmax over the key axis of (B, heads, G*T, T) scores. */
export function softmaxOverKeys(scores: tf.Tensor4D): tf.Tensor4D {
  return tf.softmax(scores, -1);
}

export interface CausalSoftmaxParts {
  /** Scores of q against k for the positions and mask `block` describes (the whole causal square when absent). */
  scores: (q: tf.Tensor4D, k: tf.Tensor4D, block?: ScoreBlock) => tf.Tensor4D;
  softmax: (scores: tf.Tensor4D) => tf.Tensor4D;
  /** Soft-capping of the scores, before the mask; reached only on a layer with a cap. */
  softcap?: (scores: tf.Tensor4D, cap: number) => tf.Tensor4D;
}

const defaultCausalSoftmaxParts: CausalSoftmaxParts = {
  scores: causalScores,
  softmax: softmaxOverKeys,
  softcap: softcapScores,
};

/**
 * The scores of one block of queries against one of keys, as the attention core computes them:
 * under the `scores` scope q @ k^T and the scale, then (a soft-capped layer) the cap under
 * `softcap`, then the mask, again under `scores`, where the block holds a removed pair. `leaf`
 * names a block of blocked attention under each scope ("scores.q2_k0"); dense attention has none.
 */
export function blockScores(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  parts: CausalSoftmaxParts,
  block: ScoreBlock,
  softcap: number | undefined,
  leaf?: string,
): tf.Tensor4D {
  const at = (name: string) => (leaf === undefined ? name : `${name}.${leaf}`);
  if (softcap === undefined) return scope(at('scores'), () => parts.scores(q, k, block));
  const scores = scope(at('scores'), () => parts.scores(q, k, { ...block, masked: false }));
  const capped = scope(at('softcap'), () => (parts.softcap ?? softcapScores)(scores, softcap));
  return block.masked ? scope(at('scores'), () => maskScores(capped, block)) : capped;
}

/**
 * The attention weights P = softmax(mask(q k^T / sqrt(dk))), (B, heads, G*T, T), with the scores
 * under the `scores` scope and the softmax under `softmax`. Each row sums to 1 over the keys its
 * query position t keeps (0..t, or t - w + 1..t with a window); the others get 0.
 */
export function causalSoftmax(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  parts: CausalSoftmaxParts = defaultCausalSoftmaxParts,
  block: ScoreBlock = CAUSAL_SQUARE,
  softcap?: number,
): tf.Tensor4D {
  const scores = blockScores(q, k, parts, block, softcap);
  return scope('softmax', () => parts.softmax(scores));
}
