/**
 * Blocked attention, as FlashAttention-style kernels schedule it (src/config/attention_schedule.ts):
 * the T query positions and the T key positions are cut into blocks of `block` (the last of each
 * may be shorter), and for each query block
 *
 *   for each key block:   skip it when the mask removes every one of its pairs (a key block wholly
 *                         after the query block, or wholly before its window); else
 *                         S_ab = q_a @ k_b^T / sqrt(dk), soft-capped, masked if it holds a removed pair
 *   P_a = softmax over the concatenated S_ab of the kept key blocks
 *   O_a = sum over kept b of P_ab @ v_b, P_ab the columns of P_a that belong to key block b
 *
 * and the outputs of the query blocks are concatenated back into (B, H, T, dk). Every kept block
 * is computed in full, scores and P @ v, so a partly masked block costs what an unmasked one does.
 * The softmax runs over the kept blocks at once rather than online (FlashAttention rescales a
 * running sum instead), which gives the same P: the skipped blocks hold only removed keys, whose
 * weight is exactly 0 in the dense softmax too.
 *
 * Which pairs a block holds decides everything, so it is tested here pair-free, from the block's
 * corners: queries q0..q1 keep, between them, exactly the keys max(0, q0 - w + 1)..q1 (each query
 * q keeps q - w + 1..q, and consecutive queries' ranges touch), so key block k0..k1 is
 *   skipped  when k0 > q1 or k1 < q0 - w + 1   (no pair kept)
 *   whole    when k1 <= q0 and k0 >= q1 - w + 1 (every pair kept: no mask)
 * with the window terms dropped on a layer without one. The formulas count the same schedule in
 * closed form (src/analytic/attention_blocks.ts), not with this test.
 *
 * Each block runs in scopes of its own, so a trace names it: layers.{i}.attn.scores.q{a}_k{b}
 * (the scores matmul, scale and mask), .softcap.q{a}_k{b}, .softmax.q{a} (the concatenation and
 * softmax of query block a), .weighted_sum.q{a}_k{b} (P_ab @ v_b) and .weighted_sum.q{a} (the
 * sum over b). Grouped-query attention stacks a query block's G heads along the rows as the dense
 * core does: q_a (B, H, R, dk) -> (B, Hkv, G*R, dk), row g*R + r at position q0 + r.
 */
import * as tf from '@tensorflow/tfjs-core';
import { blockLeaf } from '../core/module_paths.js';
import { scope } from '../core/scope.js';
import { blockScores, type CausalSoftmaxParts } from './causal_softmax.js';
import { headWeightedSum } from './head_matmul.js';
import {
  addKeepingNothing,
  concatKeepingNothing,
  reshapeKeepingNothing,
  sliceKeepingNothing,
} from './lean_gradients.js';

/** One block of positions: its first position and how many it holds. */
interface Span {
  readonly start: number;
  readonly size: number;
}

/** The blocks of `block` positions that cover 0..seq-1, the last one possibly shorter. */
function spans(seq: number, block: number): Span[] {
  return Array.from({ length: Math.ceil(seq / block) }, (_, i) => ({
    start: i * block,
    size: Math.min(block, seq - i * block),
  }));
}

/** Whether the mask keeps some pair of (queries, keys), and whether it keeps them all. */
function coverage(queries: Span, keys: Span, window: number | undefined): { kept: boolean; whole: boolean } {
  const [q0, q1] = [queries.start, queries.start + queries.size - 1];
  const [k0, k1] = [keys.start, keys.start + keys.size - 1];
  const kept = k0 <= q1 && (window === undefined || k1 >= q0 - window + 1);
  const whole = k1 <= q0 && (window === undefined || k0 >= q1 - window + 1);
  return { kept, whole };
}

/**
 * Slice rows span of a (B, heads, T, dk) tensor: (B, heads, size, dk). The slice keeps nothing
 * for its gradient: the products keep the blocks, which cut q, k and v into parts, so the
 * blocks hold exactly the bytes of q, k and v, what PyTorch's views of them keep.
 */
function rows(x: tf.Tensor4D, span: Span): tf.Tensor4D {
  const [B, heads, , dk] = x.shape;
  return sliceKeepingNothing(x, [0, 0, span.start, 0], [B, heads, span.size, dk]);
}

/**
 * P[..., start : start + columns] @ v for P (B, heads, M, K) and v (B, heads, columns, dv):
 * (B, heads, M, dv). Its gradient keeps P, which the softmax keeps anyway, and v, not the slice
 * of P: PyTorch's slice is a view of P, where tfjs's would be a copy kept by the product. The
 * gradient runs the products tfjs's BatchMatMul gradient runs, on the slice cut again, and pads
 * dP back to P's columns.
 */
