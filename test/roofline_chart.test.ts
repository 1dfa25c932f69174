/**
 * The report's roofline chart: one point per module kind of a tiny model, every value worked by
 * hand, each point at or under the device's roof for random configs, and the chart drawn.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attainableFlopsPerSecond,
  deviceById,
  rational,
  rooflineForward,
  type RooflineOptions,
} from '../src/analytic/index.js';
import { moduleKindOf } from '../src/core/module_paths.js';
import { renderChartSvg } from '../src/render/chart_svg.js';
import { CHART_MARKS, rooflinePoints, rooflineSpec } from '../src/views/charts.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { tinyConfig } from './helpers/small_configs.js';

const h100 = deviceById('h100-sxm');
/** 494.7 TFLOP/s tf32 (matmuls), 66.9 TFLOP/s fp32 (other kernels), 3.35 TB/s: the table's H100 SXM. */
const [PEAK, VECTOR, BANDWIDTH] = [4947n * 10n ** 11n, 669n * 10n ** 11n, 335n * 10n ** 10n];
const IDEAL: RooflineOptions = {
  computeEfficiency: rational(1n),
  memoryEfficiency: rational(1n),
  launchSeconds: rational(0n),
};

/**
 * The tiny model (V 11, d 8, H 2 of 4, F 12, L 2; RMSNorm, RoPE, SwiGLU) over B 1 x T 4 in tf32
 * (4 bytes an element, matmuls at the tf32 peak), summed over its 2 layers: [module, FLOPs, of them matmul FLOPs, bytes].
 * A matmul [m, k] @ [k, n] does 2mkn FLOPs and moves 4(mk + kn + mn) bytes; x is [4, 8].
 */
const BY_HAND: readonly (readonly [string, bigint, bigint, bigint])[] = [
  // x @ Wq: 2 * 4*8*8 = 512 FLOPs; 4 * (32 + 64 + 32) = 512 bytes; twice
  ['layers.*.attn.q_proj', 1024n, 1024n, 1024n],
  ['layers.*.attn.k_proj', 1024n, 1024n, 1024n],
  ['layers.*.attn.v_proj', 1024n, 1024n, 1024n],
  // q @ k^T per head, [2, 4, 4] @ [2, 4, 4]: 2 * 2*4*4*4 = 256 FLOPs, 4 * 3 * 32 = 384 bytes; then
  // the scale (32 FLOPs; reads the scores and a scalar: 132 + 128 bytes), the causal mask's
  // Sub (16 offsets of int32 positions [1, 4] and [4, 1]: 32 + 64 int32 bytes), Greater (16
  // comparisons of the offsets with a scalar 0: 64 + 4 + 16 bool bytes), Select (16; 16 bool +
  // 2 x 64 read, 64 written) and Add (32; 128 + 64 read, 128 written): 368 FLOPs and 1,352
  // bytes a layer
  ['layers.*.attn.scores', 736n, 512n, 2704n],
  // P @ v: as q @ k^T
  ['layers.*.attn.weighted_sum', 512n, 512n, 768n],
  ['layers.*.attn.output_proj', 1024n, 1024n, 1024n],
  // x @ W1 [8, 12]: 2 * 4*8*12 = 768 FLOPs; 4 * (32 + 96 + 48) = 704 bytes
  ['layers.*.ffn.w1', 1536n, 1536n, 1408n],
  ['layers.*.ffn.w3', 1536n, 1536n, 1408n],
  // h [4, 12] @ W2 [12, 8]: the same counts
  ['layers.*.ffn.w2', 1536n, 1536n, 1408n],
  // x @ Wlm [8, 11], once: 2 * 4*8*11 = 704 FLOPs; 4 * (32 + 88 + 44) = 656 bytes
  ['lm_head', 704n, 704n, 656n],
  // RMSNorm over 32 elements of 128 bytes: x^2 (32 FLOPs, 128 + 128 bytes), mean over d (28 adds
  // and 4 divides; 128 + 16), + eps (4; 16 + 4 + 16), rsqrt (4; 16 + 16), x * rsqrt (32;
  // 128 + 16 + 128), * gain (32; 128 + 32 + 128): 136 FLOPs and 1,028 bytes a layer
  ['layers.*.ln1', 272n, 0n, 2056n],
  // q and k [1, 2, 4, 4] each: swap pairs (0 FLOPs; 128 + 128), x cos and swap(x) sin (32 each;
  // 128 + 64 table + 128), their sum (32; 256 + 128): 96 FLOPs and 1,280 bytes each
  ['layers.*.attn.rope', 384n, 0n, 5120n],
  // 8 rows of 4: 5 * 4 - 2 = 18 FLOPs a row, 144; 128 + 128 bytes
  ['layers.*.attn.softmax', 288n, 0n, 512n],
  // two residual adds a layer: 32 FLOPs, 128 + 128 read, 128 written
  ['layers.* (residual adds)', 128n, 0n, 1536n],
  ['layers.*.ln2', 272n, 0n, 2056n],
  // sigmoid of [4, 12] (48; 192 + 192) and the product (48; 384 + 192)
  ['layers.*.ffn.silu', 192n, 0n, 1920n],
  ['layers.*.ffn.gate', 96n, 0n, 1152n],
  ['ln_final', 136n, 0n, 1028n],
];

