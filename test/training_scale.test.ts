import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/config/model_config.js';
import { InputError } from '../src/core/errors.js';
import { formatFixed } from '../src/core/format.js';
import {
  activationPeak,
  activationPeakBytes,
  checkpointedActivations,
  collectiveBytes,
  evaluatePolynomial,
  formatPolynomial,
  largestBatch,
  largestMicroBatch,
  modelStateBytes,
  parallelLayout,
  precisionOf,
  PRECISIONS,
  recomputeFlops,
  shardedParameters,
  trainingAtScale,
  trainingMemory,
  zeroModelStates,
  type TrainingAtScaleOptions,
} from '../src/analytic/training/index.js';
import { GPT2_XL } from './helpers/gpt2_shapes.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

/** V 11, ctx 8, L 2, d 6, H 3 (dk 2), F 10: the seed's block, small enough to work out on paper. */
const tiny: ModelConfig = {
  name: 'tiny',
  source: 'test:tiny',
  vocab_size: 11,
  context_length: 8,
  num_layers: 2,
  d_model: 6,
  num_heads: 3,
  d_ff: 10,
};

/**
 * GPT-3 175B as Brown et al. 2020 (Table 2.1) and Narayanan et al. 2021 (Table 1) train it:
 * L 96, d 12288, H 96 (dk 128), F 4d = 49152, context 2048, GPT-2's 50257-token BPE vocabulary
 * padded as Megatron-LM pads it (make_vocab_size_divisible_by 128), GPT-2's block (GELU MLP,
 * LayerNorm, learned positions, biases) and lm_head tied to the token embeddings.
 */
const gpt3: ModelConfig = {
  name: 'gpt3-175b',
  source: 'test:gpt3-175b',
  vocab_size: 50257,
  context_length: 2048,
  num_layers: 96,
  d_model: 12288,
  num_heads: 96,
  d_ff: 49152,
  ffn: 'gelu',
  norm: 'layernorm',
  positions: 'learned',
  bias: true,
  tie_embeddings: true,
  vocab_multiple: 128,
};

const single = (overrides: Partial<TrainingAtScaleOptions> = {}): TrainingAtScaleOptions => ({
  devices: 1,
  zeroStage: 0,
  precision: 'fp32',
  checkpointing: 'none',
  microBatches: 1,
  ...overrides,
});

