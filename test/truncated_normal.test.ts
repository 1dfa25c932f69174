import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import type { ModelConfig } from '../src/config/model_config.js';
import { disposeWeights, initWeights, type TruncatedNormalFiller } from '../src/model/index.js';
import { backendHeapIsShared, hostConstantFilled, hostConstantInSharedHeap } from '../src/model/host_constant.js';
import { Sfc32, streamFor } from '../src/model/seeded_random.js';
import { fillTruncatedNormal } from '../src/model/truncated_normal.js';
import { useBackend } from '../src/runtime/backend.js';

/** Standard normal CDF at 1, 2 and 3 (Abramowitz and Stegun, Table 26.1). */
const PHI_CDF = { 1: 0.8413447460685429, 2: 0.9772498680518208, 3: 0.9986501019683699 } as const;
const normalDensity = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/**
 * N(0, 1) truncated to [-a, a]: mean 0 by symmetry, variance 1 - 2 a phi(a) / (2 Phi(a) - 1),
 * and P(|X| > 1) = (2 Phi(a) - 2 Phi(1)) / (2 Phi(a) - 1).
 */
function truncatedMoments(a: 2 | 3) {
  const mass = 2 * PHI_CDF[a] - 1;
  return {
    variance: 1 - (2 * a * normalDensity(a)) / mass,
    beyondOne: (2 * PHI_CDF[a] - 2 * PHI_CDF[1]) / mass,
  };
}

function draws(count: number, std: number, limit: number, rng: Sfc32): Float32Array {
  const values = new Float32Array(count);
  fillTruncatedNormal(values, std, limit, rng);
  return values;
}

/**
 * The same sampler written plainly, one Sfc32.nextInt32 call per word: the 128-layer ziggurat
 * of Marsaglia and Tsang (2000) with r = 3.442619855899 and v = 9.91256303526217e-3, layer from
 * the low 7 bits and value from the high 25, then rejection outside [-limit, limit].
 */
function plainZiggurat(count: number, std: number, limit: number, rng: Sfc32): Float32Array {
  const r = 3.442619855899;
  const v = 9.91256303526217e-3;
  const f = (x: number) => Math.exp(-0.5 * x * x);
  const x: number[] = [v / f(r), r];
  for (let i = 2; i < 128; i++) x.push(Math.sqrt(-2 * Math.log(v / x[i - 1]! + f(x[i - 1]!))));
  x.push(0);
  const out = new Float32Array(count);
  for (let filled = 0; filled < count;) {
    const word = rng.nextInt32();
    const layer = word & 127;
    const u = ((word >> 7) + 0.5) / 2 ** 24;
    const value = u * x[layer]!;
    if (Math.abs(u) >= x[layer + 1]! / x[layer]!) {
      if (layer === 0) continue;
      const top = Math.exp(-0.5 * (x[layer]! ** 2 - value * value));
      const bottom = Math.exp(-0.5 * (x[layer + 1]! ** 2 - value * value));
      if (bottom + rng.nextUnit() * (top - bottom) >= 1) continue;
    }
    if (Math.abs(value) > limit) continue;
    out[filled++] = value * std;
  }
  return out;
}

