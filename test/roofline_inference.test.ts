/**
 * The roofline's prefill and decode kernel lists (src/analytic/inference/kernel_costs.ts): the
 * KV cache bytes by closed form, a generation against its steps one by one, the runs of a kernel
 * against the kernel listed again.
 */
import { describe, expect, it } from 'vitest';
import {
  deviceById,
  forwardKernelCosts,
  predictRoofline,
  rational,
  type KernelCost,
  type Rational,
} from '../src/analytic/index.js';
import {
  decodeGenerationKernelCosts,
  decodeStepKernelCosts,
  prefillKernelCosts,
} from '../src/analytic/inference/index.js';
import { InputError } from '../src/core/errors.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

const h100 = deviceById('h100-sxm');

function sumOf(values: readonly Rational[]): Rational {
  return values.reduce((total, value) =>
    rational(
      total.numerator * value.denominator + value.numerator * total.denominator,
      total.denominator * value.denominator,
    ),
  );
}

const cacheRead = (kernels: readonly KernelCost[]) => kernels.reduce((total, k) => total + k.read.kvCache, 0n);
const cacheWritten = (kernels: readonly KernelCost[]) => kernels.reduce((total, k) => total + k.written.kvCache, 0n);

describe('decode step kernels', () => {
  // every-variant: L 2, H 6, Hkv 2, dk 2 (kv_dim 4), context 8
  const config = everyVariantConfig('test:roofline-inference');

  it('reads the cache of every attended key once per KV head and appends one position', () => {
    const { kernels } = decodeStepKernelCosts(config, { batch: 3, cached: 5, newTokens: 1 }, 'bf16');
    // k and v, each [B, Hkv, P + 1, dk] at 2 bytes, in each of L layers: 2 x 2 x 3 x 2 x 6 x 2 x 2
    expect(cacheRead(kernels)).toBe(2n * 2n * 3n * 2n * 6n * 2n * 2n);
    // k and v of the new position, [B, Hkv, 1, dk] each, per layer: 2 x 2 x 3 x 4 x 2
    expect(cacheWritten(kernels)).toBe(2n * 2n * 3n * 4n * 2n);
    // no mask at one new token; one softmax per layer over P + 1 = 6 keys
    expect(kernels.filter((k) => k.kernel === 'Greater' || k.kernel === 'Select')).toEqual([]);
    const softmax = kernels.filter((k) => k.kernel === 'Softmax');
    expect(softmax.map((k) => k.read.activations)).toEqual([3n * 6n * 6n * 2n, 3n * 6n * 6n * 2n]);
  });

  it('refuses steps of more than one new token', () => {
    expect(() => decodeStepKernelCosts(config, { batch: 1, cached: 2, newTokens: 2 }, 'bf16')).toThrow(InputError);
  });
});

describe('a generation', () => {
  const config = tinyConfig('tiny', 'test:roofline-inference');
  const request = { batch: 2, prompt: 3, generate: 4 };

  it('predicts the sum of its steps predicted one by one', () => {
    const whole = predictRoofline(decodeGenerationKernelCosts(config, request, 'fp16'), h100, { dtype: 'fp16' });
    const steps = [3, 4, 5, 6].map((cached) =>
      predictRoofline(decodeStepKernelCosts(config, { batch: 2, cached, newTokens: 1 }, 'fp16'), h100, {
        dtype: 'fp16',
      }),
    );
    expect(whole.totals.seconds).toEqual(sumOf(steps.map((step) => step.totals.seconds)));
    expect(whole.totals.flops).toBe(steps.reduce((total, step) => total + step.totals.flops, 0n));
    expect(whole.totals.kernels).toBe(steps.reduce((total, step) => total + step.totals.kernels, 0));
    expect(whole.totals.read).toEqual({
      weights: steps.reduce((total, step) => total + step.totals.read.weights, 0n),
      activations: steps.reduce((total, step) => total + step.totals.read.activations, 0n),
      kvCache: steps.reduce((total, step) => total + step.totals.read.kvCache, 0n),
    });
    // the cache holds P + G - 1 positions at the last step's start: sum of keys 4 + 5 + 6 + 7 = 22,
    // k and v [B, H, keys, dk] at 2 bytes, 2 layers: 2 x 2 x 2 x 22 x 8 x 2
    expect(whole.totals.read.kvCache).toBe(2n * 2n * 2n * 22n * 8n * 2n);
  });

  it('leaves the kernels out on request without changing a total', () => {
    const list = decodeGenerationKernelCosts(config, request, 'fp16');
    const full = predictRoofline(list, h100, { dtype: 'fp16' });
    const lean = predictRoofline(list, h100, { dtype: 'fp16', kernels: false });
    expect(lean.kernels).toEqual([]);
    expect(lean.totals).toEqual(full.totals);
    expect(lean.modules).toEqual(full.modules);
  });

  it('refuses a generation past the context', () => {
    expect(() => decodeGenerationKernelCosts(config, { batch: 1, prompt: 6, generate: 3 }, 'fp16')).toThrow(
      /need 9 positions, past context_length \(8\)/,
    );
  });
});

describe('prefill kernels', () => {
  it('are the forward pass and a cache write of the prompt per layer', () => {
    const config = everyVariantConfig('test:roofline-inference');
    const prefill = prefillKernelCosts(config, 2, 5, 'fp32');
    const forward = forwardKernelCosts(config, { batch: 2, seq: 5 }, 'fp32');
    expect(prefill.kernels.slice(0, forward.kernels.length)).toEqual(forward.kernels);
    const writes = prefill.kernels.slice(forward.kernels.length);
    expect(writes.map((k) => k.path)).toEqual(['layers.0.attn.kv_cache', 'layers.1.attn.kv_cache']);
    // k and v, [B, Hkv, P, dk] each at 4 bytes, in 2 layers: 2 x 2 x B 2 x P 5 x (Hkv dk = 4) x 4
    expect(cacheWritten(writes)).toBe(2n * 2n * 2n * 5n * 4n * 4n);
    expect(cacheRead(prefill.kernels)).toBe(0n);
  });
});