describe('precision: stated bytes per parameter, the sum checked', () => {
  const perParameter = (name: (typeof PRECISIONS)[number]) =>
    precisionOf(name).items.map((item) => [
      item.name,
      item.bytesPerParameter.numerator,
      item.bytesPerParameter.denominator,
    ]);

  it('fp32 keeps 4 + 4 + 4 + 4 = 16 bytes: weights, gradients, AdamW m and v', () => {
    expect(perParameter('fp32')).toEqual([
      ['weights (fp32)', 4n, 1n],
      ['gradients (fp32)', 4n, 1n],
      ['AdamW m (fp32)', 4n, 1n],
      ['AdamW v (fp32)', 4n, 1n],
    ]);
    expect(precisionOf('fp32').statedBytesPerParameter).toEqual({ numerator: 16n, denominator: 1n });
  });

  it("bf16 mixed keeps ZeRO's 2 + 2 + K with K = 12 (fp32 master, m, v) = 16 bytes", () => {
    expect(perParameter('bf16-mixed')).toEqual([
      ['weights (bf16)', 2n, 1n],
      ['gradients (bf16)', 2n, 1n],
      ['master weights (fp32)', 4n, 1n],
      ['AdamW m (fp32)', 4n, 1n],
      ['AdamW v (fp32)', 4n, 1n],
    ]);
    const bf16 = precisionOf('bf16-mixed');
    expect(bf16.statedBytesPerParameter).toEqual({ numerator: 16n, denominator: 1n });
    expect([bf16.weightBytes, bf16.gradientBytes, bf16.activationBytes, bf16.lossBytes]).toEqual([2n, 2n, 2n, 4n]);
    expect(perParameter('fp16-mixed').map(([, n, dn]) => [n, dn])).toEqual(
      perParameter('bf16-mixed').map(([, n, dn]) => [n, dn]),
    );
  });

  it('8-bit AdamW keeps 1 + 1 bytes of m and v plus 4 bytes per 2048-element block per state: 10 + 1/256 with bf16 weights', () => {
    // 2 + 2 + 4 + 1 + 1 + 4/2048 + 4/2048 = 10 + 8/2048 = 2561/256
    expect(perParameter('bf16-mixed-adam8bit')).toEqual([
      ['weights (bf16)', 2n, 1n],
      ['gradients (bf16)', 2n, 1n],
      ['master weights (fp32)', 4n, 1n],
      ['AdamW m (8-bit)', 1n, 1n],
      ['AdamW v (8-bit)', 1n, 1n],
      ['absmax of m per 2048-block (fp32)', 1n, 512n],
      ['absmax of v per 2048-block (fp32)', 1n, 512n],
    ]);
    expect(precisionOf('bf16-mixed-adam8bit').statedBytesPerParameter).toEqual({ numerator: 2561n, denominator: 256n });
    // fp32 weights: 4 + 4 + 1 + 1 + 1/256, the same total
    expect(precisionOf('fp32-adam8bit').statedBytesPerParameter).toEqual({ numerator: 2561n, denominator: 256n });
  });

  it('counts 8-bit states per tensor: partial blocks get a scale, tensors under 4096 elements stay fp32, two shared maps', () => {
    // 6144 = 3 blocks; 5000 = 2 full blocks + a partial one = 3; 100 < 4096 keeps fp32 m and v.
    const state = modelStateBytes(precisionOf('bf16-mixed-adam8bit'), [6144n, 100n, 5000n]);
    const P = 11_244n;
    expect(state.items.map((item) => [item.name, item.bytes])).toEqual([
      ['weights (bf16)', 2n * P],
      ['gradients (bf16)', 2n * P],
      ['master weights (fp32)', 4n * P],
      ['AdamW m (8-bit)', 11_144n],
      ['AdamW v (8-bit)', 11_144n],
      ['absmax of m per 2048-block (fp32)', 6n * 4n],
      ['absmax of v per 2048-block (fp32)', 6n * 4n],
      ['AdamW m and v (fp32) of tensors under 4096 elements', 8n * 100n],
      ['quantisation maps (2 x 256 fp32)', 2048n],
    ]);
    expect(state.total).toBe(115_136n);
    expect(state.byKind).toEqual({ parameters: 2n * P, gradients: 2n * P, optimizer: 115_136n - 4n * P });
  });

  it('gives GPT-2 XL 16 bytes per parameter in every fp32-state layout', () => {
    const tensors = trainingMemory(GPT2_XL, { batch: 1, seq: 1 }).parameterCount;
    for (const name of ['fp32', 'bf16-mixed', 'fp16-mixed'] as const) {
      expect(modelStateBytes(precisionOf(name), [tensors]).total).toBe(16n * 2_127_057_600n);
    }
  });
});

describe('ZeRO: Rajbhandari et al. 2020, Figure 1', () => {
  // "Ψ = 7.5B, K = 12, N_d = 64": baseline (2 + 2 + K)Ψ = 120GB, P_os = 31.4GB, P_os+g = 16.6GB,
  // P_os+g+p = 1.9GB, with GB = 10^9 bytes and one decimal (the paper prints 120 without one).
  const psi = 7_500_000_000n;
  const figure = ([0, 1, 2, 3] as const).map((stage) => zeroModelStates(precisionOf('fp16-mixed'), stage, 64, [psi]));

  it('reproduces 120, 31.4, 16.6 and 1.9 GB per device', () => {
    expect(figure.map((states) => formatFixed(states.total, 10n ** 9n, 1))).toEqual(['120.0', '31.4', '16.6', '1.9']);
  });

  it('is exactly (2 + 2 + 12)Ψ, 4Ψ + 12Ψ/64, 2Ψ + 14Ψ/64 and 16Ψ/64', () => {
    // 7.5e9 / 64 = 117,187,500 exactly: no padding
    expect(figure.map((states) => states.total)).toEqual([
      120_000_000_000n,
      31_406_250_000n,
      16_640_625_000n,
      1_875_000_000n,
    ]);
    expect(figure.map((states) => states.padding)).toEqual([0n, 0n, 0n, 0n]);
    expect(figure[3]?.partition).toBe(117_187_500n);
  });

  it('partitions each kind by stage and pads the flat buffer to a multiple of N_d', () => {
    const states = zeroModelStates(precisionOf('bf16-mixed'), 2, 3, [10n]); // partition ceil(10 / 3) = 4, padding 2
    expect([states.partition, states.padding]).toEqual([4n, 2n]);
    expect(states.items.map((item) => [item.name, item.partitioned, item.bytes])).toEqual([
      ['weights (bf16)', false, 20n],
      ['gradients (bf16)', true, 8n],
      ['master weights (fp32)', true, 16n],
      ['AdamW m (fp32)', true, 16n],
      ['AdamW v (fp32)', true, 16n],
    ]);
  });
});

