import { DEFAULT_ATTENTION_BLOCK, blockOf } from '../../config/attention_schedule.js';
import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { layerWindows } from '../../config/windows.js';
import { blockedScores, denseScores, usefulScores } from '../attention_blocks.js';

/**
 * Forward FLOPs of the attention core (q @ k^T and P @ v, all layers) under each convention.
 * Every score costs 2*dh in q @ k^T and 2*dh in P @ v per query head, so per layer and sequence
 * the core is 4 * H * dh * (scores), H * dh = dq (d unless head_dim is its own); the conventions
 * differ only in which scores they count (attention_blocks.ts has the closed forms):
 *
 * - full (dense): the kernels compute every T x T score, masked or not: 4*dq*T^2 per layer.
 *   What a dense run counts (design.md section 2) and what its trace sees.
 * - blocked: every score of each (query block, key block) pair the mask does not empty, at
 *   `blocked.block` positions per block: what a blocked run counts and its trace sees. For a dense
 *   run it is shown at the run's --block or FlashAttention-2's usual 64, as what blocking would save.
 * - causalTriangle: only the terms a causal model needs, no window. Query row i (0-based) attends
 *   to keys 0..i, i+1 of them: its scores cost (i+1) * 2*dh, and its P @ v row (i+1) * 2*dh as
 *   well. Summed over rows: 2*dh * T(T+1)/2 each, so per layer 2 * H * dh * T(T+1) = 2*dq*T(T+1).
 * - useful: the exact scores each query keeps, min(i + 1, w) on a layer with window w (the band
 *   of the window), i + 1 on a full layer: the causal triangle when no layer has a window.
 * - half: full / 2 = 2*dq*T^2, the usual shorthand for "causal": T^2/2 scores per head, which is
 *   neither triangle. T^2/2 = T(T+1)/2 - T/2 = T(T-1)/2 + T/2, so it undercounts the triangle
 *   with its diagonal by half the diagonal, 2*dq*T per layer and sequence (the whole diagonal
 *   costs 4*dq*T), and overcounts the triangle without it by as much.
 * Each is then summed over the L layers (each with its own window) and multiplied by B sequences.
 * With grouped-query or multi-query attention each key/value head is broadcast over its query
 * heads, so there are still H score matrices and these counts do not change.
 */
export interface AttentionCoreConventions {
  readonly full: bigint;
  readonly causalTriangle: bigint;
  readonly half: bigint;
  readonly useful: bigint;
  readonly blocked: { readonly block: number; readonly flops: bigint };
  /** How the run computes its core, and so which of full and blocked the default count holds. */
  readonly counted: 'dense' | 'blocked';
}

export function attentionCoreConventions(config: ModelConfig, run: RunShape): AttentionCoreConventions {
  const perScore = 4n * BigInt(run.batch) * BigInt(architectureOf(config).q_dim);
  const L = BigInt(config.num_layers);
  const T = BigInt(run.seq);
  const windows = layerWindows(config);
  const runBlock = blockOf(run.attention);
  const block = runBlock ?? DEFAULT_ATTENTION_BLOCK;
  const sumOverLayers = (scores: (window: number | undefined) => bigint) =>
    windows.reduce((total, window) => total + perScore * scores(window), 0n);
  const full = L * perScore * denseScores(run.seq);
  return {
    full,
    causalTriangle: (L * perScore * T * (T + 1n)) / 2n,
    // full carries a factor 4, so halving it is exact.
    half: full / 2n,
    useful: sumOverLayers((window) => usefulScores(run.seq, window)),
    blocked: { block, flops: sumOverLayers((window) => blockedScores(run.seq, block, window)) },
    counted: runBlock === undefined ? 'dense' : 'blocked',
  };
}

/** The core as the run's default count holds it: dense, or blocked at the run's block. */
export function countedAttentionCore(core: AttentionCoreConventions): bigint {
  return core.counted === 'dense' ? core.full : core.blocked.flops;
}
