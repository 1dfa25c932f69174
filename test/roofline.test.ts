import { describe, expect, it } from 'vitest';
import {
  deviceById,
  forwardFlopBreakdown,
  forwardKernelCosts,
  NO_BYTES,
  nonMatmulEstimate,
  predictRoofline,
  rational,
  rooflineDecode,
  rooflineForward,
  rooflinePrefill,
  summarizeParameters,
  type KernelCost,
  type Rational,
} from '../src/analytic/index.js';
import { adamwUpdateFlops, backwardFlopBreakdown } from '../src/analytic/training/index.js';
import { rooflineTrainingStep } from '../src/analytic/training/step_kernels.js';
import { InputError } from '../src/core/errors.js';
import { tinyConfig } from './helpers/small_configs.js';

const h100 = deviceById('h100-sxm');
const IDEAL = { computeEfficiency: rational(1n), memoryEfficiency: rational(1n), launchSeconds: rational(0n) };

function kernel(flops: bigint, activationBytes: bigint, matmul = true, path = 'layers.0.ffn.w1'): KernelCost {
  return {
    path,
    kernel: matmul ? 'MatMul' : 'Add',
    matmul,
    computes: 'test kernel',
    flops,
    read: { ...NO_BYTES, activations: activationBytes },
    written: NO_BYTES,
  };
}

function sumOf(values: readonly Rational[]): Rational {
  return values.reduce((total, value) =>
    rational(
      total.numerator * value.denominator + value.numerator * total.denominator,
      total.denominator * value.denominator,
    ),
  );
}

describe('one kernel on the roofline, worked by hand', () => {
  // 989.4e9 FLOPs is 1 ms at the H100 SXM's 989.4 TFLOP/s; 3.35e9 bytes is 1 ms at its 3.35 TB/s.
  const oneMillisecondEach = kernel(9894n * 10n ** 8n, 335n * 10n ** 7n);

  it('takes the larger of compute and memory time plus the launch cost, at the device defaults', () => {
    const prediction = predictRoofline({ kernels: [oneMillisecondEach], omitted: [] }, h100);
    const [only] = prediction.kernels;
    // compute 1 ms / 0.95, memory 1 ms / 0.90: memory-bound, 1/900 s + 5 us = 2009/1800000 s
    expect(only!.computeSeconds).toEqual(rational(1n, 950n));
    expect(only!.memorySeconds).toEqual(rational(1n, 900n));
    expect(only!.seconds).toEqual(rational(2009n, 1_800_000n));
    expect(only!.bound).toBe('memory');
    // MFU = 1 ms of peak work / (2009/1800000 s) = 1800/2009
    expect(only!.mfu).toEqual(rational(1800n, 2009n));
    expect(prediction.totals.seconds).toEqual(rational(2009n, 1_800_000n));
  });

  it('is compute-bound when the compute term is larger, launch-bound when the launch cost is', () => {
    const doubleWork = kernel(2n * 9894n * 10n ** 8n, 335n * 10n ** 7n);
    expect(predictRoofline({ kernels: [doubleWork], omitted: [] }, h100, IDEAL).kernels[0]).toMatchObject({
      seconds: rational(1n, 500n),
      bound: 'compute',
      mfu: rational(1n),
    });
    const tiny = kernel(1000n, 1000n);
    expect(predictRoofline({ kernels: [tiny], omitted: [] }, h100).kernels[0]!.bound).toBe('launch');
  });

  it('runs non-matmul kernels at the fp32 (vector) peak, 66.9 TFLOP/s on the H100 SXM', () => {
    const elementwise = kernel(669n * 10n ** 8n, 0n, false);
    const [only] = predictRoofline({ kernels: [elementwise], omitted: [] }, h100, IDEAL).kernels;
    expect(only!.seconds).toEqual(rational(1n, 1000n));
    expect(only!.mfu).toEqual(rational(669n, 9894n));
  });

  it('takes given figures in place of the defaults and says so', () => {
    const prediction = predictRoofline({ kernels: [oneMillisecondEach], omitted: [] }, h100, {
      computeEfficiency: rational(1n, 2n),
      launchSeconds: rational(0n),
    });
    expect(prediction.kernels[0]).toMatchObject({ seconds: rational(1n, 500n), bound: 'compute' });
    expect(prediction.assumptions).toMatchObject({
      matmulPeakFrom: 'device table',
      memoryEfficiency: rational(9n, 10n),
    });
  });
});

