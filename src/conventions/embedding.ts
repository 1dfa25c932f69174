import type { ModelConfig, RunShape } from '../config/model_config.js';

/**
 * The token embedding under two conventions.
 * - lookup: a gather of B*T rows of E[V, d]. It multiplies nothing, so it has 0 matmul FLOPs;
 *   this is flopledger's default and what the model runs.
 * - oneHotMatmul: the same result written as onehot(ids)[B, T, V] @ E[V, d], which a matmul
 *   counter would charge 2*B*T*V*d FLOPs (the size of lm_head's matmul, in reverse).
 */
export interface EmbeddingConventions {
  readonly lookup: bigint;
  readonly oneHotMatmul: bigint;
}

export function embeddingConventions(config: ModelConfig, run: RunShape): EmbeddingConventions {
  const V = BigInt(config.vocab_size);
  const d = BigInt(config.d_model);
  return { lookup: 0n, oneHotMatmul: 2n * BigInt(run.batch) * BigInt(run.seq) * V * d };
}