const config = tinyConfig('tiny', 'test/roofline_chart.test.ts');
const run = { batch: 1, seq: 4 };

function tinyPoints(options: RooflineOptions) {
  const prediction = rooflineForward(config, run, h100, { dtype: 'tf32', group: moduleKindOf, ...options });
  return rooflinePoints('forward pass', prediction);
}

describe('the roofline chart of the tiny model, by hand', () => {
  it('carries one point per module kind with its FLOPs, bytes and intensity; the gather is not drawn', () => {
    const { points, notDrawn } = tinyPoints(IDEAL);
    expect(points.map((point) => [point.module, point.flops, point.bytes])).toEqual(
      BY_HAND.map(([module, flops, , bytes]) => [module, flops, bytes]),
    );
    expect(points.map((point) => point.intensity)).toEqual(BY_HAND.map(([, flops, , bytes]) => rational(flops, bytes)));
    // E[ids] does no arithmetic: intensity 0 has no place on a log axis
    expect(notDrawn).toEqual(['token_embeddings']);
    expect(new Set(points.map((point) => point.series))).toEqual(new Set(['forward pass']));
  });

  it('puts every module on the bandwidth slope, intensity x 3.35 TB/s, at 100% efficiency and no launch cost', () => {
    // Every kernel's intensity is far under the ridge points (19.97 FLOP/B for fp32 vector work,
    // 147.7 for tf32 matmuls), so every kernel, and every module, is memory-bound.
    for (const [index, point] of tinyPoints(IDEAL).points.entries()) {
      const [module, flops, , bytes] = BY_HAND[index]!;
      const onSlope = rational(flops * BANDWIDTH, bytes);
      expect([module, point.bound, point.predicted, point.attainable]).toEqual([module, 'memory', onSlope, onSlope]);
    }
  });

  it('puts them under the compute ceilings when the bandwidth is boundless: matmuls at 494.7, others at 66.9 TFLOP/s', () => {
    const boundless = 10n ** 21n;
    const points = tinyPoints({ ...IDEAL, bandwidthBytesPerSecond: boundless }).points;
    for (const [index, point] of points.entries()) {
      const [module, flops, matmulFlops] = BY_HAND[index]!;
      // the least compute time: matmul FLOPs at the matmul peak, the rest at the vector peak
      const seconds = rational(matmulFlops * VECTOR + (flops - matmulFlops) * PEAK, PEAK * VECTOR);
      const roof = rational(flops * seconds.denominator, seconds.numerator);
      // RoPE's four pair swaps do no arithmetic: their 4 x 256 bytes take memory time however
      // fast the memory, so its point sits just under its roof.
      const swaps = module === 'layers.*.attn.rope' ? rational(1024n, boundless) : rational(0n);
      const predicted = rational(
        flops * seconds.denominator * swaps.denominator,
        seconds.numerator * swaps.denominator + swaps.numerator * seconds.denominator,
      );
      expect([module, point.bound, point.attainable, point.predicted]).toEqual([module, 'compute', roof, predicted]);
    }
    const scores = points.find((point) => point.module === 'layers.*.attn.scores')!;
    // 512 matmul FLOPs and 224 others: 736 / (512 / 494.7T + 224 / 66.9T) = 167.9 TFLOP/s
    expect(scores.attainable).toEqual(rational(736n * PEAK * VECTOR, 512n * VECTOR + 224n * PEAK));
    expect(Number(scores.attainable.numerator / scores.attainable.denominator)).toBe(167_911_872_146_118);
  });

  it("puts a module below its roof by the device's default efficiencies and launch cost", () => {
    const qProj = tinyPoints({}).points[0]!;
    // Two kernels of 512 FLOPs and 512 bytes: each 512 / (3.35T x 0.9) s of memory time (its
    // compute time, 512 / (494.7T x 0.95), is shorter) plus 5 us of launch.
    const seconds = rational(512n * 10n, 335n * 10n ** 10n * 9n);
    const total = rational(2n * (seconds.numerator * 200_000n + seconds.denominator), seconds.denominator * 200_000n);
    expect(qProj.module).toBe('layers.*.attn.q_proj');
    expect(qProj.bound).toBe('launch');
    expect(qProj.predicted).toEqual(rational(1024n * total.denominator, total.numerator));
    // 1,024 FLOPs in 2 x (0.1698 ns + 5 us) = 10.00034 us: 102.4 MFLOP/s, under the roof of 3.35 TFLOP/s
    expect(Math.round(Number(qProj.predicted.numerator) / Number(qProj.predicted.denominator))).toBe(102_396_522);
    expect(qProj.attainable).toEqual(rational(BANDWIDTH));
  });
});