describe('refusals', () => {
  it('refuses an MFU above 100% rather than report it', () => {
    // A vector peak given 10x the matmul peak lets an elementwise kernel "beat" the matmul peak.
    const elementwise = kernel(10n ** 12n, 0n, false, 'layers.0.ffn.gelu');
    const run = () =>
      predictRoofline({ kernels: [elementwise], omitted: [] }, h100, {
        ...IDEAL,
        vectorFlopsPerSecond: 10n * 9894n * 10n ** 11n,
      });
    expect(run).toThrow(InputError);
    expect(run).toThrow(
      /layers\.0\.ffn\.gelu \(Add: test kernel\) would run at 1000\.0% of the bf16 peak \(MFU above 100%\)/,
    );
  });

  it('accepts exactly 100%', () => {
    const atPeak = kernel(9894n * 10n ** 8n, 0n);
    expect(predictRoofline({ kernels: [atPeak], omitted: [] }, h100, IDEAL).totals.mfu).toEqual(rational(1n));
  });

  it('refuses an efficiency outside (0, 1] and a negative launch cost', () => {
    const list = { kernels: [kernel(1n, 1n)], omitted: [] };
    expect(() => predictRoofline(list, h100, { computeEfficiency: rational(6n, 5n) })).toThrow(
      /compute efficiency 6\/5 is not in \(0, 1\]/,
    );
    expect(() => predictRoofline(list, h100, { memoryEfficiency: rational(0n) })).toThrow(InputError);
    expect(() => predictRoofline(list, h100, { launchSeconds: rational(-1n, 10n) })).toThrow(InputError);
  });

  it('refuses a dtype the table has no sourced peak for, unless the peak is given', () => {
    const list = { kernels: [kernel(10n ** 9n, 10n ** 6n)], omitted: [] };
    expect(() => predictRoofline(list, deviceById('m3-max'), {})).toThrow(
      /--device m3-max: no sourced dense bf16 peak in the device table; the table holds no peak for it/,
    );
    expect(() => predictRoofline(list, deviceById('rtx-5090'), { dtype: 'bf16' })).toThrow(/use --dtype fp32/);
    expect(() => predictRoofline(list, deviceById('a100-40gb-sxm'), { dtype: 'fp8' })).toThrow(
      /use --dtype fp32\|tf32\|bf16\|fp16\|int8/,
    );
    const given = predictRoofline(list, deviceById('m3-max'), { peakFlopsPerSecond: 10n ** 13n });
    expect(given.assumptions).toMatchObject({
      matmulPeak: 10n ** 13n,
      matmulPeakFrom: 'given',
      vectorPeak: 10n ** 13n,
    });
  });
});

describe('a whole pass', () => {
  const config = tinyConfig('tiny', 'test:roofline');
  const run = { batch: 2, seq: 8 };

  it('adds the kernels up: totals, module shares, tokens per second', () => {
    const prediction = rooflineForward(config, run, h100);
    expect(prediction.totals.seconds).toEqual(sumOf(prediction.kernels.map((entry) => entry.seconds)));
    expect(sumOf(prediction.modules.map((module) => module.share))).toEqual(rational(1n));
    expect(prediction.totals.kernels).toBe(prediction.kernels.length);
    expect(prediction.totals.flops).toBe(
      forwardFlopBreakdown(config, run).total + nonMatmulEstimate(config, run).total,
    );
    const { seconds } = prediction.totals;
    expect(prediction.tokensPerSecond).toEqual(rational(16n * seconds.denominator, seconds.numerator));
    // A model this small is all launch cost: every kernel moves less than 5 us worth of bytes.
    expect(prediction.modules.every((module) => module.bound === 'launch')).toBe(true);
    expect(prediction.omitted).toEqual([]);
  });

  it('rolls modules up to a depth', () => {
    const prediction = rooflineForward(config, run, h100, { depth: 1 });
    expect(prediction.modules.map((module) => module.module).sort()).toEqual([
      'layers',
      'lm_head',
      'ln_final',
      'token_embeddings',
    ]);
  });

  it('predicts a training step from the forward pass, the backward matmuls and AdamW', () => {
    const prediction = rooflineTrainingStep(config, run, h100);
    const parameters = summarizeParameters(config).total;
    expect(prediction.totals.flops).toBe(
      forwardFlopBreakdown(config, run).total +
        nonMatmulEstimate(config, run).total +
        backwardFlopBreakdown(config, run).total +
        adamwUpdateFlops(parameters).total,
    );
    expect(prediction.modules.some((module) => module.module === 'optimizer')).toBe(true);
    expect(prediction.omitted.length).toBeGreaterThan(0);
  });

  it('takes any kernel list for prefill and decode, counting the tokens the caller names', () => {
    const list = forwardKernelCosts(config, run, 'bf16');
    const prefill = rooflinePrefill(list, h100, 16n);
    const decode = rooflineDecode(list, h100, 2n);
    expect(prefill.totals.seconds).toEqual(decode.totals.seconds);
    expect(decode.tokensPerSecond).toEqual(
      rational(2n * decode.totals.seconds.denominator, decode.totals.seconds.numerator),
    );
    expect(() => rooflineDecode(list, h100, 0n)).toThrow(InputError);
  });
});
