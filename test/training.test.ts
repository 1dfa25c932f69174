import { describe, expect, it } from 'vitest';
import { forwardFlopBreakdown } from '../src/analytic/index.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { InputError } from '../src/core/errors.js';
import {
  ADAMW_OPERATIONS,
  adamwUpdateFlops,
  backwardFlopBreakdown,
  backwardMatmulInventory,
  backwardToForwardRatio,
  largestBatch,
  optimizerPeak,
  parseExactDecimal,
  parseMfu,
  parsePeakFlops,
  runTime,
  tracedStepPeaks,
  trainingMemory,
  trainingMemoryPolynomial,
  trainingStepFlops,
} from '../src/analytic/training/index.js';
import { GPT2_XL } from './helpers/gpt2_shapes.js';
import { loadModelConfig } from '../src/config/index.js';

/** Small enough to work every number out on paper: dk = 2, and N = B*T = 8 differs from d, F and V. */
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
const tinyRun = { batch: 2, seq: 4 };

const xl = GPT2_XL;
/** The seed's part (a), checked there against the notebook: L (4d^2 + 3dF + 2d) + 2Vd + d. */
const XL_PARAMETERS = 2_127_057_600n;

type Expected = [
  path: string,
  gradient: 'input' | 'weight',
  operand: string,
  batch: number[],
  m: number,
  k: number,
  n: number,
];

/**
 * The backward rows of one tiny layer, from calculus (B = 2, T = 4, N = 8, d = 6, H = 3, dk = 2, F = 10):
 * linear y = x W with x [N, d_in], W [d_in, d_out]: dx = dy W^T is [N, d_out] x [d_out, d_in],
 * dW = x^T dy is [d_in, N] x [N, d_out]. Scores S = q k^T per head: dq = dS k and dk = dS^T q,
 * both [T, T] x [T, dk]. O = P v: dP = dO v^T is [T, dk] x [dk, T], dv = P^T dO is [T, T] x [T, dk].
 */
function tinyLayerRows(i: number): Expected[] {
  const at = (local: string) => `layers.${i}.${local}`;
  return [
    [at('attn.q_proj'), 'input', 'x', [], 8, 6, 6],
    [at('attn.q_proj'), 'weight', 'W', [], 6, 8, 6],
    [at('attn.k_proj'), 'input', 'x', [], 8, 6, 6],
    [at('attn.k_proj'), 'weight', 'W', [], 6, 8, 6],
    [at('attn.v_proj'), 'input', 'x', [], 8, 6, 6],
    [at('attn.v_proj'), 'weight', 'W', [], 6, 8, 6],
    [at('attn.scores'), 'input', 'q', [2, 3], 4, 4, 2],
    [at('attn.scores'), 'input', 'k', [2, 3], 4, 4, 2],
    [at('attn.weighted_sum'), 'input', 'P', [2, 3], 4, 2, 4],
    [at('attn.weighted_sum'), 'input', 'v', [2, 3], 4, 4, 2],
    [at('attn.output_proj'), 'input', 'x', [], 8, 6, 6],
    [at('attn.output_proj'), 'weight', 'W', [], 6, 8, 6],
    [at('ffn.w1'), 'input', 'x', [], 8, 10, 6], // dy [N, F] x W1^T [F, d]
    [at('ffn.w1'), 'weight', 'W', [], 6, 8, 10], // x^T [d, N] x dy [N, F]
    [at('ffn.w3'), 'input', 'x', [], 8, 10, 6],
    [at('ffn.w3'), 'weight', 'W', [], 6, 8, 10],
    [at('ffn.w2'), 'input', 'x', [], 8, 6, 10], // dy [N, d] x W2^T [d, F]
    [at('ffn.w2'), 'weight', 'W', [], 10, 8, 6], // h^T [F, N] x dy [N, d]
  ];
}

