import { forwardFlopBreakdown } from '../flop_breakdown.js';
import { backwardFlopBreakdown } from '../training/backward_flops.js';
import { headDim, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { parameterConventions } from './parameter_counts.js';
import { divideRationals, rational, type Rational } from '../../core/exact.js';

/**
 * Published closed-form FLOP estimates, each written from its paper's formula and set next to
 * flopledger's exact count of the same quantity. All are per token; n_ctx and T are the run's
 * sequence length (the context each token's attention actually spans in this forward pass).
 */

const EXACT_TRAINING_LABEL = 'exact forward + backward matmuls / (B*T) (backward checked by `verify --train`)';
const EXACT_FORWARD_LABEL = 'exact forward matmuls / (B*T)';

/**
 * Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1 (Total, non-embedding):
 *   C_forward ~= 2N + 2 * n_layer * n_ctx * d_attn   FLOPs per token,
 * N non-embedding (token and position tables out; a tied table out too). d_attn is the
 * attention width H*dk of the query heads, which is d_model here; with grouped-query or
 * multi-query attention the scores are still one per query head, so d_attn stays H*dk and the
 * narrower k and v projections enter only through N. The second term is the attention core
 * ("Attention: Mask" in the table); it is half of flopledger's full 4 * n_layer * n_ctx * d_model.
 * Kaplan's total leaves out the de-embedding (logits) FLOPs, so a tied model's logits matmul
 * is in neither term.
 */
export function kaplanForwardPerToken(config: ModelConfig, run: RunShape): bigint {
  const N = parameterConventions(config).withoutEmbeddings;
  const dAttn = BigInt(config.num_heads) * BigInt(headDim(config));
  return 2n * N + 2n * BigInt(config.num_layers) * BigInt(run.seq) * dAttn;
}

/**
 * Chowdhery et al. 2022, "PaLM: Scaling Language Modeling with Pathways", Appendix B (model
 * FLOPs utilization): training FLOPs per token
 *   6N + 12 * L * H * Q * T,
 * L layers, H heads, Q head dim, T sequence length; 12LHQT is the full (unmasked) attention
 * core, forward and backward. H is the number of query heads: PaLM itself uses multi-query
 * attention (one key/value head) and still writes H, because every query head computes its own
 * T x T scores; so with grouped-query or multi-query attention H stays num_heads here too.
 * PaLM shares its embedding with the output layer, so its N counts the matrix that does the
 * logits matmul: here N without the tables that are only looked up (an untied lm_head kept, a
 * tied table kept, position tables out).
 */
export function palmTrainingPerToken(config: ModelConfig, run: RunShape): bigint {
  const N = parameterConventions(config).withoutLookupTables;
  const L = BigInt(config.num_layers);
  const H = BigInt(config.num_heads);
  const Q = BigInt(headDim(config));
  return 6n * N + 12n * L * H * Q * BigInt(run.seq);
}

/**
 * The "6N" rule: training costs about 6 FLOPs per parameter per token, 2N forward and 4N
 * backward (Kaplan et al. 2020 section 2.1, C ~= 6NBS with the context term dropped). It
 * ignores the attention core, so it falls short as T grows. Both N conventions are shown.
 */
export function sixNPerToken(parameters: bigint): bigint {
  return 6n * parameters;
}

/** flopledger's forward matmul FLOPs of the run, per token: total / (B*T). */
export function exactForwardPerToken(config: ModelConfig, run: RunShape): Rational {
  const { total } = forwardFlopBreakdown(config, run);
  return rational(total, BigInt(run.batch) * BigInt(run.seq));
}

/**
 * Training matmul FLOPs per token: the exact forward matmuls plus the backward inventory's
 * gradient matmuls (derived per matmul, not assumed as 2x; `verify --train` checks them against
 * a traced training step). The optimizer step is not per token and is left out, as the papers do.
 */
export function exactTrainingPerToken(config: ModelConfig, run: RunShape): Rational {
  const { total: forward } = forwardFlopBreakdown(config, run);
  const { total: backward } = backwardFlopBreakdown(config, run);
  return rational(forward + backward, BigInt(run.batch) * BigInt(run.seq));
}

export type PublishedApproximationKey =
  'kaplan_forward' | 'palm_training' | 'six_n_with_embeddings' | 'six_n_without_embeddings';

export interface PublishedApproximation {
  readonly key: PublishedApproximationKey;
  readonly name: string;
  readonly source: string;
  readonly formula: string;
  readonly quantity: 'forward FLOPs per token' | 'training FLOPs per token';
  /** Which parameters the formula's N counts here. */
  readonly parameters: string;
  /** The approximation's value for this model and run: an exact integer, per token. */
  readonly value: bigint;
  /** flopledger's exact count of the same quantity, per token. */
  readonly exact: Rational;
  readonly exactLabel: string;
  /** value / exact. */
  readonly ratio: Rational;
}

export function publishedApproximations(config: ModelConfig, run: RunShape): PublishedApproximation[] {
  const forward = exactForwardPerToken(config, run);
  const training = exactTrainingPerToken(config, run);
  const N = parameterConventions(config);
  const compare = (value: bigint, exact: Rational) => divideRationals(rational(value), exact);
  const withoutEmbeddings = `N without embeddings: ${N.notes.withoutEmbeddings}`;
  const withoutLookupTables = `N without lookup-only tables: ${N.notes.withoutLookupTables}`;
  return [
    {
      key: 'kaplan_forward',
      name: 'Kaplan et al. 2020',
      source: 'Kaplan et al. 2020, Scaling Laws for Neural Language Models, Table 1',
      formula: '2N + 2 * n_layer * n_ctx * d_attn',
      quantity: 'forward FLOPs per token',
      parameters: withoutEmbeddings,
      value: kaplanForwardPerToken(config, run),
      exact: forward,
      exactLabel: EXACT_FORWARD_LABEL,
      ratio: compare(kaplanForwardPerToken(config, run), forward),
    },
    {
      key: 'palm_training',
      name: 'PaLM (Chowdhery et al. 2022)',
      source: 'Chowdhery et al. 2022, PaLM: Scaling Language Modeling with Pathways, Appendix B',
      formula: '6N + 12 * L * H * Q * T (H query heads)',
      quantity: 'training FLOPs per token',
      parameters: withoutLookupTables,
      value: palmTrainingPerToken(config, run),
      exact: training,
      exactLabel: EXACT_TRAINING_LABEL,
      ratio: compare(palmTrainingPerToken(config, run), training),
    },
    {
      key: 'six_n_with_embeddings',
      name: '6N rule (N with embeddings)',
      source: 'Kaplan et al. 2020, section 2.1 (C ~= 6N per token)',
      formula: '6N',
      quantity: 'training FLOPs per token',
      parameters: `N with embeddings: ${N.notes.withEmbeddings}`,
      value: sixNPerToken(N.withEmbeddings),
      exact: training,
      exactLabel: EXACT_TRAINING_LABEL,
      ratio: compare(sixNPerToken(N.withEmbeddings), training),
    },
    {
      key: 'six_n_without_embeddings',
      name: '6N rule (N without embeddings)',
      source: 'Kaplan et al. 2020, section 2.1 (C ~= 6N per token)',
      formula: '6N',
      quantity: 'training FLOPs per token',
      parameters: withoutEmbeddings,
      value: sixNPerToken(N.withoutEmbeddings),
      exact: training,
      exactLabel: EXACT_TRAINING_LABEL,
      ratio: compare(sixNPerToken(N.withoutEmbeddings), training),
    },
  ];
}