describe('fillTruncatedNormal', () => {
  it('draws exactly what the plain ziggurat draws from the same stream, and leaves the stream where it does', () => {
    for (const [seed, name, limit] of [
      [0, 'layers.0.ffn.w1', 3],
      [2 ** 40 + 7, 'token_embeddings', 2],
      [11, 'x', 0.5],
    ] as const) {
      const fast = streamFor(seed, name);
      const plain = streamFor(seed, name);
      const got = draws(100_003, 0.02, limit, fast);
      const want = plainZiggurat(100_003, 0.02, limit, plain);
      expect(Array.from(got)).toEqual(Array.from(want));
      expect(fast.nextUint32()).toBe(plain.nextUint32());
    }
  });

  for (const limit of [2, 3] as const) {
    it(`at ${limit} sigma: mean 0, the truncated variance and tail mass in closed form, bounds kept`, () => {
      const std = 0.05;
      const count = 1_000_000;
      const values = draws(count, std, limit, streamFor(5, `stats.${limit}`));
      let sum = 0;
      let sumSquares = 0;
      let maxAbs = 0;
      let beyondOne = 0;
      for (const value of values) {
        sum += value;
        sumSquares += value * value;
        maxAbs = Math.max(maxAbs, Math.abs(value));
        if (Math.abs(value) > std) beyondOne++;
      }
      const { variance, beyondOne: wantBeyondOne } = truncatedMoments(limit);
      const mean = sum / count / std;
      // Standard error of the mean: sqrt(variance / count) ~ 0.0009; five of them.
      expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(variance / count));
      const measuredVariance = sumSquares / count / std ** 2 - mean * mean;
      expect(Math.abs(measuredVariance / variance - 1)).toBeLessThan(0.005);
      // A binomial proportion: standard error sqrt(p (1 - p) / count) ~ 0.0005; five of them.
      const sd = Math.sqrt((wantBeyondOne * (1 - wantBeyondOne)) / count);
      expect(Math.abs(beyondOne / count - wantBeyondOne)).toBeLessThan(5 * sd);
      expect(maxAbs).toBeLessThanOrEqual(Math.fround(limit * std));
      expect(maxAbs).toBeGreaterThan(0.999 * limit * std);
    });
  }

  it('is deterministic for a seed and a name, and differs across seeds and names', () => {
    const first = draws(4096, 1, 3, streamFor(42, 'layers.3.attn.q_proj'));
    expect(Array.from(draws(4096, 1, 3, streamFor(42, 'layers.3.attn.q_proj')))).toEqual(Array.from(first));
    const otherSeed = draws(4096, 1, 3, streamFor(43, 'layers.3.attn.q_proj'));
    const otherName = draws(4096, 1, 3, streamFor(42, 'layers.3.attn.k_proj'));
    for (const other of [otherSeed, otherName]) {
      const same = other.filter((value, i) => value === first[i]).length;
      expect(same).toBeLessThan(4);
    }
  });

  it('refuses a limit the sampler cannot honour', () => {
    expect(() => draws(1, 1, 3.5, streamFor(0, 'x'))).toThrow(/limit must be in \(0, 3.44/);
    expect(() => draws(1, 1, 0, streamFor(0, 'x'))).toThrow(/limit must be in/);
  });
});

describe('hostConstantFilled', () => {
  afterAll(() => tf.disposeVariables());

  for (const backendName of ['wasm', 'cpu'] as const) {
    it(`on ${backendName}: holds what the fill wrote, one buffer per tensor, and leaks nothing on a throw`, async () => {
      await useBackend(backendName);
      const tensorsBefore = tf.memory().numTensors;
      const buffersBefore = tf.backend().numDataIds();
      const tensor = hostConstantFilled<tf.Rank.R2>([3, 4], (values) => {
        expect(values.length).toBe(12);
        values.forEach((_, i) => (values[i] = i * 0.5));
      });
      expect(tf.backend().numDataIds()).toBe(buffersBefore + 1);
      expect(tensor.shape).toEqual([3, 4]);
      expect(Array.from(tensor.dataSync())).toEqual(Array.from({ length: 12 }, (_, i) => i * 0.5));
      // A kernel reads it as any other tensor.
      expect(tf.tidy(() => tf.sum(tensor).dataSync()[0])).toBe(33);
      tensor.dispose();
      expect(() =>
        hostConstantFilled([5], () => {
          throw new Error('planted');
        }),
      ).toThrow('planted');
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(tf.backend().numDataIds()).toBe(buffersBefore);
    });
  }

  it('on meta: never calls the fill', async () => {
    await useBackend('meta');
    const tensor = hostConstantFilled([1_000_000_000], () => {
      throw new Error('a shape-only backend must not ask for values');
    });
    expect(tensor.shape).toEqual([1_000_000_000]);
    tensor.dispose();
  });
});

describe('initWeights on the single-thread wasm build (a heap that is not shared)', () => {
  it('fills each tensor as it makes it and never hands its tensors to a filler', async () => {
    // Tests run the single-thread build (vitest.config.ts): its heap grows by replacing its buffer.
    await useBackend('wasm');
    expect(backendHeapIsShared()).toBe(false);
    expect(() => hostConstantInSharedHeap([4])).toThrow('the backend has no shared heap');
    const config: ModelConfig = {
      name: 'unshared-heap',
      source: 'test/truncated_normal.test.ts',
      vocab_size: 64,
      context_length: 8,
      num_layers: 1,
      d_model: 16,
      num_heads: 2,
      d_ff: 32,
    };
    const handed: number[] = [];
    const filler: TruncatedNormalFiller = { minValues: 0, fill: (jobs) => handed.push(jobs.length) };
    const baseline = tf.memory().numTensors;
    const weights = initWeights(config, { seed: 5, init: 'random', truncatedNormalFiller: filler });
    const table = new Float32Array(64 * 16);
    fillTruncatedNormal(table, 1, 3, streamFor(5, 'token_embeddings'));
    expect(Array.from(weights.token_embeddings.dataSync())).toEqual(Array.from(table));
    disposeWeights(weights);
    expect(handed).toEqual([]);
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
