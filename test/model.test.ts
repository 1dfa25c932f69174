import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../src/runtime/backend.js';
import type { ModelConfig } from '../src/config/model_config.js';
import {
  applyRope,
  causalSoftmax,
  disposeWeights,
  linear,
  forward,
  initWeights,
  rmsNorm,
  ropeTables,
  swiglu,
  tokenIds,
  weightEntries,
  type TransformerWeights,
} from '../src/model/index.js';
import { tinyConfig } from './helpers/small_configs.js';
import { maxAbsDifference, testValues } from './helpers/test_values.js';

const tiny = tinyConfig('tiny', 'test/model.test.ts');

/** Runs forward, reads the logits back and releases them. */
function logitsOf(config: ModelConfig, weights: TransformerWeights, ids: tf.Tensor2D): Float32Array {
  const logits = forward(config, weights, ids);
  try {
    return logits.dataSync() as Float32Array;
  } finally {
    logits.dispose();
  }
}

describe('module functions against hand-computed cases', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true); // the engine then checks every kernel for leaked tensors
    await useBackend('cpu');
  });

  it('linear applies W stored [d_in, d_out] to (B, T, d_in), and its gradients sum over all B*T tokens', () => {
    const [B, T, dIn, dOut] = [2, 3, 4, 5];
    const x = testValues(B * T * dIn, 11);
    const w = testValues(dIn * dOut, 12); // [d_in, d_out], row-major
    const upstream = testValues(B * T * dOut, 13); // d(loss)/d(output)
    const expectedOut: number[] = [];
    const expectedDx = new Array<number>(B * T * dIn).fill(0);
    const expectedDw = new Array<number>(dIn * dOut).fill(0);
    for (let token = 0; token < B * T; token++) {
      for (let o = 0; o < dOut; o++) {
        let out = 0;
        for (let i = 0; i < dIn; i++) {
          out += (x[token * dIn + i] ?? 0) * (w[i * dOut + o] ?? 0);
          expectedDx[token * dIn + i]! += (upstream[token * dOut + o] ?? 0) * (w[i * dOut + o] ?? 0);
          expectedDw[i * dOut + o]! += (upstream[token * dOut + o] ?? 0) * (x[token * dIn + i] ?? 0);
        }
        expectedOut.push(out);
      }
    }
    const baseline = tf.memory().numTensors;
    const [out, dx, dw] = tf.tidy(() => {
      const xT = tf.tensor3d(x, [B, T, dIn]);
      const wT = tf.tensor2d(w, [dIn, dOut]);
      const upstreamT = tf.tensor3d(upstream, [B, T, dOut]);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(linear(a as tf.Tensor3D, b as tf.Tensor2D), upstreamT)),
      )([xT, wT]);
      expect(gx!.shape).toEqual([B, T, dIn]);
      expect(gw!.shape).toEqual([dIn, dOut]);
      return [linear(xT, wT).dataSync(), gx!.dataSync(), gw!.dataSync()];
    });
    expect(tf.memory().numTensors).toBe(baseline);
    expect(maxAbsDifference(out, expectedOut)).toBeLessThan(1e-5);
    expect(maxAbsDifference(dx, expectedDx)).toBeLessThan(1e-5);
    expect(maxAbsDifference(dw, expectedDw)).toBeLessThan(1e-5);
  });

  it('rmsNorm divides by the root mean square over the last axis, then applies the gain', () => {
    const x = testValues(2 * 3 * 4, 1);
    const gain = [0.5, 1, 1.5, -2];
    const expected: number[] = [];
    for (let row = 0; row < 6; row++) {
      let sumSquares = 0;
      for (let j = 0; j < 4; j++) sumSquares += (x[row * 4 + j] ?? 0) ** 2;
      const rms = Math.sqrt(sumSquares / 4 + 1e-5);
      for (let j = 0; j < 4; j++) expected.push(((x[row * 4 + j] ?? 0) / rms) * (gain[j] ?? 0));
    }
    const actual = tf.tidy(() => rmsNorm(tf.tensor3d(x, [2, 3, 4]), tf.tensor1d(gain), 1e-5).dataSync());
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
  });

  it('applyRope rotates each interleaved pair (x[2i], x[2i+1]) by t / 10000^(2i/dk)', () => {
    const [B, H, T, dk] = [1, 2, 5, 6];
    const x = testValues(B * H * T * dk, 2);
    const expected = x.slice();
    for (let head = 0; head < H; head++) {
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < dk / 2; i++) {
          const angle = t / 10000 ** ((2 * i) / dk);
          const base = (head * T + t) * dk + 2 * i;
          const even = x[base] ?? 0;
          const odd = x[base + 1] ?? 0;
          expected[base] = even * Math.cos(angle) - odd * Math.sin(angle);
          expected[base + 1] = even * Math.sin(angle) + odd * Math.cos(angle);
        }
      }
    }
    const actual = tf.tidy(() => applyRope(tf.tensor4d(x, [B, H, T, dk]), ropeTables(T, dk)).dataSync());
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
    // Position 0 is not rotated; position 4 is, by more than rounding.
    expect(maxAbsDifference(actual.slice(0, dk), x.slice(0, dk))).toBeLessThan(1e-7);
    expect(maxAbsDifference(actual.slice(4 * dk, 5 * dk), x.slice(4 * dk, 5 * dk))).toBeGreaterThan(0.1);
  });

  it('causalSoftmax gives softmax(q k^T / sqrt(dk)) over keys 0..t and exactly 0 after t', () => {
    const [H, T, dk] = [2, 4, 3];
    const q = testValues(H * T * dk, 3).map((v) => v * 3);
    const k = testValues(H * T * dk, 4).map((v) => v * 3);
    const expected: number[] = [];
    for (let head = 0; head < H; head++) {
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < dk; j++) dot += (q[(head * T + t) * dk + j] ?? 0) * (k[(head * T + s) * dk + j] ?? 0);
          scores.push(dot / Math.sqrt(dk));
        }
        const max = Math.max(...scores);
        const total = scores.reduce((sum, score) => sum + Math.exp(score - max), 0);
        for (let s = 0; s < T; s++) expected.push(s <= t ? Math.exp((scores[s] ?? 0) - max) / total : 0);
      }
    }
    const actual = tf.tidy(() =>
      causalSoftmax(tf.tensor4d(q, [1, H, T, dk]), tf.tensor4d(k, [1, H, T, dk])).dataSync(),
    );
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-6);
    for (let t = 0; t < T; t++) {
      for (let s = t + 1; s < T; s++) expect(actual[t * T + s]).toBe(0);
    }
  });

  it('swiglu computes W2(SiLU(W1 x) * W3 x) with weights stored [d_in, d_out]', () => {
    const [T, d, F] = [3, 4, 5];
    const x = testValues(T * d, 5);
    const w1 = testValues(F * d, 6);
    const w3 = testValues(F * d, 7);
    const w2 = testValues(d * F, 8);
    const expected: number[] = [];
    for (let t = 0; t < T; t++) {
      const gated: number[] = [];
      for (let f = 0; f < F; f++) {
        let a = 0;
        let b = 0;
        for (let j = 0; j < d; j++) {
          a += (w1[j * F + f] ?? 0) * (x[t * d + j] ?? 0); // W1 [d, F]
          b += (w3[j * F + f] ?? 0) * (x[t * d + j] ?? 0); // W3 [d, F]
        }
        gated.push((a / (1 + Math.exp(-a))) * b);
      }
      for (let o = 0; o < d; o++) {
        let out = 0;
        for (let f = 0; f < F; f++) out += (w2[f * d + o] ?? 0) * (gated[f] ?? 0); // W2 [F, d]
        expected.push(out);
      }
    }
    const actual = tf.tidy(() =>
      swiglu(
        tf.tensor3d(x, [1, T, d]),
        tf.tensor2d(w1, [d, F]),
        tf.tensor2d(w2, [F, d]),
        tf.tensor2d(w3, [d, F]),
      ).dataSync(),
    );
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
  });
});