describe('backward matmul inventory', () => {
  it('lists every gradient matmul of the tiny model as calculus gives it, in forward order', () => {
    const expected: Expected[] = [
      ...tinyLayerRows(0),
      ...tinyLayerRows(1),
      ['lm_head', 'input', 'x', [], 8, 11, 6], // dy [N, V] x Wlm^T [V, d]
      ['lm_head', 'weight', 'W', [], 6, 8, 11], // x^T [d, N] x dy [N, V]
    ];
    const rows = backwardMatmulInventory(tiny, tinyRun);
    expect(rows.map((row) => [row.path, row.gradient, row.operand, row.batch, row.m, row.k, row.n])).toEqual(expected);
    for (const row of rows) {
      expect(row.skipped).toBeUndefined();
      const batch = row.batch.reduce((a, b) => a * b, 1);
      expect(row.flops).toBe(BigInt(2 * batch * row.m * row.k * row.n));
      expect(row.macs * 2n).toBe(row.flops);
    }
  });

  it('names each gradient and the forward matmul it differentiates', () => {
    const rows = backwardMatmulInventory(tiny, tinyRun);
    const at = (path: string, operand: string) => rows.find((row) => row.path === path && row.operand === operand)!;
    expect(at('layers.0.attn.q_proj', 'x')).toMatchObject({
      description: 'dx = dy @ Wq^T',
      symbolicShapes: '[B*T,d] x [d,d]',
      forwardDescription: 'x @ Wq',
      component: 'attention_projections',
    });
    expect(at('layers.1.ffn.w2', 'W')).toMatchObject({
      description: 'dW2 = x^T @ dy',
      symbolicShapes: '[F,B*T] x [B*T,d]',
    });
    expect(at('layers.1.attn.scores', 'k')).toMatchObject({
      description: 'dk = dS^T @ q',
      component: 'attention_core',
    });
    expect(at('layers.0.attn.weighted_sum', 'P')).toMatchObject({ symbolicShapes: '[B,H,T,dk] x [B,H,dk,T]' });
    expect(at('lm_head', 'W')).toMatchObject({ symbolicShapes: '[d,B*T] x [B*T,V]', component: 'lm_head' });
  });

  it('sums the tiny backward pass by hand: 25,920 FLOPs, twice the forward 12,960', () => {
    // Per layer: 8 attention-projection gradients of 2*8*6*6 = 576, 4 attention-core of 2*6*4*4*2 = 384,
    // 6 ffn of 2*8*10*6 = 960: 4608 + 1536 + 5760 = 11,904. Two layers plus lm_head 2 * 2*8*11*6 = 2112.
    const breakdown = backwardFlopBreakdown(tiny, tinyRun);
    expect(breakdown.byComponent).toEqual({
      attention_projections: 2n * 4608n,
      attention_core: 2n * 1536n,
      ffn: 2n * 5760n,
      lm_head: 2112n,
      // a model without latent attention has no latent projections, a dense one no mixture of experts
      latent_projections: 0n,
      router: 0n,
      routed_experts: 0n,
      shared_experts: 0n,
    });
    expect(breakdown.total).toBe(25_920n);
    expect(breakdown.perLayer.map((layer) => layer.total)).toEqual([11_904n, 11_904n]);
    expect(breakdown.skippedFlops).toBe(0n);
    // Forward, by hand: per layer 4 * 576 + 2 * 384 + 3 * 960 = 5952; 2 * 5952 + 1056 = 12,960.
    expect(forwardFlopBreakdown(tiny, tinyRun).total).toBe(12_960n);
    const ratios = backwardToForwardRatio(tiny, tinyRun);
    expect(ratios.total).toEqual({ forward: 12_960n, backward: 25_920n, ratio: { numerator: 2n, denominator: 1n } });
  });

  it('skips nothing when every weight trains, and nothing either with only the embedding frozen (ln1 gains train)', () => {
    expect(backwardMatmulInventory(xl, { batch: 1, seq: 16 }).filter((row) => row.skipped)).toEqual([]);
    const embeddingFrozen = backwardMatmulInventory(tiny, tinyRun, { frozen: ['token_embeddings'] });
    expect(embeddingFrozen.filter((row) => row.skipped)).toEqual([]);
  });

  it("skips layer 0's q, k, v input gradients once the embedding and layer 0's ln1 gain are both frozen", () => {
    const breakdown = backwardFlopBreakdown(tiny, tinyRun, { frozen: ['token_embeddings', 'layers.0.ln1'] });
    const skipped = breakdown.rows.filter((row) => row.skipped !== undefined);
    expect(skipped.map((row) => `${row.path} d${row.operand}`)).toEqual([
      'layers.0.attn.q_proj dx',
      'layers.0.attn.k_proj dx',
      'layers.0.attn.v_proj dx',
    ]);
    expect(skipped[0]!.skipped).toContain('depends on no trained weight');
    // Skipped rows stay listed but leave the totals: 25,920 - 3 * 576.
    expect(breakdown.total).toBe(25_920n - 3n * 576n);
    expect(breakdown.skippedFlops).toBe(3n * 576n);
  });

  it('skips the weight gradient of a frozen weight and nothing upstream of a trained one', () => {
    const rows = backwardMatmulInventory(tiny, tinyRun, { frozen: ['layers.1.ffn.w2', 'lm_head'] });
    expect(rows.filter((row) => row.skipped).map((row) => `${row.path} ${row.gradient}`)).toEqual([
      'layers.1.ffn.w2 weight',
      'lm_head weight',
    ]);
    expect(rows.find((row) => row.path === 'lm_head' && row.gradient === 'weight')!.skipped).toBe(
      'lm_head is frozen, so its weight gets no gradient',
    );
  });

  it('refuses a frozen path that names no parameter, with the fix', () => {
    expect(() => backwardMatmulInventory(tiny, tinyRun, { frozen: ['layers.0.attn.scores'] })).toThrow(
      'frozen: "layers.0.attn.scores" names no parameter of tiny; use a weight\'s module path, e.g. token_embeddings or layers.0.ln1',
    );
    expect(() => backwardMatmulInventory(tiny, { batch: 1, seq: 9 })).toThrow(InputError);
  });
});

