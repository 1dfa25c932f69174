import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';

/**
 * The token embedding under two conventions.
 * - lookup: a gather of B*T rows of E[V, d]. It multiplies nothing, so it has 0 matmul FLOPs;
 *   this is flopledger's default and what the model runs.
 * - oneHotMatmul: the same result written as onehot(ids)[B, T, Vp] @ E[Vp, d], which a matmul
 *   counter would charge 2*B*T*Vp*d FLOPs (the size of lm_head's matmul, in reverse; Vp is the
 *   padded vocabulary, the table's rows).
 * A learned position table is not charged either way: its rows 0..T-1 are a slice, the same for
 * every sequence, not a lookup by ids.
 */
export interface EmbeddingConventions {
  readonly lookup: bigint;
  readonly oneHotMatmul: bigint;
}

export function embeddingConventions(config: ModelConfig, run: RunShape): EmbeddingConventions {
  const Vp = BigInt(architectureOf(config).padded_vocab_size);
  const d = BigInt(config.d_model);
  return { lookup: 0n, oneHotMatmul: 2n * BigInt(run.batch) * BigInt(run.seq) * Vp * d };
}
