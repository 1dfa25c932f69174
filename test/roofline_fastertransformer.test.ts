/**
 * The roofline against a published measurement: a 13B GPT run with NVIDIA FasterTransformer on
 * one A100 40 GB, 512 prompt tokens, batch 1, 10 generated tokens, fp16.
 *
 * Source of the measured times: Carol Chen (kipply), "Transformer Inference Arithmetic", 2022,
 * section "comparing against real benchmarks" (https://kipp.ly/blog/transformer-inference-arithmetic/).
 * She ran the model with FasterTransformer (40 layers, 40 heads of 128, d_model 5120) and reports
 * the benchmark's output "283.60 ms (context time: 63.17 ms)" and "Our empirical result for 1 GPU is
 * 22.0ms" per generated token ((283.60 - 63.17) / 10 = 22.04). The figures are not in
 * FasterTransformer's own docs/gpt_guide.md, whose tables cover other model sizes. The vocabulary
 * (50,272) and the 4d MLP are those of llm-analysis's test-13b config, which reproduces the same
 * benchmark (cli99/llm-analysis, examples/fastertransformer/README.md).
 *
 * The prediction uses the device table's default efficiencies, not values fitted to this run.
 */
import { describe, expect, it } from 'vitest';
import {
  deviceById,
  forwardKernelCosts,
  rational,
  rationalToNumber,
  ROOFLINE_DEFAULTS,
  rooflineDecode,
  rooflinePrefill,
  summarizeParameters,
  type Rational,
} from '../src/analytic/index.js';
import { decodeGenerationKernelCosts, prefillKernelCosts } from '../src/analytic/inference/index.js';
import type { ModelConfig } from '../src/config/model_config.js';

/** GPT-style: LayerNorm, learned positions, biases, GELU MLP, output layer tied to the embeddings (Megatron GPT). */
const gpt13b: ModelConfig = {
  name: 'gpt-13b-fastertransformer',
  source: 'test:fastertransformer',
  vocab_size: 50_272,
  context_length: 2048,
  num_layers: 40,
  d_model: 5120,
  num_heads: 40,
  d_ff: 4 * 5120,
  ffn: 'gelu',
  norm: 'layernorm',
  positions: 'learned',
  bias: true,
  tie_embeddings: true,
};
const a100 = deviceById('a100-40gb-sxm');
const MEASURED_PREFILL = rational(6317n, 100_000n); // 63.17 ms
const MEASURED_DECODE = rational(22n, 1000n); // 22.0 ms per token

/** predicted / measured - 1, exact. */
function relativeError(predicted: Rational, measured: Rational): Rational {
  return rational(
    predicted.numerator * measured.denominator - measured.numerator * predicted.denominator,
    predicted.denominator * measured.numerator,
  );
}

function percentRounded(value: Rational): number {
  return Math.round(rationalToNumber(value) * 1000) / 10;
}