describe('activation checkpointing on the tiny model (B = 2, T = 4, fp32)', () => {
  // Per block, per sequence, from training_memory's table: 8 [T, d] (ln1, q, k, v, weighted sum,
  // output projection, ln2, w2) + 4 [T, F] (w1, w3, SiLU, product) + 2 [H, T, T] (scores, softmax)
  // = 48 T + 40 T + 6 T^2 elements; after the last block: final norm [T, d] + logits and the
  // cross-entropy's softmax [T, V] = 6 T + 22 T. Bytes are 4 per element.
  const perLayer = [0n, 4n * 88n, 4n * 6n];
  const final = [0n, 4n * 28n];

  it('none keeps every table: B (816 T + 48 T^2), 8,064 bytes, what trainingMemory holds', () => {
    const activations = checkpointedActivations(tiny, { checkpointing: 'none' });
    expect(activations.perLayer.bytes.perSequence).toEqual(perLayer);
    expect(activations.final.bytes.perSequence).toEqual(final);
    expect(activations.recomputed.tensors).toEqual([]);
    expect(formatPolynomial(activationPeak(activations, 4).polynomial)).toBe('B (816 T + 48 T^2)');
    expect(activationPeakBytes(activations, 2, 4)).toBe(8_064n);
    expect(trainingMemory(tiny, { batch: 2, seq: 4 }).activations.total).toBe(8_064n);
  });

  it("selective drops the scores and softmax (24 T^2 per block) and holds one block's core again in its backward", () => {
    const activations = checkpointedActivations(tiny, { checkpointing: 'selective' });
    expect(activations.perLayer.bytes.perSequence).toEqual([0n, 352n]);
    expect(activations.recomputed.tensors.map((tensor) => tensor.name)).toEqual(['scores', 'softmax']);
    // held 2 x 352 T = 704 T; at T = 4 the final tensors (112 T = 448) outweigh the core (24 T^2 = 384)
    const atFour = activationPeak(activations, 4);
    expect([atFour.transient, atFour.polynomial.perSequence]).toEqual(['final', [0n, 816n]]);
    expect(activationPeakBytes(activations, 2, 4)).toBe(2n * 816n * 4n);
    // at T = 8 the core (1,536) outweighs the final tensors (896): 704 T + 24 T^2
    const atEight = activationPeak(activations, 8);
    expect([atEight.transient, atEight.polynomial.perSequence]).toEqual(['recomputed', [0n, 704n, 24n]]);
  });

  it('full keeps each block input (L x 4 T d = 48 T) plus one block rebuilt: B (400 T + 24 T^2), 3,968 bytes', () => {
    const activations = checkpointedActivations(tiny, { checkpointing: 'full' });
    expect(activations.perLayer.bytes.perSequence).toEqual([0n, 24n]);
    expect(activations.recomputed.bytes.perSequence).toEqual(perLayer);
    const peak = activationPeak(activations, 4);
    expect([peak.transient, peak.polynomial.perSequence]).toEqual(['recomputed', [0n, 400n, 24n]]);
    expect(activationPeakBytes(activations, 2, 4)).toBe(3_968n);
  });

  it("counts the learned position add once under full checkpointing: it is block 0's input", () => {
    const config = everyVariantConfig('test:every-variant'); // L 2, d 12, learned positions
    const none = checkpointedActivations(config, { checkpointing: 'none' });
    const full = checkpointedActivations(config, { checkpointing: 'full' });
    expect(none.initial.bytes.perSequence).toEqual([0n, 4n * 12n]);
    expect(full.initial.tensors).toEqual([]);
    expect(activationPeak(full, 8).held.perSequence).toEqual([0n, 2n * 4n * 12n]);
  });

  it('recomputes one forward of every block (full) or its q k^T and P v (selective)', () => {
    // Per block, B = 2, T = 4 (N = 8 rows): q, k, v, output_proj 4 x 2 N d^2 = 2,304; w1, w3, w2
    // 3 x 2 N d F = 2,880; scores and P v 2 x 2 B H T^2 dk = 768. Two blocks.
    const full = recomputeFlops(tiny, 'full');
    const selective = recomputeFlops(tiny, 'selective');
    expect(evaluatePolynomial(full.perLayer, 2, 4)).toBe(2_304n + 2_880n + 768n);
    expect(evaluatePolynomial(full.total, 2, 4)).toBe(2n * 5_952n);
    expect(evaluatePolynomial(selective.total, 2, 4)).toBe(2n * 768n);
    expect(selective.perLayer.perSequence).toEqual([0n, 0n, 24n]); // 4 d T^2 per sequence
    expect(recomputeFlops(tiny, 'none').total.perSequence).toEqual([]);
  });
});

