import { forwardFlopBreakdown } from '../flop_breakdown.js';
import { sum } from '../../core/counting.js';
import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { attentionCoreConventions, countedAttentionCore, type AttentionCoreConventions } from './attention_core.js';
import { embeddingConventions, type EmbeddingConventions } from './embedding.js';
import { parameterConventions, type ParameterConventions } from './parameter_counts.js';
import { publishedApproximations, type PublishedApproximation } from './published_approximations.js';
import { rational, type Rational } from '../../core/exact.js';

export type ConventionKey =
  | 'flops'
  | 'macs'
  | 'attention_dense'
  | 'attention_blocked'
  | 'attention_useful'
  | 'attention_causal_triangle'
  | 'attention_half'
  | 'embedding_one_hot'
  | 'logits_excluded'
  | 'parameters_with_embeddings'
  | 'parameters_without_embeddings';

/** One way of counting the whole model. */
export interface ConventionCount {
  readonly key: ConventionKey;
  readonly label: string;
  readonly unit: 'FLOP' | 'MAC' | 'parameters';
  readonly value: bigint;
  /** What changed from flopledger's default count, and by how much. */
  readonly note: string;
  /** value / flopledger's default forward FLOPs; absent for parameter counts (another quantity). */
  readonly ratioToDefault?: Rational;
}

/**
 * The same model and run counted under each convention a paper or tool might use, with
 * flopledger's default first: forward matmul FLOPs, the attention core as the run computes it
 * (dense: every score; blocked: the blocks the mask does not empty), the embedding as a lookup
 * (0 FLOPs), logits (lm_head) included.
 */
export interface CountingConventions {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly forwardFlops: bigint;
  readonly forwardMacs: bigint;
  readonly attentionCore: AttentionCoreConventions;
  readonly embedding: EmbeddingConventions;
  readonly lmHeadFlops: bigint;
  readonly parameters: ParameterConventions;
  readonly counts: readonly ConventionCount[];
  readonly published: readonly PublishedApproximation[];
}

export function countingConventions(config: ModelConfig, run: RunShape): CountingConventions {
  const breakdown = forwardFlopBreakdown(config, run);
  const flops = breakdown.total;
  const macs = sum(breakdown.rows.map((row) => row.macs));
  const attentionCore = attentionCoreConventions(config, run);
  const counted = countedAttentionCore(attentionCore);
  if (counted !== breakdown.byComponent.attention_core) {
    throw new Error(
      `conventions: attention core closed form ${counted} (${attentionCore.counted}) disagrees with the inventory's ` +
        `${breakdown.byComponent.attention_core}`,
    );
  }
  const relative = (value: bigint) => rational(value, flops);
  const withCore = (core: bigint) => flops - counted + core;
  const { block } = attentionCore.blocked;
  const blocks = `${block} x ${block} blocks`;
  const windowed = attentionCore.useful !== attentionCore.causalTriangle;
  // The other way of computing the core than the run's, so dense and blocked stand side by side.
  const otherSchedule: ConventionCount =
    attentionCore.counted === 'dense'
      ? {
          key: 'attention_blocked',
          label: `FLOPs, attention blocked (${blocks})`,
          unit: 'FLOP',
          value: withCore(attentionCore.blocked.flops),
          note:
            'attention core as FlashAttention-style kernels compute it: the blocks the causal' +
            `${windowed ? ' or window' : ''} mask empties are skipped, partly masked blocks computed in full`,
          ratioToDefault: relative(withCore(attentionCore.blocked.flops)),
        }
      : {
          key: 'attention_dense',
          label: 'FLOPs, attention dense',
          unit: 'FLOP',
          value: withCore(attentionCore.full),
          note: 'attention core as eager attention computes it: every T x T score, then the mask',
          ratioToDefault: relative(withCore(attentionCore.full)),
        };
  const embedding = embeddingConventions(config, run);
  const lmHeadFlops = breakdown.byComponent.lm_head;
  const parameters = parameterConventions(config);
  const architecture = architectureOf(config);
  const vocab = architecture.padded_vocab_size === config.vocab_size ? 'V' : 'Vp';
  const table = architecture.tie_embeddings ? 'x @ E^T, tied' : 'lm_head';

  const counts: ConventionCount[] = [
    {
      key: 'flops',
      label: 'FLOPs (flopledger default)',
      unit: 'FLOP',
      value: flops,
      note:
        'forward matmuls, 2 FLOPs per multiply-add; attention core ' +
        (attentionCore.counted === 'dense' ? 'dense (every score)' : `blocked (${blocks})`) +
        '; embedding a lookup; logits included',
      ratioToDefault: relative(flops),
    },
    {
      key: 'macs',
      label: 'MACs',
      unit: 'MAC',
      value: macs,
      note: 'the same matmuls, 1 per multiply-add (FLOPs / 2)',
      ratioToDefault: relative(macs),
    },
    otherSchedule,
    ...(windowed
      ? [
          {
            key: 'attention_useful',
            label: 'FLOPs, attention as the exact window band',
            unit: 'FLOP',
            value: withCore(attentionCore.useful),
            note: 'attention core counts only the scores each query keeps: min(q + 1, w) on a layer with window w',
            ratioToDefault: relative(withCore(attentionCore.useful)),
          } satisfies ConventionCount,
        ]
      : []),
    {
      key: 'attention_causal_triangle',
      label: 'FLOPs, causal attention as the exact T(T+1)/2 triangle',
      unit: 'FLOP',
      value: withCore(attentionCore.causalTriangle),
      note:
        'attention core counts only the scores a causal model needs: 2*L*B*d*T(T+1) instead of 4*L*B*d*T^2' +
        (windowed ? ' (no window)' : ''),
      ratioToDefault: relative(withCore(attentionCore.causalTriangle)),
    },
    {
      key: 'attention_half',
      label: 'FLOPs, causal attention as half',
      unit: 'FLOP',
      value: withCore(attentionCore.half),
      // T^2/2 = T(T+1)/2 - T/2: neither the triangle with its diagonal nor T(T-1)/2 without it.
      note: 'attention core halved: 2*L*B*d*T^2, T^2/2 scores per head: the causal triangle T(T+1)/2 less half its diagonal',
      ratioToDefault: relative(withCore(attentionCore.half)),
    },
    {
      key: 'embedding_one_hot',
      label: 'FLOPs, embedding as a one-hot matmul',
      unit: 'FLOP',
      value: flops + embedding.oneHotMatmul,
      note: `adds onehot(ids) @ E: 2*B*T*${vocab}*d`,
      ratioToDefault: relative(flops + embedding.oneHotMatmul),
    },
    {
      key: 'logits_excluded',
      label: 'FLOPs, logits excluded',
      unit: 'FLOP',
      value: flops - lmHeadFlops,
      note: `drops the logits matmul (${table}): 2*B*T*d*${vocab}`,
      ratioToDefault: relative(flops - lmHeadFlops),
    },
    {
      key: 'parameters_with_embeddings',
      label: 'N with embeddings',
      unit: 'parameters',
      value: parameters.withEmbeddings,
      note: parameters.notes.withEmbeddings,
    },
    {
      key: 'parameters_without_embeddings',
      label: 'N without embeddings',
      unit: 'parameters',
      value: parameters.withoutEmbeddings,
      note: parameters.notes.withoutEmbeddings,
    },
  ];

  return {
    config,
    run,
    forwardFlops: flops,
    forwardMacs: macs,
    attentionCore,
    embedding,
    lmHeadFlops,
    parameters,
    counts,
    published: publishedApproximations(config, run),
  };
}