describe('AdamW FLOPs', () => {
  it('counts 14 FLOPs per parameter: 3 + 4 for the moments, 5 for the step, 2 for the decay', () => {
    expect(ADAMW_OPERATIONS.map((op) => op.flopsPerParameter)).toEqual([3n, 4n, 5n, 2n]);
    const adamw = adamwUpdateFlops(1000n);
    expect(adamw.perParameter).toBe(14n);
    expect(adamw.total).toBe(14_000n);
    expect(adamw.convention).toContain('14 per parameter');
    expect(adamw.convention).toContain('16 per parameter');
    expect(adamwUpdateFlops(0n).total).toBe(0n);
  });

  it('gives GPT-2 XL one AdamW step of 14 * 2,127,057,600 = 29,778,806,400 FLOPs', () => {
    expect(adamwUpdateFlops(XL_PARAMETERS).total).toBe(29_778_806_400n);
    expect(trainingStepFlops(xl, { batch: 1, seq: 1024 }).optimizer).toBe(14n * XL_PARAMETERS);
  });
});

describe('training memory', () => {
  it('lists the saved activations of one tiny block with both shapes, and totals them by hand', () => {
    const memory = trainingMemory(tiny, tinyRun);
    const perLayer = memory.activations.perLayer;
    expect(perLayer.map((row) => row.name)).toEqual([
      'ln1',
      'q',
      'k',
      'v',
      'scores',
      'softmax',
      'weighted sum',
      'output projection',
      'ln2',
      'w1',
      'w3',
      'SiLU',
      'product',
      'w2',
    ]);
    const scores = perLayer.find((row) => row.name === 'scores')!;
    expect(scores.shape).toEqual({ symbolic: ['B', 'H', 'T', 'T'], numeric: [2, 3, 4, 4] });
    expect(scores.module).toBe('attn.scores');
    // B*T = 8: eight [B,T,d] rows of 48, four [B,T,F] rows of 80, two [B,H,T,T] rows of 96.
    expect(perLayer.map((row) => row.elements)).toEqual([
      48n,
      48n,
      48n,
      48n,
      96n,
      96n,
      48n,
      48n,
      48n,
      80n,
      80n,
      80n,
      80n,
      48n,
    ]);
    expect(memory.activations.perLayerBytes).toBe(4n * 896n);
    // Final norm [B,T,d] 48, logits [B,T,V] 88, cross-entropy softmax [B,T,V] 88.
    expect(memory.activations.final.map((row) => [row.name, row.elements])).toEqual([
      ['final norm', 48n],
      ['logits', 88n],
      ['cross-entropy', 88n],
    ]);
    expect(memory.activations.total).toBe(4n * (2n * 896n + 224n));
    // P = L (4d^2 + 3dF + 2d) + 2Vd + d = 2 * 336 + 132 + 6 = 810.
    expect(memory.parameterCount).toBe(810n);
    expect([memory.parameters, memory.gradients, memory.adamMoments]).toEqual([3240n, 3240n, 6480n]);
    expect(memory.total).toBe(16n * 810n + 8064n);
  });

  it('states GPT-2 XL peak memory as 16 P + B * 4 (L (8Td + 4TF + 2HT^2) + Td + 2TV) bytes', () => {
    const [L, d, H, F, V, T] = [48n, 1600n, 25n, 6400n, 50257n, 1024n];
    const perSequenceElements = L * (8n * T * d + 4n * T * F + 2n * H * T * T) + T * d + 2n * T * V;
    // 48 * (13,107,200 + 26,214,400 + 52,428,800) + 1,638,400 + 102,926,336 = 4,508,583,936 elements.
    expect(perSequenceElements).toBe(4_508_583_936n);
    const polynomial = trainingMemoryPolynomial(xl, 1024);
    expect(polynomial.constant).toBe(16n * XL_PARAMETERS);
    expect(polynomial.constant).toBe(34_032_921_600n);
    expect(polynomial.perBatch).toBe(4n * perSequenceElements);
    expect(polynomial.perBatch).toBe(18_034_335_744n);
    expect(polynomial.symbolic).toBe('16 P + 4 B (L (8 T d + 4 T F + 2 H T^2) + T d + 2 T V)');
    expect(trainingMemory(xl, { batch: 3, seq: 1024 }).total).toBe(34_032_921_600n + 3n * 18_034_335_744n);
  });
});

