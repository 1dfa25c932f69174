import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FFN_KINDS, NORM_KINDS, POSITION_KINDS, type ModelConfig } from '../src/config/model_config.js';
import {
  activationPeakBytes,
  checkpointedActivations,
  collectiveBytes,
  CHECKPOINTING,
  evaluatePolynomial,
  parallelLayout,
  precisionOf,
  recomputeFlops,
  scalePolynomial,
  shardedParameters,
  trainingAtScale,
  trainingMemory,
  zeroModelStates,
  type Checkpointing,
} from '../src/analytic/training/index.js';
import { arbitrarySeedConfig, withRunShape } from './helpers/arbitrary_config.js';

const RUNS = { numRuns: 60 };

interface ParallelModel {
  readonly config: ModelConfig;
  readonly tp: number;
  readonly pp: number;
}

/**
 * Every architecture variant at sizes tensor and pipeline parallelism can split: num_kv_heads and
 * d_ff multiples of tp (num_heads a multiple of num_kv_heads), num_layers a multiple of pp.
 */
const arbitraryParallelModel: fc.Arbitrary<ParallelModel> = fc
  .record({
    tp: fc.constantFrom(1, 2, 3, 4, 8),
    pp: fc.integer({ min: 1, max: 6 }),
    layersPerStage: fc.integer({ min: 1, max: 4 }),
    kvPerRank: fc.integer({ min: 1, max: 3 }),
    group: fc.integer({ min: 1, max: 4 }),
    halfHeadDim: fc.integer({ min: 1, max: 8 }),
    ffPerRank: fc.integer({ min: 1, max: 64 }),
    vocab_size: fc.integer({ min: 1, max: 5_000 }),
    vocab_multiple: fc.integer({ min: 1, max: 64 }),
    context_length: fc.integer({ min: 1, max: 256 }),
    tie_embeddings: fc.boolean(),
    ffn: fc.constantFrom(...FFN_KINDS),
    norm: fc.constantFrom(...NORM_KINDS),
    positions: fc.constantFrom(...POSITION_KINDS),
    qkv_bias: fc.boolean(),
    output_bias: fc.boolean(),
    mlp_bias: fc.boolean(),
    qk_norm: fc.boolean(),
    fused_qkv: fc.boolean(),
    fusedGateUp: fc.boolean(),
    post_norms: fc.boolean(),
    scale_embeddings: fc.boolean(),
    // A d_model of its own, head_dim then explicit; or d = H * head_dim.
    ownWidth: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined, freq: 2 }),
    softcaps: fc.boolean(),
  })
  .map(
    ({
      tp,
      pp,
      layersPerStage,
      kvPerRank,
      group,
      halfHeadDim,
      ffPerRank,
      fusedGateUp,
      ownWidth,
      softcaps,
      ...fields
    }) => {
      const num_kv_heads = tp * kvPerRank;
      const num_heads = num_kv_heads * group;
      const config: ModelConfig = {
        name: 'random-parallel',
        source: 'test:random-parallel',
        ...fields,
        // Only a gated FFN has a W3 to fuse with W1.
        fused_gate_up: fusedGateUp && fields.ffn !== 'gelu',
        ...(ownWidth === undefined ? {} : { head_dim: 2 * halfHeadDim }),
        ...(softcaps ? { attn_softcap: 50, final_softcap: 30 } : {}),
        num_layers: pp * layersPerStage,
        num_heads,
        num_kv_heads,
        // Sequence parallelism needs tp to divide d_model (parallelLayout refuses it otherwise).
        d_model: ownWidth === undefined ? num_heads * 2 * halfHeadDim : tp * ownWidth,
        d_ff: tp * ffPerRank,
      };
      return { config, tp, pp };
    },
  );

/**
 * What a tp x pp group holds beyond the model, from the definitions: every tensor-parallel rank
 * but one holds an extra copy of the norms (n vectors of d each: 2 per block, 4 with post-norms,
 * and ln_final; n vectors of head_dim for each of q_norm and k_norm), of the row-parallel biases
 * (output_proj's and w2's, d each per block when present) and of the position table; the
 * vocabulary grows from Vp to a multiple of vocab_multiple * tp in each table; a tied table split
 * over stages has one more copy on the last stage.
 */
function expectedReplicas({ config, tp, pp }: ParallelModel): bigint {
  const d = BigInt(config.d_model);
  const L = BigInt(config.num_layers);
  const copies = BigInt(tp - 1);
  const n = config.norm === 'layernorm' ? 2n : 1n;
  const multiple = BigInt(config.vocab_multiple ?? 1);
  const V = BigInt(config.vocab_size);
  const Vp = ((V + multiple - 1n) / multiple) * multiple;
  const Vtp = ((V + multiple * BigInt(tp) - 1n) / (multiple * BigInt(tp))) * multiple * BigInt(tp);
  const tables = config.tie_embeddings === true ? 1n : 2n;
  const headDim = BigInt(config.head_dim ?? config.d_model / config.num_heads);
  const rowBiases = (config.output_bias === true ? 1n : 0n) + (config.mlp_bias === true ? 1n : 0n);
  return (
    copies * n * d * ((config.post_norms === true ? 4n : 2n) * L + 1n) +
    (config.qk_norm === true ? copies * n * 2n * headDim * L : 0n) +
    copies * rowBiases * d * L +
    (config.positions === 'learned' ? copies * BigInt(config.context_length) * d : 0n) +
    tables * (Vtp - Vp) * d +
    (config.tie_embeddings === true && pp > 1 ? Vtp * d : 0n)
  );
}

