/**
 * Random small runs of the variants beyond the dense block, for the tests that trace a training
 * step of each: mixture-of-experts layers (with DeepSeek's routers: sigmoid scores, a score bias,
 * group-limited choice, a routing scale; a shared expert and its gate; some dense layers), latent
 * attention (with or without a query latent, either norm, zero-centred gains) and blocked
 * attention schedules with or without a sliding window, each under one of the three checkpointing
 * policies. Sizes a tiny training step handles in milliseconds on cpu.
 */
import fc from 'fast-check';
import type { AttentionSchedule } from '../../src/config/attention_schedule.js';
import type { ModelConfig, RunShape } from '../../src/config/model_config.js';
import { ROUTER_KEYS } from '../../src/config/moe.js';
import type { BlockCheckpointing } from '../../src/model/index.js';
import { arbitraryDenseRun } from './arbitrary_dense_model.js';
import { arbitraryLatentDims, latentConfig } from './latent_models.js';

export interface VariantRun {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly seed: number;
  readonly checkpoint: BlockCheckpointing;
}

export interface VariantRanges {
  readonly source: string;
  readonly batchMax: number;
  readonly seqMax: number;
}

const checkpoints = fc.constantFrom<BlockCheckpointing>('none', 'selective', 'full');

/** The run's shape, weight seed and checkpointing, drawn the same way for every variant. */
function runDraw(ranges: VariantRanges) {
  return {
    batch: fc.integer({ min: 1, max: ranges.batchMax }),
    seq: fc.integer({ min: 1, max: ranges.seqMax }),
    seed: fc.integer({ min: 0, max: 1000 }),
    checkpoint: checkpoints,
  };
}

/** A model whose FFN layers route to experts (all but the dense ones drawn), with every router option. */
export function arbitraryMoeRun(ranges: VariantRanges): fc.Arbitrary<VariantRun> {
  return fc
    .record({
      vocab: fc.integer({ min: 2, max: 12 }),
      layers: fc.integer({ min: 1, max: 2 }),
      heads: fc.integer({ min: 1, max: 2 }),
      halfHeadDim: fc.integer({ min: 1, max: 2 }),
      ffn: fc.integer({ min: 1, max: 5 }),
      kind: fc.constantFrom('swiglu' as const, 'gelu' as const, 'geglu' as const),
      experts: fc.integer({ min: 1, max: 4 }),
      kFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      expertFfn: fc.integer({ min: 1, max: 4 }),
      shared: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      sharedGate: fc.boolean(),
      normalize: fc.boolean(),
      routerBias: fc.boolean(),
      sigmoid: fc.boolean(),
      scoreBias: fc.boolean(),
      grouped: fc.boolean(),
      scale: fc.constantFrom(1, 2.5),
      firstDense: fc.boolean(),
      ...runDraw(ranges),
    })
    .map((draw) => {
      const k = 1 + Math.floor(draw.kFraction * draw.experts);
      // Two groups of E / 2, one kept: only where E splits and the kept group holds k experts.
      const groups = draw.grouped && draw.experts % 2 === 0 && k <= draw.experts / 2;
      const config: ModelConfig = {
        name: 'random-moe',
        source: ranges.source,
        vocab_size: draw.vocab,
        context_length: draw.seq,
        num_layers: draw.layers,
        d_model: draw.heads * 2 * draw.halfHeadDim,
        num_heads: draw.heads,
        d_ff: draw.ffn,
        ffn: draw.kind,
        num_experts: draw.experts,
        experts_per_token: k,
        expert_d_ff: draw.expertFfn,
        ...(draw.shared === undefined ? {} : { shared_d_ff: draw.shared, shared_expert_gate: draw.sharedGate }),
        normalize_top_k: draw.normalize,
        router_bias: draw.routerBias,
        router_scoring: draw.sigmoid ? 'sigmoid' : 'softmax',
        router_score_bias: draw.scoreBias,
        // A group of one expert has no best two to sum.
        ...(groups
          ? { expert_groups: 2, expert_groups_kept: 1, expert_group_score: draw.experts >= 4 ? 'top2_sum' : 'max' }
          : {}),
        routed_scaling_factor: draw.scale,
        // DeepSeek's first_k_dense_replace: layer 0 keeps the dense FFN when there is a layer after it.
        ...(draw.firstDense && draw.layers > 1 ? { dense_layers: [0] } : {}),
      };
      return { config, run: { batch: draw.batch, seq: draw.seq }, seed: draw.seed, checkpoint: draw.checkpoint };
    });
}

/** A dense model with latent attention: a query latent or not, RMSNorm or LayerNorm, zero-centred gains or not. */
export function arbitraryLatentRun(ranges: VariantRanges): fc.Arbitrary<VariantRun> {
  return fc
    .record({
      dims: arbitraryLatentDims({ vocab: 10, d: 8, nope: 3, value: 3, kvRank: 4, qRank: 4, ffn: 5 }),
      norm: fc.constantFrom('rmsnorm' as const, 'layernorm' as const),
      zeroCentered: fc.boolean(),
      ...runDraw(ranges),
    })
    .map((draw) => ({
      config: {
        ...latentConfig(draw.dims, draw.seq, ranges.source),
        norm: draw.norm,
        zero_centered_gain: draw.zeroCentered,
      },
      run: { batch: draw.batch, seq: draw.seq },
      seed: draw.seed,
      checkpoint: draw.checkpoint,
    }));
}

/** A random dense architecture (arbitraryDenseRun) on a blocked schedule, with a sliding window or none. */
export function arbitraryBlockedRun(
  ranges: VariantRanges,
  policies: readonly BlockCheckpointing[] = ['none', 'selective', 'full'],
): fc.Arbitrary<VariantRun> {
  const dense = arbitraryDenseRun({
    source: ranges.source,
    batchMax: ranges.batchMax,
    seqMax: ranges.seqMax,
    spareContextMax: 0,
    seedMax: 1000,
  });
  return fc
    .record({
      dense,
      block: fc.integer({ min: 1, max: 3 }),
      window: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      checkpoint: fc.constantFrom(...policies),
    })
    .map(({ dense: { config, run, seed }, block, window, checkpoint }) => {
      const attention: AttentionSchedule = { kind: 'blocked', block };
      return {
        config: { ...config, ...(window === undefined ? {} : { window }) },
        run: { ...run, attention },
        seed,
        checkpoint,
      };
    });
}

/**
 * DeepSeek's block at toy size: latent attention (arbitraryLatentRun) with routed experts from
 * arbitraryMoeRun's draw, on the dense schedule or a blocked one with or without a window.
 */
export function arbitraryLatentMoeRun(ranges: VariantRanges): fc.Arbitrary<VariantRun> {
  const moeKeys = [
    'num_experts',
    'experts_per_token',
    'expert_d_ff',
    'shared_d_ff',
    'shared_expert_gate',
    'normalize_top_k',
    'router_bias',
    ...ROUTER_KEYS,
  ] as const;
  return fc
    .record({
      latent: arbitraryLatentRun(ranges),
      moe: arbitraryMoeRun(ranges),
      block: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      window: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    })
    .map(({ latent, moe, block, window }) => {
      const experts = Object.fromEntries(moeKeys.flatMap((key) => (key in moe.config ? [[key, moe.config[key]]] : [])));
      const attention: AttentionSchedule | undefined = block === undefined ? undefined : { kind: 'blocked', block };
      return {
        ...latent,
        config: { ...latent.config, ...experts, ...(window === undefined ? {} : { window }) },
        run: { ...latent.run, ...(attention === undefined ? {} : { attention }) },
      };
    });
}