describe('weights', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('parameter count from weightEntries equals the closed form 2Vd + L(4d^2 + 3dF + 2d) + d', () => {
    const closedForm = (c: ModelConfig): number =>
      2 * c.vocab_size * c.d_model +
      c.num_layers * (4 * c.d_model ** 2 + 3 * c.d_model * c.d_ff + 2 * c.d_model) +
      c.d_model;
    // The closed form itself against the seed's anchor: GPT-2 XL has 2,127,057,600 parameters.
    const xl = {
      ...tiny,
      vocab_size: 50257,
      context_length: 1024,
      num_layers: 48,
      d_model: 1600,
      num_heads: 25,
      d_ff: 6400,
    };
    expect(closedForm(xl)).toBe(2_127_057_600);

    const config: ModelConfig = { ...tiny, vocab_size: 37, num_layers: 3, d_model: 12, num_heads: 3, d_ff: 20 };
    const weights = initWeights(config, { seed: 1, init: 'fill' });
    try {
      const entries = weightEntries(weights);
      const counted = entries.reduce((total, entry) => total + entry.tensor.size, 0);
      expect(counted).toBe(closedForm(config)); // 2*37*12 + 3*(576 + 720 + 24) + 12 = 4860
      expect(counted).toBe(4860);
      expect(entries).toHaveLength(2 + 9 * config.num_layers + 1);
      expect(entries.slice(0, 11).map((e) => `${e.path}:${e.name}:${e.tensor.shape.join('x')}`)).toEqual([
        'token_embeddings:weight:37x12',
        'layers.0.ln1:gain:12',
        'layers.0.attn.q_proj:weight:12x12',
        'layers.0.attn.k_proj:weight:12x12',
        'layers.0.attn.v_proj:weight:12x12',
        'layers.0.attn.output_proj:weight:12x12',
        'layers.0.ln2:gain:12',
        'layers.0.ffn.w1:weight:12x20',
        'layers.0.ffn.w2:weight:20x12',
        'layers.0.ffn.w3:weight:12x20',
        'layers.1.ln1:gain:12',
      ]);
      expect(entries.slice(-2).map((e) => `${e.path}:${e.name}:${e.tensor.shape.join('x')}`)).toEqual([
        'ln_final:gain:12',
        'lm_head:weight:12x37',
      ]);
    } finally {
      disposeWeights(weights);
    }
  });

  it('random init: linear N(0, 2/(d_in+d_out)) and embedding N(0, 1), both truncated at 3 sigma; gains 1', () => {
    const config: ModelConfig = { ...tiny, vocab_size: 2000, num_layers: 1, d_model: 256, num_heads: 4, d_ff: 1024 };
    const weights = initWeights(config, { seed: 3, init: 'random' });
    try {
      // Variance of N(0,1) truncated to [-3, 3]: 1 - 2*3*phi(3) / (2*Phi(3) - 1).
      const phi3 = Math.exp(-4.5) / Math.sqrt(2 * Math.PI);
      const massWithin3 = 0.9973002039367398;
      const truncatedStdRatio = Math.sqrt(1 - (6 * phi3) / massWithin3);
      const cases = [
        { tensor: weights.layers[0]!.w1!, sigma: Math.sqrt(2 / (256 + 1024)) }, // 262,144 values
        { tensor: weights.token_embeddings, sigma: 1 }, // 512,000 values
      ];
      for (const { tensor, sigma } of cases) {
        const values = tensor.dataSync();
        let sum = 0;
        let sumSquares = 0;
        let maxAbs = 0;
        let beyondTwoSigma = 0;
        for (const value of values) {
          sum += value;
          sumSquares += value * value;
          maxAbs = Math.max(maxAbs, Math.abs(value));
          if (Math.abs(value) > 2 * sigma) beyondTwoSigma++;
        }
        const mean = sum / values.length;
        const std = Math.sqrt(sumSquares / values.length - mean * mean);
        expect(Math.abs(mean)).toBeLessThan(0.01 * sigma);
        expect(std / (sigma * truncatedStdRatio)).toBeGreaterThan(0.99);
        expect(std / (sigma * truncatedStdRatio)).toBeLessThan(1.01);
        expect(maxAbs).toBeLessThanOrEqual(Math.fround(3 * sigma));
        // Truncated at 3 sigma, not tf.truncatedNormal's 2: about 4.3% of values lie beyond 2 sigma.
        expect(maxAbs).toBeGreaterThan(2.9 * sigma);
        expect(beyondTwoSigma / values.length).toBeGreaterThan(0.04);
        expect(beyondTwoSigma / values.length).toBeLessThan(0.046);
      }
      expect(Array.from(weights.layers[0]!.ln1.dataSync()).every((g) => g === 1)).toBe(true);
      expect(Array.from(weights.ln_final.dataSync()).every((g) => g === 1)).toBe(true);
    } finally {
      disposeWeights(weights);
    }
  });

  it('a weight depends on the seed and its own path only', () => {
    const a = initWeights(tiny, { seed: 5, init: 'random' });
    const deeper = initWeights({ ...tiny, num_layers: 3 }, { seed: 5, init: 'random' });
    const other = initWeights(tiny, { seed: 6, init: 'random' });
    try {
      const qOf = (w: TransformerWeights, layer: number) => Array.from(w.layers[layer]!.q_proj!.dataSync());
      expect(qOf(deeper, 1)).toEqual(qOf(a, 1));
      expect(qOf(a, 0)).not.toEqual(qOf(a, 1));
      expect(qOf(other, 1)).not.toEqual(qOf(a, 1));
    } finally {
      for (const w of [a, deeper, other]) disposeWeights(w);
    }
  });

  it('tokenIds draws seeded ids in [0, V) and fills zeros for the fill init', () => {
    const first = tokenIds(tiny, { batch: 3, seq: 8 }, { seed: 9, init: 'random' });
    const again = tokenIds(tiny, { batch: 3, seq: 8 }, { seed: 9, init: 'random' });
    const filled = tokenIds(tiny, { batch: 3, seq: 8 }, { seed: 9, init: 'fill' });
    try {
      expect(first.shape).toEqual([3, 8]);
      expect(first.dtype).toBe('int32');
      const ids = Array.from(first.dataSync());
      expect(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tiny.vocab_size)).toBe(true);
      expect(new Set(ids).size).toBeGreaterThan(5);
      expect(Array.from(again.dataSync())).toEqual(ids);
      expect(Array.from(filled.dataSync())).toEqual(new Array(24).fill(0));
      expect(() => tokenIds(tiny, { batch: 1, seq: 9 }, { seed: 9, init: 'random' })).toThrow(
        "tokenIds: seq (9) exceeds tiny's context_length (8)",
      );
    } finally {
      for (const t of [first, again, filled]) t.dispose();
    }
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`forward on ${backend}`, () => {
    let weights: TransformerWeights;
    let ids: tf.Tensor2D;

    beforeAll(async () => {
      tf.env().set('IS_TEST', true);
      await useBackend(backend);
      weights = initWeights(tiny, { seed: 11, init: 'random' });
      ids = tokenIds(tiny, { batch: 2, seq: 7 }, { seed: 11, init: 'random' });
    });

    afterAll(() => {
      disposeWeights(weights);
      ids.dispose();
    });

    it('gives finite logits of shape [B, T, V]', () => {
      const logits = forward(tiny, weights, ids);
      try {
        expect(logits.shape).toEqual([2, 7, 11]);
        const values = logits.dataSync();
        expect(values.every((v) => Number.isFinite(v))).toBe(true);
        expect(maxAbsDifference(values, new Float32Array(values.length))).toBeGreaterThan(0.1);
      } finally {
        logits.dispose();
      }
    });

    it('gives identical logits for the same seed and different ones for another seed', () => {
      const same = initWeights(tiny, { seed: 11, init: 'random' });
      const other = initWeights(tiny, { seed: 12, init: 'random' });
      try {
        const reference = logitsOf(tiny, weights, ids);
        expect(logitsOf(tiny, same, ids)).toEqual(reference);
        expect(maxAbsDifference(logitsOf(tiny, other, ids), reference)).toBeGreaterThan(1e-2);
      } finally {
        disposeWeights(same);
        disposeWeights(other);
      }
    });

    it('is causal: changing tokens after position t leaves logits at positions <= t unchanged', () => {
      const original = [3, 1, 4, 1, 5, 9, 2, 6];
      const changed = [3, 1, 4, 10, 0, 7, 8, 0]; // differs from position 3 on
      const V = tiny.vocab_size;
      const a = tf.tensor2d([original], [1, 8], 'int32');
      const b = tf.tensor2d([changed], [1, 8], 'int32');
      try {
        const before = logitsOf(tiny, weights, a);
        const after = logitsOf(tiny, weights, b);
        expect(maxAbsDifference(before.slice(0, 3 * V), after.slice(0, 3 * V))).toBeLessThan(1e-5);
        for (let t = 3; t < 8; t++) {
          expect(maxAbsDifference(before.slice(t * V, (t + 1) * V), after.slice(t * V, (t + 1) * V))).toBeGreaterThan(
            1e-3,
          );
        }
      } finally {
        a.dispose();
        b.dispose();
      }
    });

    it('releases every tensor after a forward pass and after one that throws', () => {
      const baseline = tf.memory().numTensors;
      forward(tiny, weights, ids).dispose();
      expect(tf.memory().numTensors).toBe(baseline);

      const badShape = tf.fill([2, 3, 4], 0, 'int32') as unknown as tf.Tensor2D;
      const tooLong = tf.fill<tf.Rank.R2>([1, 9], 0, 'int32');
      const floatIds = tf.fill<tf.Rank.R2>([1, 4], 0, 'float32');
      const withBad = baseline + 3;
      try {
        expect(() => forward(tiny, weights, badShape)).toThrow(
          'forward: ids must be [batch, seq] but have shape [2,3,4]',
        );
        expect(tf.memory().numTensors).toBe(withBad);
        expect(() => forward(tiny, weights, tooLong)).toThrow(
          "forward: ids have shape [1,9] but tiny's context_length is 8",
        );
        expect(() => forward(tiny, weights, floatIds)).toThrow(
          'forward: ids must be int32 but are float32 with shape [1,4]',
        );
        // A module that throws half-way through the pass: everything made before it is released too.
        expect(() =>
          forward(tiny, weights, ids, {
            ffn: () => {
              throw new Error('planted failure');
            },
          }),
        ).toThrow('planted failure');
        expect(tf.memory().numTensors).toBe(withBad);
        expect(() => forward({ ...tiny, num_layers: 3 }, weights, ids)).toThrow(
          'forward: weights have 2 layers but tiny has num_layers 3',
        );
        expect(() => forward({ ...tiny, d_ff: 13 }, weights, ids)).toThrow(
          'forward: weight layers.0.ffn.w1 has shape [8,12] but tiny needs [8,13]',
        );
        expect(tf.memory().numTensors).toBe(withBad);
      } finally {
        for (const t of [badShape, tooLong, floatIds]) t.dispose();
      }
      expect(tf.memory().numTensors).toBe(baseline);
    });

    it('uses a planted module in place of the default one', () => {
      const reference = logitsOf(tiny, weights, ids);
      const w3Twice = forward(tiny, weights, ids, { ffn: (x, _w1, w2, w3) => swiglu(x, w3, w2, w3) });
      let projections = 0;
      const counted = forward(tiny, weights, ids, {
        linear: (x, weight) => {
          projections++;
          return linear(x, weight);
        },
      });
      try {
        expect(maxAbsDifference(w3Twice.dataSync(), reference)).toBeGreaterThan(1e-3);
        expect(projections).toBe(7 * tiny.num_layers + 1); // q, k, v, output, w1, w3, w2 per layer; lm_head
        expect(Array.from(counted.dataSync())).toEqual(Array.from(reference));
      } finally {
        w3Twice.dispose();
        counted.dispose();
      }
    });
  });
}

describe('cpu and wasm', () => {
  it('give the same logits for the same weights', async () => {
    const config: ModelConfig = { ...tiny, vocab_size: 50, context_length: 16, d_model: 32, num_heads: 4, d_ff: 64 };
    const logitsOn = async (backend: 'cpu' | 'wasm'): Promise<Float32Array> => {
      await useBackend(backend);
      const weights = initWeights(config, { seed: 21, init: 'random' });
      const ids = tokenIds(config, { batch: 2, seq: 16 }, { seed: 21, init: 'random' });
      try {
        return logitsOf(config, weights, ids);
      } finally {
        disposeWeights(weights);
        ids.dispose();
      }
    };
    const onCpu = await logitsOn('cpu');
    const onWasm = await logitsOn('wasm');
    const largest = onCpu.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(largest).toBeGreaterThan(0.5);
    expect(maxAbsDifference(onCpu, onWasm)).toBeLessThan(1e-4);
  });
});