describe('largest batch', () => {
  it('fits 2 GPT-2 XL sequences of 1024 tokens in 80 GB (10^9 bytes), and 2 in 80 GiB', () => {
    // floor((80e9 - 34,032,921,600) / 18,034,335,744) = floor(2.549) = 2.
    expect(largestBatch(xl, 1024, 80n * 10n ** 9n)).toEqual({
      batch: 2,
      bytesAtBatch: 34_032_921_600n + 2n * 18_034_335_744n,
      bytesAtNext: 34_032_921_600n + 3n * 18_034_335_744n,
    });
    // floor((85,899,345,920 - 34,032,921,600) / 18,034,335,744) = floor(2.876) = 2.
    expect(largestBatch(xl, 1024, 80n * 2n ** 30n)).toMatchObject({ batch: 2 });
  });

  it('is exact at the boundary and explains a batch of 0', () => {
    // tiny at T = 4: constant 16 * 810 = 12,960 bytes, 4 * 1008 = 4,032 bytes per sequence.
    expect(largestBatch(tiny, 4, 12_960n + 2n * 4032n)).toMatchObject({ batch: 2, bytesAtBatch: 12_960n + 2n * 4032n });
    expect(largestBatch(tiny, 4, 12_960n + 2n * 4032n - 1n)).toMatchObject({ batch: 1 });
    const oneShort = largestBatch(tiny, 4, 12_960n + 4031n);
    expect(oneShort).toEqual({
      batch: 0,
      reason:
        "one sequence of 4 tokens needs 16992 bytes (12960 for the weights' state and 4032 of activations), " +
        'more than the 16991 bytes available',
    });
    expect(largestBatch(tiny, 4, 12_959n)).toEqual({
      batch: 0,
      reason: 'parameters, gradients and AdamW moments alone take 12960 bytes, more than the 12959 bytes available',
    });
  });
});

