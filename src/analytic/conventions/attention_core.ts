import type { ModelConfig, RunShape } from '../../config/model_config.js';

/**
 * Forward FLOPs of the attention core (q @ k^T and P @ v, all layers) under three conventions.
 *
 * Per layer, per sequence, with H heads of width dk (H*dk = d):
 * - full: the kernels compute every T x T score, masked or not:
 *     scores  H * 2*T*dk*T = 2*d*T^2,  weighted_sum  H * 2*T*T*dk = 2*d*T^2,  together 4*d*T^2.
 *   This is flopledger's default (design.md section 3) and what the trace sees.
 * - causalTriangle: only the terms a causal model needs. Query row i (0-based) attends to keys
 *   0..i, i+1 of them: its scores cost (i+1) * 2*dk, and its P @ v row (i+1) * 2*dk as well.
 *   Summed over rows: 2*dk * T(T+1)/2 each, so per layer 2 * H * dk * T(T+1) = 2*d*T(T+1).
 * - half: full / 2 = 2*d*T^2, the usual shorthand for "causal": T^2/2 scores per head, which is
 *   neither triangle. T^2/2 = T(T+1)/2 - T/2 = T(T-1)/2 + T/2, so it undercounts the triangle
 *   with its diagonal by half the diagonal, 2*d*T per layer and sequence (the whole diagonal
 *   costs 4*d*T), and overcounts the triangle without it by as much.
 * Each is then multiplied by L layers and B sequences. With grouped-query or multi-query
 * attention each key/value head is broadcast over its query heads, so there are still H score
 * matrices and these counts do not change (d = H*dk counts query heads).
 */
export interface AttentionCoreConventions {
  readonly full: bigint;
  readonly causalTriangle: bigint;
  readonly half: bigint;
}

export function attentionCoreConventions(config: ModelConfig, run: RunShape): AttentionCoreConventions {
  const L = BigInt(config.num_layers);
  const d = BigInt(config.d_model);
  const B = BigInt(run.batch);
  const T = BigInt(run.seq);
  const full = B * L * 4n * d * T * T;
  return {
    full,
    causalTriangle: B * L * 2n * d * T * (T + 1n),
    // full carries a factor 4, so halving it is exact.
    half: full / 2n,
  };
}