describe('tensor and sequence parallelism split the saved activations as Korthikanti et al. 2022 do', () => {
  // tinyConfig: V 11, L 2, d 8, H 2, F 12. With tp 2 the vocabulary pads to 12 (Megatron: a multiple of 1 x tp).
  const config = tinyConfig('tp-tiny', 'test:tp-tiny');

  it('splits the tensors inside the parallel regions; sequence parallelism splits the rest', () => {
    // Per sequence: outside (ln1, output projection, ln2, w2) 4 x 8 T = 32 T; inside q, k, v,
    // weighted sum 32 T, w1, w3, SiLU, product 48 T, scores and softmax 4 T^2.
    // tp 2: 32 T + (80 T + 4 T^2) / 2 = 72 T + 2 T^2; with sequence parallelism (112 T + 4 T^2) / 2.
    const options = { checkpointing: 'none', tensorParallel: 2, vocab: 12 } as const;
    const plain = checkpointedActivations(config, options);
    const sequence = checkpointedActivations(config, { ...options, sequenceParallel: true });
    expect(plain.perLayer.bytes.perSequence).toEqual([0n, 4n * 72n, 4n * 2n]);
    expect(sequence.perLayer.bytes.perSequence).toEqual([0n, 4n * 56n, 4n * 2n]);
    // final norm 8 T (split only with sequence parallelism) + logits and softmax 2 x 12 T / 2
    expect(plain.final.bytes.perSequence).toEqual([0n, 4n * 20n]);
    expect(sequence.final.bytes.perSequence).toEqual([0n, 4n * 16n]);
  });
});