describe('step FLOPs and run time', () => {
  /** Forward matmul FLOPs of one sequence, by hand: L (2T (4d^2 + 3dF) + 4T^2 d) + 2TdV. */
  const forwardPerSequence = (T: bigint) => {
    const [L, d, F, V] = [48n, 1600n, 6400n, 50257n];
    return L * (2n * T * (4n * d * d + 3n * d * F) + 4n * T * T * d) + 2n * T * d * V;
  };

  it('counts a GPT-2 XL step at batch 1024, context 1024 as 3 x forward + 14 P', () => {
    expect(forwardPerSequence(1024n)).toBe(4_513_336_524_800n);
    const step = trainingStepFlops(xl, { batch: 1024, seq: 1024 });
    expect(step.forward).toBe(1024n * 4_513_336_524_800n);
    expect(step.backward).toBe(2n * 1024n * 4_513_336_524_800n);
    expect(step.total).toBe(3n * 1024n * 4_513_336_524_800n + 29_778_806_400n);
    expect(step.total).toBe(13_864_999_582_992_000n);
  });

  it('takes about 6,584 days for 400K GPT-2 XL steps at 50% MFU of 19.5 TFLOP/s', () => {
    const stepFlops = 3n * 1024n * forwardPerSequence(1024n) + 14n * XL_PARAMETERS;
    const time = runTime({
      stepFlops: trainingStepFlops(xl, { batch: 1024, seq: 1024 }).total,
      steps: 400_000n,
      peakFlopsPerSecond: parsePeakFlops('19.5T', '--peak-flops'),
      mfu: parseMfu('50%', '--mfu'),
    });
    // seconds = 400,000 * stepFlops / (0.5 * 19.5e12) = 400,000 * stepFlops * 4 / (39 * 10^12), cross-multiplied.
    expect(time.seconds.numerator * 39n * 10n ** 12n).toBe(time.seconds.denominator * 400_000n * stepFlops * 4n);
    expect(time.days.numerator * 86_400n * time.seconds.denominator).toBe(
      time.seconds.numerator * time.days.denominator,
    );
    const days = (400e3 * Number(stepFlops)) / (0.5 * 19.5e12) / 86_400;
    expect(Number(time.days.numerator) / Number(time.days.denominator)).toBeCloseTo(days, 6);
    expect(days).toBeGreaterThan(6583);
    expect(days).toBeLessThan(6584);
    expect(time.achievedFlopsPerSecond).toEqual({ numerator: 9_750_000_000_000n, denominator: 1n });
  });
});