describe('every point of a random config at or under its roof', () => {
  const denseRun = arbitraryDenseRun({
    source: 'test/roofline_chart.test.ts',
    batchMax: 3,
    seqMax: 8,
    spareContextMax: 2,
    seedMax: 1,
  });

  it('predicted <= attainable <= min(matmul peak, intensity x bandwidth), and every module placed or named', () => {
    fc.assert(
      fc.property(denseRun, fc.constantFrom('h100-sxm', 'a100-40gb-sxm', 'l4', 'tpu-v5e'), ({ config, run }, id) => {
        const prediction = rooflineForward(config, run, deviceById(id), { group: moduleKindOf });
        const { points, notDrawn } = rooflinePoints('forward pass', prediction);
        expect(points.length + notDrawn.length).toBe(prediction.modules.length);
        const { matmulPeak, bandwidth } = prediction.assumptions;
        for (const point of points) {
          const { predicted, attainable, intensity } = point;
          expect(predicted.numerator * attainable.denominator).toBeLessThanOrEqual(
            attainable.numerator * predicted.denominator,
          );
          expect(attainable.numerator).toBeLessThanOrEqual(matmulPeak * attainable.denominator);
          expect(attainable.numerator * intensity.denominator).toBeLessThanOrEqual(
            bandwidth * intensity.numerator * attainable.denominator,
          );
        }
      }),
      { numRuns: 60, seed: 18_2026 },
    );
  });

  it('has no roof for work without FLOPs', () => {
    const assumptions = { matmulPeak: PEAK, vectorPeak: VECTOR, bandwidth: BANDWIDTH };
    expect(attainableFlopsPerSecond({ flops: 0n, matmulFlops: 0n, bytes: 100n }, assumptions)).toBeUndefined();
  });
});

/** The items Vega draws for a layer named `layerName` (its group's class ends in `${layerName}_marks`). */
function markItems(svg: string, layerName: string): string[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-\\w+ role-mark ${layerName}_marks"[^>]*>(.*?)</g>`, 'g'))];
  return groups.flatMap((match) =>
    [...match[1]!.matchAll(/<path [^>]*role="graphics-symbol"[^>]*>/g)].map((m) => m[0]),
  );
}

describe('the chart drawn', () => {
  it("draws the device's two roofs and one point per module, each labelled with its data", async () => {
    const prediction = rooflineForward(config, run, h100, { group: moduleKindOf });
    const { points } = rooflinePoints('forward pass', prediction);
    const svg = await renderChartSvg(rooflineSpec(points, prediction.assumptions, 'Roofline of tiny on h100-sxm'));
    const roofs = markItems(svg, CHART_MARKS.roofline.roofs);
    expect(roofs.map((roof) => /aria-label="([^"]*)"/.exec(roof)?.[1])).toEqual([
      'bf16 matmul peak',
      'vector peak (other kernels)',
    ]);
    const drawn = markItems(svg, CHART_MARKS.roofline.points).map((item) => /aria-label="([^"]*)"/.exec(item)?.[1]);
    expect(drawn).toHaveLength(BY_HAND.length);
    // bf16 halves the bytes of the fp32 figures above: q_proj moves 1,024 FLOPs over 512 bytes
    expect(drawn).toContain('forward pass | layers.*.attn.q_proj | 2.000 FLOP/B | 0.1024 GFLOP/s');
    expect(drawn.map((label) => label!.split(' | ')[1])).toEqual(BY_HAND.map(([module]) => module));
  });
});