describe('tensor and pipeline parallelism: GPT-3 175B with tp 8, pp 8', () => {
  const layout = parallelLayout(gpt3, { devices: 64, tensorParallel: 8, pipelineParallel: 8 });
  const sharded = shardedParameters(gpt3, layout);
  // d = 12288, d^2 = 150,994,944. Megatron pads 50257 to a multiple of 128 x 8 = 1024: 51,200 rows.
  // One block on one tensor-parallel rank:
  //   ln1, ln2 gain + bias, replicated                    4d          =      49,152
  //   q, k, v column-parallel [d, d/8] + bias [d/8]       3(d^2 + d)/8 = 56,623,104 + 4,608
  //   output_proj row-parallel [d/8, d], bias replicated  d^2/8 + d   = 18,874,368 + 12,288
  //   w1 column-parallel [d, 4d/8] + bias [4d/8]          (4d^2 + 4d)/8 = 75,497,472 + 6,144
  //   w2 row-parallel [4d/8, d], bias replicated          4d^2/8 + d  = 75,497,472 + 12,288
  //   total 1.5 d^2 + 6d + 7d/8 = 226,492,416 + 73,728 + 10,752 = 226,576,896
  // 12 blocks per stage: 2,718,922,752.
  const perBlock = 226_576_896n;
  const blocks = 12n * perBlock;
  // First stage: + token_embeddings [51200/8, d] = 6,400 x 12,288 = 78,643,200
  //              + position_embeddings [2048, d], replicated = 25,165,824
  // Last stage:  + ln_final 2d = 24,576 + the tied table's copy for lm_head, 78,643,200
  const first = blocks + 78_643_200n + 25_165_824n;
  const last = blocks + 24_576n + 78_643_200n;

  it('gives each device of each stage its hand-computed count', () => {
    expect(sharded.vocab).toBe(51_200);
    expect(sharded.stages.map((stage) => stage.perLayer)).toEqual(Array(8).fill(perBlock));
    expect(sharded.stages.map((stage) => stage.parameters)).toEqual([
      2_822_731_776n,
      ...Array(6).fill(2_718_922_752n),
      2_797_590_528n,
    ]);
    expect([first, blocks, last]).toEqual([2_822_731_776n, 2_718_922_752n, 2_797_590_528n]);
  });

  it("adds up to Narayanan et al.'s 12 l h^2 (1 + 13/(12h) + (V + s)/(12 l h)) + ln_final + the stated replicas", () => {
    // Narayanan et al. 2021, section 5.1, with V = 51,200 as Megatron pads it and s = 2048:
    // 12 l h^2 + 13 l h + (V + s) h = 173,946,175,488 + 15,335,424 + 654,311,424 = 174,615,822,336.
    const narayanan = 174_615_822_336n;
    // Replicas on the 7 other tensor-parallel ranks: norms (2 per block + ln_final) 2d x 193,
    // row-parallel biases 2d x 96, positions 2048 d: 7 x 32,268,288 = 225,878,016; the last
    // stage's copy of the 51,200-row table: 629,145,600.
    const sumOverGroup = 8n * (first + 6n * blocks + last);
    expect(sumOverGroup).toBe(narayanan + 24_576n + 225_878_016n + 629_145_600n);
    // The model's own count pads only to 128: 50,304 rows; the 896 rows more are listed as padding.
    expect(sharded.total).toBe(narayanan + 24_576n - 896n * 12_288n);
    expect(sharded.replicas.map((replica) => replica.parameters)).toEqual([
      7n * 193n * 2n * 12_288n,
      7n * 96n * 2n * 12_288n,
      7n * 2048n * 12_288n,
      896n * 12_288n,
      51_200n * 12_288n,
    ]);
    expect(sumOverGroup).toBe(sharded.total + sharded.replicas.reduce((a, r) => a + r.parameters, 0n));
  });

  it('puts the tied table once on a single stage, with no copy', () => {
    const one = shardedParameters(gpt3, parallelLayout(gpt3, { devices: 8, tensorParallel: 8 }));
    expect(one.stages).toHaveLength(1);
    expect(one.stages[0]?.parameters).toBe(96n * perBlock + 78_643_200n + 25_165_824n + 24_576n);
  });

  it('states the tensor-parallel all-reduces: 2 forward and 2 backward of B T d per block and micro-batch', () => {
    // B 1, T 2048, bf16: B T d = 25,165,824 elements; a ring all-reduce over 8 sends
    // 2 x 7 chunks of 3,145,728 elements = 88,080,384 bytes per device.
    expect(collectiveBytes('all-reduce', 25_165_824n, 2n, 8)).toBe(88_080_384n);
    const step = trainingAtScale(
      gpt3,
      { batch: 1, seq: 2048 },
      {
        devices: 128,
        tensorParallel: 8,
        pipelineParallel: 8,
        zeroStage: 1,
        precision: 'bf16-mixed',
        checkpointing: 'none',
        microBatches: 1,
      },
    );
    const middle = step.stages[3];
    const bytesOf = (what: string) => middle?.communication.find((item) => item.what.startsWith(what))?.bytesPerStep;
    // 12 blocks x 2 all-reduces forward, and as many backward
    expect(bytesOf('block forward all-reduces')).toBe(24n * 88_080_384n);
    expect(bytesOf('block backward all-reduces')).toBe(24n * 88_080_384n);
    // a middle stage sends B T d bf16 activations forward and as many gradients back
    expect(bytesOf('activations to the next stage')).toBe(50_331_648n);
    expect(bytesOf('input gradients to the previous stage')).toBe(50_331_648n);
    // dp = 128 / 64 = 2, ZeRO-1: reduce-scatter of bf16 gradients and all-gather of bf16 weights,
    // each 1 chunk of 2,718,922,752 / 2 elements x 2 bytes
    expect(bytesOf('gradient reduce-scatter')).toBe(2_718_922_752n);
    expect(bytesOf('updated-weight all-gather')).toBe(2_718_922_752n);
    expect(middle?.communicationBytes).toBe(48n * 88_080_384n + 2n * 50_331_648n + 2n * 2_718_922_752n);
  });
});