describe('FasterTransformer 13B on one A100 40 GB', () => {
  const list = forwardKernelCosts(gpt13b, { batch: 1, seq: 512 }, 'fp16');
  const prefill = rooflinePrefill(list, a100, 512n, { dtype: 'fp16' });

  it('counts the prefill matmuls as the closed form 40 (24 T d^2 + 4 T^2 d) + 2 T d V does', () => {
    const [T, d, L, V] = [512n, 5120n, 40n, 50_272n];
    // per layer: q, k, v, o (4 x 2 T d^2), w1 and w2 (2 x 2 T d 4d), scores and weighted sum (2 x 2 T^2 d)
    const perLayer = 8n * T * d * d + 16n * T * d * d + 4n * T * T * d;
    expect(prefill.totals.matmulFlops).toBe(L * perLayer + 2n * T * d * V);
    expect(prefill.totals.matmulFlops).toBe(13_363_220_316_160n);
  });

  it('predicts the prefill at 77.61 ms, 22.9% above the measured 63.17 ms', () => {
    expect(prefill.assumptions).toMatchObject({
      computeEfficiency: ROOFLINE_DEFAULTS.computeEfficiency,
      memoryEfficiency: ROOFLINE_DEFAULTS.memoryEfficiency,
      launchSeconds: ROOFLINE_DEFAULTS.launchSeconds,
      matmulPeak: 312n * 10n ** 12n,
      bandwidth: 1555n * 10n ** 9n,
    });
    expect(prefill.totals.kernels).toBe(1933);
    expect(prefill.totals.seconds).toEqual(rational(67_072_161_827_869n, 864_191_250_000_000n));
    expect(rationalToNumber(prefill.totals.seconds) * 1000).toBeCloseTo(77.613, 3);
    const error = relativeError(prefill.totals.seconds, MEASURED_PREFILL);
    expect(error).toEqual(rational(12_481_200_565_369n, 54_590_961_262_500n));
    expect(percentRounded(error)).toBe(22.9);
  });

  it('puts 47.76 ms of it in the matmuls, 24.4% below the measurement, and the rest in unfused elementwise kernels', () => {
    const matmuls = rooflinePrefill(
      { kernels: list.kernels.filter((kernel) => kernel.matmul), omitted: [] },
      a100,
      512n,
      { dtype: 'fp16' },
    );
    expect(matmuls.totals.seconds).toEqual(rational(6_879_505_020_239n, 144_031_875_000_000n));
    expect(percentRounded(relativeError(matmuls.totals.seconds, MEASURED_PREFILL))).toBe(-24.4);
  });

  it('predicts a decoded token at 18.67 ms from the bytes it must read, 15.1% below the measured 22.0 ms', () => {
    // Each of the 10 steps reads every fp16 weight once and the K and V cache of 512 + j positions
    // (j = 0..9): 2 x L x d x (512 + j) values of 2 bytes, at the table's bandwidth and default
    // memory efficiency: the floor a decode step cannot beat, set beside the full prediction below.
    const parameters = summarizeParameters(gpt13b).total;
    expect(parameters).toBe(12_853_463_040n);
    let bytes = 0n;
    for (let j = 0n; j < 10n; j += 1n) bytes += 2n * parameters + 2n * 40n * 5120n * (512n + j) * 2n;
    const efficiency = a100.defaults.memoryEfficiency;
    const perToken = rational(bytes * efficiency.denominator, 10n * a100.bandwidth.value * efficiency.numerator);
    expect(perToken).toEqual(rational(20_414_096n, 1_093_359_375n));
    expect(rationalToNumber(perToken) * 1000).toBeCloseTo(18.671, 3);
    expect(percentRounded(relativeError(perToken, MEASURED_DECODE))).toBe(-15.1);
  });

  it('predicts the prefill with its cache writes (what `roofline --mode prefill` runs) at 78.41 ms, +24.1%', () => {
    const withCache = rooflinePrefill(prefillKernelCosts(gpt13b, 1, 512, 'fp16'), a100, 512n, { dtype: 'fp16' });
    // 40 more kernels, each writing k and v [1, 40, 512, 128] at 2 bytes: 40 x 2 x 512 x 5120 x 2 bytes
    expect(withCache.totals.kernels).toBe(1933 + 40);
    expect(withCache.totals.written.kvCache).toBe(40n * 2n * 512n * 5120n * 2n);
    expect(withCache.totals.seconds).toEqual(rational(22_587_665_540_623n, 288_063_750_000_000n));
    expect(percentRounded(relativeError(withCache.totals.seconds, MEASURED_PREFILL))).toBe(24.1);
  });

  it('predicts a decoded token from the decode inventory at 27.77 ms, +26.2%, 8.21 ms of it launches', () => {
    const generation = decodeGenerationKernelCosts(gpt13b, { batch: 1, prompt: 512, generate: 10 }, 'fp16');
    const decode = rooflineDecode(generation, a100, 1n, { dtype: 'fp16' });
    // Per step it reads every weight once, except the position table and the embedding table's
    // gather, which read one row each (the tied table is read whole by lm_head), and the cache of
    // 513 to 522 keys.
    const [d, ctx] = [5120n, 2048n];
    const parameters = summarizeParameters(gpt13b).total;
    const weightsPerStep = 2n * (parameters - ctx * d) + 2n * d * 2n;
    expect(decode.totals.read.weights).toBe(10n * weightsPerStep);
    expect(decode.totals.read.kvCache).toBe(2n * 40n * d * 2n * (513n + 522n) * 5n);
    const perToken = rational(decode.totals.seconds.numerator, decode.totals.seconds.denominator * 10n);
    expect(perToken).toEqual(rational(19_432_791_833n, 699_750_000_000n));
    expect(percentRounded(relativeError(perToken, MEASURED_DECODE))).toBe(26.2);
    const launch = decode.totals.secondsByBound.launch;
    expect(rationalToNumber(launch) * 100).toBeCloseTo(8.211, 3);
    expect(decode.totals.secondsByBound.compute).toEqual(rational(0n));
  });
});