describe('at-scale accounting properties', () => {
  it('per-device parameters times devices equal the model plus the stated replicas', () => {
    fc.assert(
      fc.property(arbitraryParallelModel, (model) => {
        const { config, tp, pp } = model;
        const sharded = shardedParameters(
          config,
          parallelLayout(config, { devices: tp * pp, tensorParallel: tp, pipelineParallel: pp }),
        );
        const overGroup = BigInt(tp) * sharded.stages.reduce((total, stage) => total + stage.parameters, 0n);
        const replicas = sharded.replicas.reduce((total, replica) => total + replica.parameters, 0n);
        expect(replicas).toBe(expectedReplicas(model));
        expect(overGroup).toBe(sharded.total + replicas);
        expect(sharded.stages.map((stage) => stage.layerCount)).toEqual(Array(pp).fill(config.num_layers / pp));
      }),
      RUNS,
    );
  });

  it('ZeRO: each stage holds no more than the one before; stage 0 is 16 Ψ and stage 3 times N_d is 16 (Ψ + padding)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 4096 }),
        fc.constantFrom<'fp32' | 'bf16-mixed' | 'fp16-mixed'>('fp32', 'bf16-mixed', 'fp16-mixed'),
        (psi, dp, name) => {
          const stage = (zero: 0 | 1 | 2 | 3) => zeroModelStates(precisionOf(name), zero, dp, [psi]);
          const [s0, s1, s2, s3] = [stage(0), stage(1), stage(2), stage(3)];
          expect(s0.total).toBe(16n * psi);
          expect(s1.total).toBeLessThanOrEqual(s0.total);
          expect(s2.total).toBeLessThanOrEqual(s1.total);
          expect(s3.total).toBeLessThanOrEqual(s2.total);
          expect(s3.padding).toBeLessThan(BigInt(dp));
          expect(s3.total * BigInt(dp)).toBe(16n * (psi + s3.padding));
        },
      ),
      RUNS,
    );
  });

  it("checkpointing: none is training_memory's activations; selective and full never hold more", () => {
    fc.assert(
      fc.property(withRunShape(arbitrarySeedConfig, 16), ([config, run]) => {
        const peak = (checkpointing: Checkpointing) =>
          activationPeakBytes(checkpointedActivations(config, { checkpointing }), run.batch, run.seq);
        const none = peak('none');
        expect(none).toBe(trainingMemory(config, run).activations.total);
        expect(peak('selective')).toBeLessThanOrEqual(none);
        expect(peak('full')).toBeLessThanOrEqual(none);
      }),
      RUNS,
    );
  });

  it('tensor parallelism splits activations exactly: tp ranks together hold the whole (with sequence parallelism, every tensor)', () => {
    fc.assert(
      fc.property(arbitraryParallelModel, fc.constantFrom(...CHECKPOINTING), ({ config, tp }, checkpointing) => {
        const vocab = shardedParameters(config, parallelLayout(config, { devices: tp, tensorParallel: tp })).vocab;
        const whole = checkpointedActivations(config, { checkpointing, vocab });
        const split = checkpointedActivations(config, {
          checkpointing,
          vocab,
          tensorParallel: tp,
          sequenceParallel: true,
        });
        for (const part of ['initial', 'perLayer', 'final', 'recomputed'] as const) {
          expect(scalePolynomial(split[part].bytes, BigInt(tp))).toEqual(whole[part].bytes);
        }
      }),
      RUNS,
    );
  });

  it('pipeline stages recompute together what one device would, tp ranks splitting it evenly', () => {
    fc.assert(
      fc.property(
        arbitraryParallelModel,
        fc.constantFrom<Checkpointing>('selective', 'full'),
        fc.integer({ min: 1, max: 4 }),
        ({ config, tp, pp }, checkpointing, microBatches) => {
          const run = { batch: 2, seq: Math.min(config.context_length, 3 * tp) };
          const step = trainingAtScale(config, run, {
            devices: tp * pp,
            tensorParallel: tp,
            pipelineParallel: pp,
            zeroStage: 0,
            precision: 'bf16-mixed',
            checkpointing,
            microBatches,
          });
          const overGroup = BigInt(tp) * step.stages.reduce((total, stage) => total + stage.recomputedFlops, 0n);
          const oneDevice = evaluatePolynomial(recomputeFlops(config, checkpointing).total, run.batch, run.seq);
          expect(overGroup).toBe(BigInt(microBatches) * oneDevice);
        },
      ),
      RUNS,
    );
  });

  it('a ring all-reduce sends a reduce-scatter and an all-gather, at least 2 (n - 1)/n of the data', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 1024 }),
        fc.constantFrom(1n, 2n, 4n),
        (elements, n, width) => {
          const allReduce = collectiveBytes('all-reduce', elements, width, n);
          expect(allReduce).toBe(
            collectiveBytes('reduce-scatter', elements, width, n) + collectiveBytes('all-gather', elements, width, n),
          );
          const N = BigInt(n);
          // 2 (n - 1) ceil(E / n) w lies in [2 (n - 1) E w / n, 2 (n - 1) (E / n + 1) w)
          expect(allReduce * N).toBeGreaterThanOrEqual(2n * (N - 1n) * elements * width);
          expect(allReduce * N).toBeLessThan(2n * (N - 1n) * (elements + N) * width + 1n);
        },
      ),
      RUNS,
    );
  });

  it('one fp32 device without checkpointing holds exactly the single-device training memory', () => {
    fc.assert(
      fc.property(withRunShape(arbitrarySeedConfig, 16), ([config, run]) => {
        const step = trainingAtScale(config, run, {
          devices: 1,
          zeroStage: 0,
          precision: 'fp32',
          checkpointing: 'none',
          microBatches: 1,
        });
        expect(step.peakBytes).toBe(trainingMemory(config, run).total);
        expect(step.stages[0]?.communication).toEqual([]);
      }),
      RUNS,
    );
  });
});