describe('tensor and pipeline parallelism of the newer architectures, by hand', () => {
  /**
   * Every newer feature at once, small enough to count on paper: d 16, H 4, Hkv 2, head_dim 8 of
   * its own (dq = 32, dkv = 16), F 24, L 4, V 100; RMSNorm, RoPE, q/k norms, fused q/k/v, a
   * fused GeGLU gate/up, post-norms, q/k/v and MLP biases but none on output_proj, untied.
   */
  const modern: ModelConfig = {
    name: 'modern',
    source: 'test:modern',
    vocab_size: 100,
    context_length: 16,
    num_layers: 4,
    d_model: 16,
    num_heads: 4,
    num_kv_heads: 2,
    head_dim: 8,
    d_ff: 24,
    ffn: 'geglu',
    qk_norm: true,
    fused_qkv: true,
    fused_gate_up: true,
    post_norms: true,
    qkv_bias: true,
    output_bias: false,
    mlp_bias: true,
    tie_embeddings: false,
  };
  const sharded = shardedParameters(
    modern,
    parallelLayout(modern, { devices: 4, tensorParallel: 2, pipelineParallel: 2 }),
  );
  // One block on one of the 2 tensor-parallel ranks:
  //   ln1, post_attn_norm, ln2, post_ffn_norm gains, replicated   4 x 16        =  64
  //   qkv_proj column-parallel [16, (32 + 16 + 16) / 2] + bias [32] 512 + 32    = 544
  //   q_norm, k_norm gains over head_dim, replicated             2 x 8          =  16
  //   output_proj row-parallel [32 / 2, 16], no bias             256            = 256
  //   gate_up_proj column-parallel [16, 48 / 2] + bias [24]      384 + 24       = 408
  //   w2 row-parallel [24 / 2, 16] + bias [16] replicated        192 + 16       = 208
  //   total                                                                     = 1,496
  const perBlock = 1_496n;
  // Stage 0: 2 blocks + token_embeddings [100 / 2, 16] = 800. Stage 1: 2 blocks + ln_final 16 + lm_head [16, 50] = 800.
  it('gives each device of each stage its hand-computed count', () => {
    expect(sharded.vocab).toBe(100);
    expect(sharded.stages.map((stage) => stage.perLayer)).toEqual([perBlock, perBlock]);
    expect(sharded.stages.map((stage) => stage.parameters)).toEqual([2n * perBlock + 800n, 2n * perBlock + 816n]);
    const shard = (path: string) => sharded.stages[0]?.rows.find((row) => row.path === path)?.shardShape;
    expect(shard('layers.0.attn.qkv_proj')).toEqual([16, 32]);
    expect(shard('layers.0.ffn.gate_up_proj')).toEqual([16, 24]);
    expect(shard('layers.0.attn.q_norm')).toEqual([8]);
    expect(shard('layers.0.attn.output_proj')).toEqual([16, 16]);
  });

  it('adds up to the model plus each replica on the second rank', () => {
    // The whole model: a block is 16 + 16 x 64 + 64 + 16 + 32 x 16 + 16 + 16 + 16 x 48 + 48 + 24 x 16 + 16 + 16 = 2,896;
    // 4 blocks, two tables of 100 x 16 and ln_final: 11,584 + 3,200 + 16 = 14,800.
    expect(sharded.total).toBe(14_800n);
    // The second rank's copies: 17 norms over d (4 per block, ln_final), 8 q/k norms over head_dim, 4 w2 biases.
    expect(sharded.replicas.map((replica) => replica.parameters)).toEqual([17n * 16n, 8n * 8n, 4n * 16n]);
    const overGroup = 2n * sharded.stages.reduce((total, stage) => total + stage.parameters, 0n);
    expect(overGroup).toBe(14_800n + 272n + 64n + 64n);
  });

  it('splits the saved tensors of fused projections, q/k norms and soft-caps with their heads', () => {
    const capped: ModelConfig = { ...modern, attn_softcap: 50, final_softcap: 30, scale_embeddings: true };
    const activations = checkpointedActivations(capped, { checkpointing: 'none', tensorParallel: 2 });
    const byModule = new Map(activations.perLayer.tensors.map((tensor) => [tensor.module, tensor.divisor]));
    expect(byModule.get('attn.qkv_proj')).toBe(2);
    expect(byModule.get('attn.q_norm')).toBe(2);
    expect(byModule.get('attn.softcap')).toBe(2);
    expect(byModule.get('ffn.gate_up_proj')).toBe(2);
    expect(byModule.get('post_attn_norm')).toBe(1);
    expect(activations.initial.tensors.map((tensor) => [tensor.module, tensor.divisor])).toEqual([
      ['embedding_scale', 1],
    ]);
    // Selective checkpointing recomputes the capped scores with the scores and softmax: 3 H T^2 per block.
    const selective = checkpointedActivations(capped, { checkpointing: 'selective' });
    expect(selective.recomputed.tensors.map((tensor) => tensor.module)).toEqual([
      'attn.scores',
      'attn.softcap',
      'attn.softmax',
    ]);
    expect(selective.recomputed.bytes.perSequence).toEqual([0n, 0n, 4n * 3n * 4n]);
  });
});