function columnsWeightedSum(probabilities: tf.Tensor4D, v: tf.Tensor4D, start: number): tf.Tensor4D {
  const [B, heads, M, K] = probabilities.shape;
  const columns = v.shape[2];
  const cut = (p: tf.Tensor) => tf.slice(p, [0, 0, 0, start], [B, heads, M, columns]); // (B, heads, M, columns)
  const weighted = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [p, values, save] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([p, values]);
    return {
      value: headWeightedSum(cut(p) as tf.Tensor4D, values),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [keptP, keptValues] = saved as [tf.Tensor4D, tf.Tensor4D];
        const share = cut(keptP);
        const dShare = tf.matMul(dy, keptValues, false, true); // (B, heads, M, columns)
        const dValues = tf.matMul(share, dy, true, false); // (B, heads, columns, dv)
        const dP = tf.pad(dShare, [
          [0, 0],
          [0, 0],
          [0, 0],
          [start, K - start - columns],
        ]); // (B, heads, M, K)
        return [dP, dValues];
      },
    };
  });
  return weighted(probabilities, v);
}

/**
 * softmax(mask(q k^T / sqrt(dk))) v computed block by block: q (B, H, T, dk), k and v (B, Hkv, T, dk)
 * -> (B, H, T, dk), equal to the dense core up to rounding.
 */
export function blockedAttentionCore(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  parts: CausalSoftmaxParts,
  block: number,
  window: number | undefined,
  softcap: number | undefined,
): tf.Tensor4D {
  const [B, H, T, dk] = q.shape;
  const Hkv = k.shape[1];
  const G = H / Hkv;
  // Latent attention's values are v_head_dim wide, not dk.
  const dv = v.shape[3];
  tf.util.assert(
    Number.isSafeInteger(block) && block > 0,
    () => `attn: the attention block must be a positive whole number of positions, not ${block}`,
  );
  const blocks = spans(T, block);
  // Each key block is cut out once and shared by the query blocks that keep it.
  const keyBlocks = blocks.map((span) => rows(k, span)); // (B, Hkv, C, dk) each
  const valueBlocks = blocks.map((span) => rows(v, span)); // (B, Hkv, C, dv) each
  const outputs = blocks.map((queries, a) => {
    const R = queries.size;
    const qa = tf.reshape<tf.Rank.R4>(rows(q, queries), [B, Hkv, G * R, dk]); // (B, Hkv, G*R, dk): row g*R + r
    const kept = blocks.flatMap((keys, b) => {
      const { kept: keeps, whole } = coverage(queries, keys, window);
      return keeps ? [{ b, keys, masked: !whole }] : [];
    });
    const scores = kept.map(({ b, keys, masked }) =>
      blockScores(
        qa,
        keyBlocks[b]!,
        parts,
        { queryStart: queries.start, queries: R, keyStart: keys.start, window, masked },
        softcap,
        blockLeaf(a, b),
      ),
    ); // (B, Hkv, G*R, C_b) each
    // The softmax keeps its output; the scores joined are read by no backward pass.
    const probabilities = scope(`softmax.${blockLeaf(a)}`, () =>
      parts.softmax(concatKeepingNothing<tf.Tensor4D>(scores, 3)),
    ); // (B, Hkv, G*R, sum of C_b)
    let offset = 0;
    const weighted = kept.map(({ b, keys }) => {
      const columns = keys.size;
      const start = offset;
      offset += columns;
      return scope(`weighted_sum.${blockLeaf(a, b)}`, () =>
        kept.length === 1
          ? headWeightedSum(probabilities, valueBlocks[b]!)
          : columnsWeightedSum(probabilities, valueBlocks[b]!, start),
      ); // (B, Hkv, G*R, dv)
    });
    // Neither the sum, its view nor the join of the query blocks is read by a backward pass.
    const summed = scope(`weighted_sum.${blockLeaf(a)}`, () =>
      weighted.reduce((sum, part) => addKeepingNothing<tf.Tensor4D>(sum, part)),
    ); // (B, Hkv, G*R, dv)
    return reshapeKeepingNothing<tf.Rank.R4>(summed, [B, H, R, dv]); // (B, H, R, dv)
  });
  return concatKeepingNothing<tf.Tensor4D>(outputs, 2); // (B, H, T, dv)
}