describe('rate flags', () => {
  it('reads peak FLOP/s exactly in every spelling', () => {
    const expected = { numerator: 19_500_000_000_000n, denominator: 1n };
    for (const spelling of [
      '19.5T',
      '19.5t',
      '19.5e12',
      '1.95E13',
      '19500000000000',
      '19.5 TFLOP/s',
      '19.5TFLOPS',
      ' 19500G ',
    ]) {
      expect(parsePeakFlops(spelling, '--peak-flops'), spelling).toEqual(expected);
    }
    expect(parsePeakFlops('312T', '--peak-flops')).toEqual({ numerator: 312n * 10n ** 12n, denominator: 1n });
    expect(parsePeakFlops('0.5', '--peak-flops')).toEqual({ numerator: 1n, denominator: 2n });
  });

  it('refuses a bad peak with one line naming the flag, the value and an example', () => {
    expect(() => parsePeakFlops('fast', '--peak-flops')).toThrow(
      '--peak-flops: "fast" is not a FLOP rate; use a number with an optional SI prefix, e.g. --peak-flops 19.5T (= 19.5e12 = 19500000000000 FLOP/s)',
    );
    for (const bad of ['-19.5T', '19.5X', '', '.', '1e999', '19.5TT']) {
      expect(() => parsePeakFlops(bad, '--peak-flops'), bad).toThrow(InputError);
    }
    expect(() => parsePeakFlops('0T', '--peak-flops')).toThrow('--peak-flops: "0T" is zero');
  });

  it('reads MFU as a fraction or a percentage, and refuses what is not in (0, 1]', () => {
    expect(parseMfu('0.5', '--mfu')).toEqual({ numerator: 1n, denominator: 2n });
    expect(parseMfu('50%', '--mfu')).toEqual({ numerator: 1n, denominator: 2n });
    expect(parseMfu('.45', '--mfu')).toEqual({ numerator: 9n, denominator: 20n });
    expect(parseMfu('37.5 %', '--mfu')).toEqual({ numerator: 3n, denominator: 8n });
    expect(parseMfu('1', '--mfu')).toEqual({ numerator: 1n, denominator: 1n });
    expect(() => parseMfu('50', '--mfu')).toThrow(
      '--mfu: "50" is more than 100% of peak; use a fraction in (0, 1] (for a percentage add %: --mfu 50%), e.g. --mfu 0.5 or --mfu 50%',
    );
    expect(() => parseMfu('150%', '--mfu')).toThrow(
      '--mfu: "150%" is more than 100% of peak; use a fraction in (0, 1], e.g.',
    );
    expect(() => parseMfu('0%', '--mfu')).toThrow('--mfu: "0%" is zero');
    expect(() => parseMfu('half', '--mfu')).toThrow(
      '--mfu: "half" is not a fraction or percentage; use e.g. --mfu 0.5 or --mfu 50%',
    );
  });

  it('keeps decimals exact', () => {
    expect(parseExactDecimal('0.1')).toEqual({ numerator: 1n, denominator: 10n });
    expect(parseExactDecimal('2.5e-3')).toEqual({ numerator: 1n, denominator: 400n });
    expect(parseExactDecimal('1e2')).toEqual({ numerator: 100n, denominator: 1n });
    expect(parseExactDecimal('e5')).toBeUndefined();
    expect(parseExactDecimal('1.2.3')).toBeUndefined();
  });
});

describe("the traced step's two exact moments", () => {
  it('the tiny preset at 1 x 16 tokens, by hand', () => {
    // tiny: V 256, d 64, L 2, H 4, F 256, SwiGLU, RMSNorm, RoPE, untied.
    const config = loadModelConfig('tiny');
    const [V, d, L, F] = [256n, 64n, 2n, 256n];
    const P = 2n * V * d + L * (4n * d * d + 3n * d * F + 2n * d) + d;
    expect(P).toBe(164_160n);
    const peaks = tracedStepPeaks(config, { batch: 1, seq: 16 });
    // Weights, m and v in fp32 and the int32 ids and targets.
    expect(peaks.heldBefore).toBe(12n * P + 2n * 4n * 16n);
    // The update: every gradient, the loss, three copies of the largest tensor (a 256 x 64 table).
    expect(optimizerPeak(config).largest).toEqual({ path: 'token_embeddings', name: 'weight', bytes: 4n * V * d });
    expect(peaks.update).toBe(12n * P + 128n + 4n * P + 4n + 3n * 4n * V * d);
    expect(peaks.update).toBe(2_823_300n);
    // The loss's gradient: three [1, 16, 256] fp32 buffers on top of what the step keeps.
    expect(peaks.lossGradientScratch).toBe(3n * 4n * 16n * V);
    expect(peaks.lossGradient).toBe(peaks.heldBefore + peaks.kept + 49_152n);
  });

  it('full checkpointing keeps less, so its loss-gradient moment is lower; the update does not change', () => {
    const config = loadModelConfig('tiny');
    const run = { batch: 2, seq: 32 };
    const none = tracedStepPeaks(config, run, 'none');
    const full = tracedStepPeaks(config, run, 'full');
    expect(full.kept).toBeLessThan(none.kept);
    expect(none.lossGradient - full.lossGradient).toBe(none.kept - full.kept);
    expect(full.update).toBe(none.update);
  });
});