describe('communication per step', () => {
  const run = { batch: 1, seq: 2048 };
  const gpt3Step = (overrides: Partial<TrainingAtScaleOptions>) =>
    trainingAtScale(gpt3, run, {
      devices: 64,
      tensorParallel: 8,
      pipelineParallel: 8,
      zeroStage: 0,
      precision: 'bf16-mixed',
      checkpointing: 'none',
      microBatches: 1,
      ...overrides,
    });
  const blockBytes = (step: ReturnType<typeof gpt3Step>) =>
    step.stages[3]?.communication
      .filter((item) => item.group === 'tensor' && item.what.includes('block'))
      .reduce((total, item) => total + item.bytesPerStep, 0n);
  // One all-gather or reduce-scatter of B T d = 25,165,824 bf16 elements over 8 ranks: 7 chunks
  // of 3,145,728 elements x 2 bytes = 44,040,192 bytes; an all-reduce is two of them.
  const half = 44_040_192n;

  it('moves 4 all-reduces per block without sequence parallelism, 2 more with full recomputation', () => {
    expect(blockBytes(gpt3Step({}))).toBe(12n * 4n * 2n * half);
    expect(blockBytes(gpt3Step({ checkpointing: 'full' }))).toBe(12n * 6n * 2n * half);
    expect(blockBytes(gpt3Step({ checkpointing: 'selective' }))).toBe(12n * 4n * 2n * half);
  });

  it('with sequence parallelism, 4 all-gathers and 4 reduce-scatters per block plus 2 re-gathers of saved shards', () => {
    expect(blockBytes(gpt3Step({ sequenceParallel: true }))).toBe(12n * 10n * half);
    // pipeline sends shrink to each rank's sequence shard: B T d / 8 x 2 bytes
    const middle = gpt3Step({ sequenceParallel: true }).stages[3];
    const sends = middle?.communication.filter((item) => item.group === 'pipeline').map((item) => item.bytesPerStep);
    expect(sends).toEqual([6_291_456n, 6_291_456n]);
  });

  it('ZeRO-3 moves 1.5 x the gradient all-reduce of plain data parallelism at one micro-batch (ZeRO section 7.2.2)', () => {
    // GPT-2 XL on 64 devices, fp16 gradients and weights: 2,127,057,600 / 64 = 33,235,275 per chunk.
    const chunk = 33_235_275n;
    const dataBytes = (zeroStage: 0 | 1 | 2 | 3, microBatches = 1) =>
      trainingAtScale(
        GPT2_XL,
        { batch: 1, seq: 1024 },
        single({ devices: 64, zeroStage, precision: 'fp16-mixed', microBatches }),
      ).stages[0]?.communicationBytes;
    expect(dataBytes(0)).toBe(2n * 63n * chunk * 2n);
    expect(dataBytes(1)).toBe(2n * 63n * chunk * 2n);
    expect(dataBytes(2)).toBe(2n * 63n * chunk * 2n);
    expect(dataBytes(3)).toBe(3n * 63n * chunk * 2n);
    // with 4 micro-batches ZeRO-2 reduce-scatters each one's gradients, ZeRO-3 also gathers twice each
    expect(dataBytes(0, 4)).toBe(2n * 63n * chunk * 2n);
    expect(dataBytes(2, 4)).toBe((4n + 1n) * 63n * chunk * 2n);
    expect(dataBytes(3, 4)).toBe(12n * 63n * chunk * 2n);
  });
});

describe('pipeline stages hold the activations of their in-flight micro-batches under 1F1B', () => {
  // tiny with 4 blocks, pp 2: stage 0 holds min(2 - 0, m) micro-batches, stage 1 min(1, m).
  // One block, B 2, T 4, fp32: 2 x 4 x (88 T + 6 T^2) = 2 x 4 x 448 = 3,584 bytes; the final
  // tensors 2 x 4 x 28 T = 896 bytes.
  const deep = { ...tiny, num_layers: 4 };
  const run = { batch: 2, seq: 4 };

  it('holds 2 micro-batches on the first stage and 1 plus the logits on the last', () => {
    const step = trainingAtScale(deep, run, single({ devices: 2, pipelineParallel: 2, microBatches: 4 }));
    expect(step.stages.map((stage) => stage.activations.inFlight)).toEqual([2, 1]);
    expect(step.stages.map((stage) => stage.activations.bytes)).toEqual([2n * 2n * 3_584n, 2n * 3_584n + 896n]);
    expect(step.stages.map((stage) => stage.activations.transient)).toEqual(['none', 'final']);
  });

  it('holds fewer when the step has fewer micro-batches than stages', () => {
    const step = trainingAtScale(deep, run, single({ devices: 2, pipelineParallel: 2, microBatches: 1 }));
    expect(step.stages.map((stage) => stage.activations.inFlight)).toEqual([1, 1]);
  });
});

