import type { ModelConfig, RunShape } from '../../config/model_config.js';
import { parameterConventions } from './parameter_counts.js';
import { sixNPerToken } from './published_approximations.js';
import { rational, type Rational } from '../../core/exact.js';
import { forwardFlopBreakdown } from '../flop_breakdown.js';
import { backwardFlopBreakdown } from '../training/backward_flops.js';

/**
 * The "6N" rule (6 FLOPs per parameter per token: 2N forward, 4N backward) against the exact
 * forward and backward matmul FLOPs of the same batch. The rule leaves out the attention core,
 * so it falls short as T grows; the optimizer is outside both sides.
 */
export interface SixNComparison {
  readonly convention: 'with_embeddings' | 'without_embeddings';
  /** Which parameters N counts. */
  readonly note: string;
  readonly parameters: bigint;
  readonly tokens: bigint;
  /** 6 * N * tokens. */
  readonly estimate: bigint;
  /** Exact forward + backward matmul FLOPs of the batch. */
  readonly exact: bigint;
  /** estimate / exact. */
  readonly ratio: Rational;
}

export function sixNComparison(config: ModelConfig, run: RunShape): SixNComparison[] {
  const N = parameterConventions(config);
  const tokens = BigInt(run.batch) * BigInt(run.seq);
  const exact = forwardFlopBreakdown(config, run).total + backwardFlopBreakdown(config, run).total;
  const compare = (convention: SixNComparison['convention'], note: string, parameters: bigint): SixNComparison => {
    const estimate = sixNPerToken(parameters) * tokens;
    return { convention, note, parameters, tokens, estimate, exact, ratio: rational(estimate, exact) };
  };
  return [
    compare('with_embeddings', N.notes.withEmbeddings, N.withEmbeddings),
    compare('without_embeddings', N.notes.withoutEmbeddings, N.withoutEmbeddings),
  ];
}
