import { summarizeParameters } from '../analytic/parameters.js';
import type { ModelConfig } from '../config/model_config.js';

/**
 * N under the two conventions papers use.
 * - withEmbeddings: every trainable parameter (token_embeddings, attention, ffn, norm gains,
 *   lm_head); the seed's part (a) and the usual "6N" count.
 * - withoutEmbeddings: every parameter but the token_embeddings table: attention, ffn, norm
 *   gains and lm_head. Kaplan et al. (2020, section 2.1) exclude embeddings from N; their
 *   GPT-2 ties the output layer to the embedding, so the matrix that does the logits matmul
 *   is a separate, untied lm_head here and stays in N, because it does matmul work.
 */
export interface ParameterConventions {
  readonly withEmbeddings: bigint;
  readonly withoutEmbeddings: bigint;
  /** The token_embeddings table, the difference between the two. */
  readonly embeddingTable: bigint;
}

export const PARAMETER_CONVENTION_NOTES = {
  withEmbeddings: 'all parameters: token_embeddings, attention, ffn, norm gains, lm_head',
  withoutEmbeddings: 'all but token_embeddings: attention, ffn, norm gains, lm_head (untied, it does the logits matmul)',
} as const;

export function parameterConventions(config: ModelConfig): ParameterConventions {
  const summary = summarizeParameters(config);
  return {
    withEmbeddings: summary.total,
    withoutEmbeddings: summary.nonEmbedding,
    embeddingTable: summary.byComponent.token_embeddings,
  };
}