describe('one device, fp32, no checkpointing is the single-device training memory', () => {
  for (const config of [tiny, GPT2_XL, everyVariantConfig('test:every-variant')]) {
    it(`${config.name}: same peak and same largest batch`, () => {
      const run = { batch: 3, seq: Math.min(8, config.context_length) };
      const step = trainingAtScale(config, run, single());
      expect(step.stages[0]?.total).toBe(trainingMemory(config, run).total);
      const memory = 80n * 10n ** 9n;
      const expected = largestBatch(config, run.seq, memory);
      const actual = largestMicroBatch(config, run.seq, single(), memory);
      expect(actual.batch).toBe(expected.batch);
    });
  }
});

describe('largest micro-batch at scale', () => {
  it('is the largest B whose bytes fit on the binding stage, and B + 1 does not', () => {
    const options = single({
      devices: 4,
      pipelineParallel: 2,
      zeroStage: 2,
      precision: 'bf16-mixed',
      checkpointing: 'selective',
      microBatches: 2,
    });
    const deep = { ...tiny, num_layers: 4 };
    const memory = 200_000n;
    const largest = largestMicroBatch(deep, 8, options, memory);
    if (!largest.fits) throw new Error(largest.reason);
    const at = trainingAtScale(deep, { batch: largest.batch, seq: 8 }, options);
    const next = trainingAtScale(deep, { batch: largest.batch + 1, seq: 8 }, options);
    expect(at.peakBytes).toBeLessThanOrEqual(memory);
    expect(next.peakBytes).toBeGreaterThan(memory);
    expect(at.stages[largest.bindingStage]?.total).toBe(largest.bytesAtBatch);
  });

  it('says what does not fit when the model states alone are too large', () => {
    const largest = largestMicroBatch(GPT2_XL, 1024, single({ precision: 'bf16-mixed' }), 10n ** 9n);
    // 16 bytes x 2,127,057,600 parameters = 34,032,921,600 bytes > 10^9
    expect(largest).toEqual({
      fits: false,
      batch: 0,
      bindingStage: 0,
      reason:
        'on stage 0, the model states alone take 34032921600 bytes per device, more than the 1000000000 bytes available',
    });
  });
});

describe('bad layouts are refused with the value and a fix', () => {
  const error = (action: () => unknown) => {
    try {
      action();
    } catch (caught) {
      expect(caught).toBeInstanceOf(InputError);
      return (caught as InputError).message;
    }
    throw new Error('no error thrown');
  };

  it('names tp, pp, devices, seq, micro-batches and the ZeRO stage', () => {
    expect(error(() => parallelLayout(tiny, { devices: 2, tensorParallel: 2 }))).toBe(
      'test:tiny: tp (2) must divide num_heads (3), num_kv_heads (3) and d_ff (10), since tensor parallelism splits whole heads and FFN columns; use a tp of 1',
    );
    expect(error(() => parallelLayout(GPT2_XL, { devices: 5, pipelineParallel: 5 }))).toContain(
      'pp (5) must divide num_layers (48), one equal group of blocks per stage; use a pp of 1, 2, 3, 4, 6, 8, 12, 16, ...',
    );
    expect(error(() => parallelLayout(GPT2_XL, { devices: 12, pipelineParallel: 8 }))).toBe(
      'devices (12) must be a multiple of tp x pp (1 x 8 = 8), the data-parallel copies being whole; use 16 devices or a tp and pp whose product divides 12',
    );
    const sequence = single({ devices: 8, tensorParallel: 8, sequenceParallel: true, precision: 'bf16-mixed' });
    expect(error(() => trainingAtScale(gpt3, { batch: 1, seq: 1001 }, sequence))).toBe(
      'seq (1001) must be a multiple of tp (8) with sequence parallelism, which splits the sequence over the ranks; use a seq of 1000 or 1008, or turn sequence parallelism off',
    );
    const ownWidth: ModelConfig = { ...tiny, num_heads: 2, head_dim: 4, d_ff: 8, d_model: 7 };
    expect(error(() => parallelLayout(ownWidth, { devices: 2, tensorParallel: 2, sequenceParallel: true }))).toBe(
      'test:tiny: sequence parallelism over tp (2) with d_model (7) not a multiple of tp is not modelled; use a tp of 1, or turn sequence parallelism off',
    );
    expect(error(() => trainingAtScale(tiny, { batch: 1, seq: 4 }, single({ microBatches: 0 })))).toBe(
      'micro-batches (0) must be a positive integer',
    );
    expect(error(() => trainingAtScale(tiny, { batch: 1, seq: 4 }, single({ zeroStage: 4 as 3 })))).toBe(
      "zero: stage (4) must be 0, 1, 2 or 3 (3 is FSDP's full sharding)",
    );
  });
});
