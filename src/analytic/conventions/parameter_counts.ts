import { summarizeParameters } from '../parameters.js';
import { architectureOf, type ModelConfig } from '../../config/model_config.js';

/**
 * N under the conventions papers use.
 * - withEmbeddings: every trainable parameter (token_embeddings, position_embeddings when
 *   learned, attention, ffn, norms, biases, lm_head); the seed's part (a) and the usual "6N"
 *   count. A tied table is one set of parameters and is counted once.
 * - withoutEmbeddings: every parameter but the embedding tables. Kaplan et al. (2020, section
 *   2.1) exclude embeddings from N, position embeddings included (their Table 1 counts
 *   (n_vocab + n_ctx) d_model as "Embed"). An untied lm_head is a matrix of its own and stays in
 *   N, because it does matmul work; a tied table is an embedding and is excluded, as Kaplan's
 *   GPT-2-style models (tied) exclude it.
 * - withoutLookupTables: every parameter but the tables that are only looked up: the position
 *   table, and the token table when it is untied. A tied table also does the logits matmul and
 *   stays. This is the N of PaLM's 6N + 12LHQT here: PaLM ties its input and output embedding,
 *   so the N in its formula counts the matrix that does the logits matmul. Untied, it equals
 *   withoutEmbeddings.
 */
export interface ParameterConventions {
  readonly withEmbeddings: bigint;
  readonly withoutEmbeddings: bigint;
  readonly withoutLookupTables: bigint;
  /** The token_embeddings table (counted once even when lm_head reuses it). */
  readonly embeddingTable: bigint;
  /** The learned position table; 0n with RoPE. withEmbeddings - withoutEmbeddings = embeddingTable + positionTable. */
  readonly positionTable: bigint;
  readonly tiedEmbeddings: boolean;
  /** Which parameters each N counts, worded for this architecture. */
  readonly notes: ParameterConventionNotes;
}

export interface ParameterConventionNotes {
  readonly withEmbeddings: string;
  readonly withoutEmbeddings: string;
  readonly withoutLookupTables: string;
}

/** The notes for the seed's architecture (RoPE, untied lm_head, RMSNorm gains, no biases). */
export const PARAMETER_CONVENTION_NOTES = {
  withEmbeddings: 'all parameters: token_embeddings, attention, ffn, norm gains, lm_head',
  withoutEmbeddings:
    'all but token_embeddings: attention, ffn, norm gains, lm_head (untied, it does the logits matmul)',
  withoutLookupTables: 'all but token_embeddings (untied, only looked up): attention, ffn, norm gains, lm_head',
} as const;

/** Which parameters each N counts, in words for this config's architecture (the seed's reads as PARAMETER_CONVENTION_NOTES). */
function parameterConventionNotes(config: ModelConfig): ParameterConventionNotes {
  const architecture = architectureOf(config);
  const learned = architecture.positions === 'learned';
  const tied = architecture.tie_embeddings;
  const tables = learned ? 'token_embeddings, position_embeddings' : 'token_embeddings';
  const norms = architecture.norm === 'layernorm' ? 'norm gains and biases' : 'norm gains';
  const blocks = `attention, ffn, ${norms}${architecture.any_bias ? ', linear biases' : ''}`;
  if (!tied) {
    return {
      withEmbeddings: `all parameters: ${tables}, ${blocks}, lm_head`,
      withoutEmbeddings: `all but ${tables}: ${blocks}, lm_head (untied, it does the logits matmul)`,
      withoutLookupTables: `all but ${tables} (only looked up): ${blocks}, lm_head`,
    };
  }
  const sharedTable = 'token_embeddings (tied, it does the logits matmul)';
  return {
    withEmbeddings: `all parameters: ${tables}, ${blocks}; lm_head reuses token_embeddings, counted once`,
    withoutEmbeddings: `all but ${tables}: ${blocks}; lm_head is tied to token_embeddings, so no logits matrix is left in N`,
    withoutLookupTables: learned
      ? `all but position_embeddings (only looked up): ${sharedTable}, ${blocks}`
      : `all parameters: ${sharedTable}, ${blocks}`,
  };
}

export function parameterConventions(config: ModelConfig): ParameterConventions {
  const summary = summarizeParameters(config);
  const embeddingTable = summary.byComponent.token_embeddings;
  const positionTable = summary.byComponent.position_embeddings;
  return {
    withEmbeddings: summary.total,
    withoutEmbeddings: summary.nonEmbedding,
    withoutLookupTables: summary.total - positionTable - (summary.tiedEmbeddings ? 0n : embeddingTable),
    embeddingTable,
    positionTable,
    tiedEmbeddings: summary.tiedEmbeddings,
    notes: parameterConventionNotes(config),
  };
}
