import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { parameterInventory, summarizeParameters } from '../src/analytic/parameters.js';
import { useBackend } from '../src/runtime/backend.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { META_BACKEND_NAME, registerMetaBackend } from '../src/meta/index.js';
import {
  addLearnedPositions,
  attention,
  attentionCore,
  causalScores,
  disposeWeights,
  forward,
  gelu,
  initWeights,
  layerNorm,
  linear,
  rmsNorm,
  ropeTables,
  softmaxOverKeys,
  tiedLogits,
  tokenIds,
  weightEntries,
  type AttentionWeights,
  type TransformerWeights,
} from '../src/model/index.js';
import { traceKernels, type KernelRecord } from '../src/trace/index.js';
import {
  DEFAULT_ADAMW,
  currentPhase,
  disposeAdamW,
  initAdamW,
  parametersOf,
  targetIds,
  toTrainable,
  trainingStep,
} from '../src/runtime/index.js';
import { arbitraryVariantConfig } from './helpers/arbitrary_small_model.js';
import { everyVariantConfig } from './helpers/small_configs.js';
import { maxAbsDifference, testValues } from './helpers/test_values.js';

/** The default attention-core modules: scaled masked scores and the softmax over keys. */
const defaultCore = { scores: causalScores, softmax: softmaxOverKeys };

const variantConfig = arbitraryVariantConfig({
  source: 'test/model_variants.test.ts',
  vocabMax: 20,
  vocabMultiples: [1, 3, 8],
  contextMax: 8,
});

// ---------------------------------------------------------------------------------------------
// A reference forward pass in plain JavaScript (float64), written from the architecture's
// definition, sharing no code with src/model: it reads each weight by its field name.

type Matrix = number[][];
type Vector = number[];

const arrayOf = <T>(tensor: tf.Tensor | undefined): T => tensor?.arraySync() as T;

/** x [d_in] @ W [d_in][d_out] (+ b). */
function project(x: Vector, w: Matrix, b?: Vector): Vector {
  const out = new Array<number>(w[0]!.length).fill(0);
  x.forEach((xi, i) => w[i]!.forEach((wio, o) => (out[o]! += xi * wio)));
  return b === undefined ? out : out.map((value, o) => value + b[o]!);
}

function referenceNorm(x: Vector, kind: string, gain: Vector, bias?: Vector): Vector {
  const d = x.length;
  if (kind === 'rmsnorm') {
    const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / d + 1e-5);
    return x.map((v, j) => (v / rms) * gain[j]!);
  }
  const mean = x.reduce((s, v) => s + v, 0) / d;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / d;
  return x.map((v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gain[j]! + bias![j]!);
}

const referenceGelu = (z: number): number =>
  0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
const referenceSilu = (z: number): number => z / (1 + Math.exp(-z));

/** Rotates pairs (2i, 2i+1) of one head vector at position t by t / theta^(2i/dk). */
function referenceRope(head: Vector, t: number, theta: number): Vector {
  const dk = head.length;
  const out = head.slice();
  for (let i = 0; i < dk / 2; i++) {
    const angle = t / theta ** ((2 * i) / dk);
    const [a, b] = [head[2 * i]!, head[2 * i + 1]!];
    out[2 * i] = a * Math.cos(angle) - b * Math.sin(angle);
    out[2 * i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
  }
  return out;
}

/** Logits [B][T][Vp] of one sequence batch, by the definitions (design.md section 1 and the variants). */
function referenceLogits(config: ModelConfig, weights: TransformerWeights, ids: number[][]): number[][][] {
  const H = config.num_heads;
  const Hkv = config.num_kv_heads ?? H;
  const G = H / Hkv;
  const dk = config.d_model / H;
  const E = arrayOf<Matrix>(weights.token_embeddings);
  const P = arrayOf<Matrix | undefined>(weights.position_embeddings);
  const layers = weights.layers.map((layer) => {
    const read: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(layer)) read[name] = arrayOf(tensor as tf.Tensor);
    return read as Record<string, Matrix & Vector>;
  });
  const lnFinal = arrayOf<Vector>(weights.ln_final);
  const lnFinalBias = arrayOf<Vector | undefined>(weights.ln_final_bias);
  const lmHead = arrayOf<Matrix | undefined>(weights.lm_head);
  return ids.map((sequence) => {
    let x: Matrix = sequence.map((id, t) => E[id]!.map((value, j) => value + (P === undefined ? 0 : P[t]![j]!)));
    for (const layer of layers) {
      const h = x.map((row) => referenceNorm(row, config.norm ?? 'rmsnorm', layer['ln1']!, layer['ln1_bias']));
      const q = h.map((row) => project(row, layer['q_proj']!, layer['q_proj_bias']));
      const k = h.map((row) => project(row, layer['k_proj']!, layer['k_proj_bias']));
      const v = h.map((row) => project(row, layer['v_proj']!, layer['v_proj_bias']));
      const headOf = (rows: Matrix, head: number, rotate: boolean): Matrix =>
        rows.map((row, t) => {
          const slice = row.slice(head * dk, (head + 1) * dk);
          return rotate && config.positions !== 'learned' ? referenceRope(slice, t, config.rope_theta ?? 10000) : slice;
        });
      const merged: Matrix = x.map(() => []);
      for (let head = 0; head < H; head++) {
        const shared = Math.floor(head / G); // the key/value head this query head reads
        const qh = headOf(q, head, true);
        const kh = headOf(k, shared, true);
        const vh = headOf(v, shared, false);
        qh.forEach((query, t) => {
          const scores = kh
            .slice(0, t + 1)
            .map((key) => query.reduce((s, qj, j) => s + qj * key[j]!, 0) / Math.sqrt(dk));
          const top = Math.max(...scores);
          const weightsOf = scores.map((s) => Math.exp(s - top));
          const total = weightsOf.reduce((a, b) => a + b, 0);
          for (let j = 0; j < dk; j++) {
            merged[t]!.push(weightsOf.reduce((s, p, s2) => s + (p / total) * vh[s2]![j]!, 0));
          }
        });
      }
      x = x.map((row, t) => {
        const attended = project(merged[t]!, layer['output_proj']!, layer['output_proj_bias']);
        return row.map((value, j) => value + attended[j]!);
      });
      x = x.map((row) => {
        const h2 = referenceNorm(row, config.norm ?? 'rmsnorm', layer['ln2']!, layer['ln2_bias']);
        const a = project(h2, layer['w1']!, layer['w1_bias']);
        const hidden =
          config.ffn === 'gelu'
            ? a.map(referenceGelu)
            : (() => {
                const c = project(h2, layer['w3']!, layer['w3_bias']);
                return a.map((value, f) => referenceSilu(value) * c[f]!);
              })();
        const out = project(hidden, layer['w2']!, layer['w2_bias']);
        return row.map((value, j) => value + out[j]!);
      });
    }
    return x.map((row) => {
      const normed = referenceNorm(row, config.norm ?? 'rmsnorm', lnFinal, lnFinalBias);
      // Tied: logits = x E^T, one dot product per table row.
      return lmHead === undefined
        ? E.map((embedding) => embedding.reduce((s, e, j) => s + e * normed[j]!, 0))
        : project(normed, lmHead);
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('weights of every variant against the analytic parameter inventory', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('weightEntries lists exactly parameterInventory: same paths, names, shapes and order', () => {
    fc.assert(
      fc.property(variantConfig, (config) => {
        const weights = initWeights(config, { seed: 0, init: 'fill' });
        try {
          const entries = weightEntries(weights).map((entry) => [entry.path, entry.name, entry.tensor.shape]);
          const rows = parameterInventory(config).map((row) => [row.path, row.name, [...row.shape]]);
          expect(entries).toEqual(rows);
          const counted = weightEntries(weights).reduce((total, entry) => total + entry.tensor.size, 0);
          expect(BigInt(counted)).toBe(summarizeParameters(config).total);
        } finally {
          disposeWeights(weights);
        }
      }),
      { numRuns: 60, seed: 7_2026 },
    );
  });

  it('a GPT-2-like model with every variant holds the tensors worked out by hand, 248 parameters', () => {
    // V 10 padded to 16, ctx 6, L 1, d 4, H 2 sharing 1 kv head (dk 2, dkv 2), F 8, GELU, LayerNorm,
    // learned positions, biases, tied embeddings.
    const config: ModelConfig = {
      name: 'gpt-like',
      source: 'test/model_variants.test.ts',
      vocab_size: 10,
      context_length: 6,
      num_layers: 1,
      d_model: 4,
      num_heads: 2,
      d_ff: 8,
      num_kv_heads: 1,
      tie_embeddings: true,
      ffn: 'gelu',
      norm: 'layernorm',
      positions: 'learned',
      bias: true,
      vocab_multiple: 8,
    };
    const weights = initWeights(config, { seed: 3, init: 'random' });
    try {
      const listed = weightEntries(weights).map((e) => `${e.path} ${e.name} ${e.tensor.shape.join('x')}`);
      expect(listed).toEqual([
        'token_embeddings weight 16x4',
        'position_embeddings weight 6x4',
        'layers.0.ln1 gain 4',
        'layers.0.ln1 bias 4',
        'layers.0.attn.q_proj weight 4x4',
        'layers.0.attn.q_proj bias 4',
        'layers.0.attn.k_proj weight 4x2',
        'layers.0.attn.k_proj bias 2',
        'layers.0.attn.v_proj weight 4x2',
        'layers.0.attn.v_proj bias 2',
        'layers.0.attn.output_proj weight 4x4',
        'layers.0.attn.output_proj bias 4',
        'layers.0.ln2 gain 4',
        'layers.0.ln2 bias 4',
        'layers.0.ffn.w1 weight 4x8',
        'layers.0.ffn.w1 bias 8',
        'layers.0.ffn.w2 weight 8x4',
        'layers.0.ffn.w2 bias 4',
        'ln_final gain 4',
        'ln_final bias 4',
      ]);
      // 64 + 24 + 8 + 20 + 10 + 10 + 20 + 8 + 40 + 36 + 8
      expect(weightEntries(weights).reduce((total, e) => total + e.tensor.size, 0)).toBe(248);
      expect(weights.lm_head).toBeUndefined();
      expect(weights.layers[0]!.w3).toBeUndefined();
      for (const entry of weightEntries(weights)) {
        const values = Array.from(entry.tensor.dataSync());
        if (entry.name === 'bias')
          expect(
            values.every((value) => value === 0),
            entry.path,
          ).toBe(true);
        if (entry.name === 'gain')
          expect(
            values.every((value) => value === 1),
            entry.path,
          ).toBe(true);
        if (entry.name === 'weight') expect(new Set(values).size, entry.path).toBe(values.length);
      }
    } finally {
      disposeWeights(weights);
    }
  });

  it('the position table draws N(0, 1) truncated at 3 sigma, from its own stream', () => {
    const config: ModelConfig = {
      name: 'positions',
      source: 'test/model_variants.test.ts',
      vocab_size: 1024,
      context_length: 1024,
      num_layers: 1,
      d_model: 256,
      num_heads: 4,
      d_ff: 4,
      positions: 'learned',
    };
    const weights = initWeights(config, { seed: 9, init: 'random' });
    try {
      const table = weights.position_embeddings!.dataSync();
      expect(table.length).toBe(1024 * 256);
      let sum = 0;
      let sumSquares = 0;
      let maxAbs = 0;
      for (const value of table) {
        sum += value;
        sumSquares += value * value;
        maxAbs = Math.max(maxAbs, Math.abs(value));
      }
      const mean = sum / table.length;
      // Std of N(0,1) truncated to [-3, 3]: sqrt(1 - 6 phi(3) / (2 Phi(3) - 1)) = 0.98654.
      const std = Math.sqrt(sumSquares / table.length - mean * mean);
      expect(Math.abs(mean)).toBeLessThan(0.01);
      expect(std).toBeGreaterThan(0.9865 * 0.99);
      expect(std).toBeLessThan(0.9865 * 1.01);
      expect(maxAbs).toBeLessThanOrEqual(3);
      expect(maxAbs).toBeGreaterThan(2.9);
      // Same shape as the token table, different values: each tensor has its own stream.
      expect(Array.from(weights.token_embeddings.dataSync().slice(0, 256))).not.toEqual(
        Array.from(table.slice(0, 256)),
      );
    } finally {
      disposeWeights(weights);
    }
  });
});

describe('variant modules against hand-computed cases (cpu)', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true); // the engine checks every kernel for leaked tensors
    await useBackend('cpu');
  });

  /** d/dx of sum(up * f(x)) by central differences in float64, for a JS function f. */
  function numericGradient(f: (x: number[]) => number[], x: number[], up: number[]): number[] {
    const h = 1e-6;
    return x.map((_, i) => {
      const plus = x.slice();
      const minus = x.slice();
      plus[i]! += h;
      minus[i]! -= h;
      const [fp, fm] = [f(plus), f(minus)];
      return fp.reduce((s, value, o) => s + up[o]! * (value - fm[o]!), 0) / (2 * h);
    });
  }

  /** Applies a per-row function over rows of `width`. */
  const rows = (f: (row: number[]) => number[], width: number) => (flat: number[]) => {
    const out: number[] = [];
    for (let r = 0; r < flat.length / width; r++) out.push(...f(flat.slice(r * width, (r + 1) * width)));
    return out;
  };

  it('layerNorm centres, scales by 1/sqrt(var + 1e-5), applies gain and bias; its gradients match calculus by finite differences', () => {
    const [B, T, d] = [2, 3, 5];
    const x = testValues(B * T * d, 21).map((v) => 3 * v + 0.5);
    const gain = [0.5, 1, 1.5, -2, 0.25];
    const bias = [0.1, -0.2, 0.3, 0, 1];
    const up = testValues(B * T * d, 22);
    const reference = (input: number[], g: number[], b: number[]) =>
      rows((row) => referenceNorm(row, 'layernorm', g, b), d)(input);
    const baseline = tf.memory().numTensors;
    const [value, dx, dGain, dBias] = tf.tidy(() => {
      const xT = tf.tensor3d(x, [B, T, d]);
      const [gT, bT] = [tf.tensor1d(gain), tf.tensor1d(bias)];
      const upT = tf.tensor3d(up, [B, T, d]);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(layerNorm(a as tf.Tensor3D, g as tf.Tensor1D, b as tf.Tensor1D), upT)),
      )([xT, gT, bT]);
      return [layerNorm(xT, gT, bT).dataSync(), ...grads.map((g) => g.dataSync())];
    });
    expect(tf.memory().numTensors).toBe(baseline);
    expect(maxAbsDifference(value, reference(x, gain, bias))).toBeLessThan(1e-5);
    expect(
      maxAbsDifference(
        dx!,
        numericGradient((input) => reference(input, gain, bias), x, up),
      ),
    ).toBeLessThan(1e-4);
    expect(
      maxAbsDifference(
        dGain!,
        numericGradient((g) => reference(x, g, bias), gain, up),
      ),
    ).toBeLessThan(1e-4);
    expect(
      maxAbsDifference(
        dBias!,
        numericGradient((b) => reference(x, gain, b), bias, up),
      ),
    ).toBeLessThan(1e-4);
    // With gain 1 and bias 0 a row comes out with mean 0 and variance var / (var + eps), about 1.
    const plain = tf.tidy(() =>
      Array.from(
        layerNorm(
          tf.tensor2d(x.slice(0, d), [1, d]),
          tf.tensor1d([1, 1, 1, 1, 1]),
          tf.tensor1d([0, 0, 0, 0, 0]),
        ).dataSync(),
      ),
    );
    expect(Math.abs(plain.reduce((s, v) => s + v, 0) / d)).toBeLessThan(1e-6);
    expect(plain.reduce((s, v) => s + v * v, 0) / d).toBeCloseTo(1, 3);
  });

  it("rmsNorm's written-out gradient matches calculus by finite differences", () => {
    const [T, d] = [4, 6];
    const x = testValues(T * d, 31).map((v) => 2 * v);
    const gain = testValues(d, 32).map((v) => v + 1);
    const up = testValues(T * d, 33);
    const reference = (input: number[], g: number[]) => rows((row) => referenceNorm(row, 'rmsnorm', g), d)(input);
    const [dx, dGain] = tf.tidy(() => {
      const upT = tf.tensor2d(up, [T, d]);
      return tf
        .grads((a: tf.Tensor, g: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a, g as tf.Tensor1D), upT)))([
          tf.tensor2d(x, [T, d]),
          tf.tensor1d(gain),
        ])
        .map((g) => g.dataSync());
    });
    expect(
      maxAbsDifference(
        dx!,
        numericGradient((input) => reference(input, gain), x, up),
      ),
    ).toBeLessThan(1e-4);
    expect(
      maxAbsDifference(
        dGain!,
        numericGradient((g) => reference(x, g), gain, up),
      ),
    ).toBeLessThan(1e-4);
  });

  it("gelu is GPT-2's tanh approximation, with its gradient", () => {
    const z = [-3, -1, -0.5, 0, 0.5, 1, 2, 4];
    const up = [1, 1, 1, 1, 1, 1, 1, 1];
    const [value, dz] = tf.tidy(() => {
      const zT = tf.tensor1d(z);
      return [
        gelu(zT).dataSync(),
        tf
          .grad((a: tf.Tensor) => tf.sum(gelu(a)))(zT)
          .dataSync(),
      ];
    });
    expect(maxAbsDifference(value, z.map(referenceGelu))).toBeLessThan(1e-6);
    // Published values of the approximation: GELU(1) = 0.841192, GELU(-1) = -0.158808, GELU(0) = 0.
    expect(value[5]).toBeCloseTo(0.841192, 5);
    expect(value[1]).toBeCloseTo(-0.158808, 5);
    expect(value[3]).toBe(0);
    expect(
      maxAbsDifference(
        dz,
        numericGradient((input) => input.map(referenceGelu), z, up),
      ),
    ).toBeLessThan(1e-4);
  });

  it('grouped scores mask row r of a group at query position r mod T, each score q . k / sqrt(dk)', () => {
    const [G, T, dk] = [2, 3, 2];
    const q = testValues(G * T * dk, 35); // one key/value head's G query heads stacked: row g*T + t
    const k = testValues(T * dk, 36);
    const scores = tf.tidy(
      () => causalScores(tf.tensor4d(q, [1, 1, G * T, dk]), tf.tensor4d(k, [1, 1, T, dk])).arraySync()[0]![0]!,
    );
    expect(scores).toHaveLength(G * T);
    scores.forEach((row, r) => {
      row.forEach((score, s) => {
        if (s > r % T) expect(score, `row ${r} key ${s}`).toBe(-Infinity);
        else {
          const dot = q[r * dk]! * k[s * dk]! + q[r * dk + 1]! * k[s * dk + 1]!;
          expect(score).toBeCloseTo(dot / Math.sqrt(dk), 6);
        }
      });
    });
  });

  it("grouped-query attention core: each query head attends with its group's k and v, worked out by hand", () => {
    const [H, Hkv, T, dk] = [4, 2, 3, 2];
    const q = testValues(H * T * dk, 41).map((v) => 2 * v);
    const k = testValues(Hkv * T * dk, 42).map((v) => 2 * v);
    const v = testValues(Hkv * T * dk, 43);
    const expected: number[] = [];
    for (let head = 0; head < H; head++) {
      const shared = Math.floor(head / (H / Hkv)); // heads 0,1 read kv head 0; heads 2,3 read kv head 1
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < dk; j++) dot += q[(head * T + t) * dk + j]! * k[(shared * T + s) * dk + j]!;
          scores.push(dot / Math.sqrt(dk));
        }
        const top = Math.max(...scores);
        const total = scores.reduce((sum, score) => sum + Math.exp(score - top), 0);
        for (let j = 0; j < dk; j++) {
          let out = 0;
          for (let s = 0; s <= t; s++) out += (Math.exp(scores[s]! - top) / total) * v[(shared * T + s) * dk + j]!;
          expected.push(out);
        }
      }
    }
    const actual = tf.tidy(() =>
      attentionCore(
        tf.tensor4d(q, [1, H, T, dk]),
        tf.tensor4d(k, [1, Hkv, T, dk]),
        tf.tensor4d(v, [1, Hkv, T, dk]),
        defaultCore,
      ).dataSync(),
    );
    expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-6);
  });

  it('grouped-query attention equals multi-head attention with K and V repeated per group, values and gradients', () => {
    const [B, H, Hkv, T, dk] = [2, 6, 2, 4, 2];
    const G = H / Hkv;
    const q = testValues(B * H * T * dk, 51);
    const k = testValues(B * Hkv * T * dk, 52);
    const v = testValues(B * Hkv * T * dk, 53);
    const up = testValues(B * H * T * dk, 54);
    // Repeated K/V built here, element by element: head h of the repeat is kv head floor(h / G).
    const repeat = (values: number[]): number[] => {
      const out: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let head = 0; head < H; head++) {
          const shared = Math.floor(head / G);
          out.push(...values.slice((b * Hkv + shared) * T * dk, ((b * Hkv + shared) * T + T) * dk));
        }
      }
      return out;
    };
    const baseline = tf.memory().numTensors;
    const [grouped, repeated, gradients] = tf.tidy(() => {
      const upT = tf.tensor4d(up, [B, H, T, dk]);
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(attentionCore(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, defaultCore), upT));
      const [qT, kT, vT] = [
        tf.tensor4d(q, [B, H, T, dk]),
        tf.tensor4d(k, [B, Hkv, T, dk]),
        tf.tensor4d(v, [B, Hkv, T, dk]),
      ];
      const [kRep, vRep] = [tf.tensor4d(repeat(k), [B, H, T, dk]), tf.tensor4d(repeat(v), [B, H, T, dk])];
      const groupedGrads = tf
        .grads(loss)([qT, kT, vT])
        .map((g) => Array.from(g.dataSync()));
      const repeatedGrads = tf
        .grads(loss)([qT, kRep, vRep])
        .map((g) => Array.from(g.dataSync()));
      return [
        attentionCore(qT, kT, vT, defaultCore).dataSync(),
        attentionCore(qT, kRep, vRep, defaultCore).dataSync(),
        { groupedGrads, repeatedGrads },
      ] as const;
    });
    expect(tf.memory().numTensors).toBe(baseline);
    expect(maxAbsDifference(grouped, repeated)).toBeLessThan(1e-6);
    const [dq, dk_, dv] = gradients.groupedGrads as [number[], number[], number[]];
    const [dqRep, dkRep, dvRep] = gradients.repeatedGrads as [number[], number[], number[]];
    expect(maxAbsDifference(dq, dqRep)).toBeLessThan(1e-6);
    // A shared head's gradient is the sum of its G repeats' gradients.
    const sumOverGroup = (repeatedGrad: number[]): number[] => {
      const out = new Array<number>(B * Hkv * T * dk).fill(0);
      for (let b = 0; b < B; b++) {
        for (let head = 0; head < H; head++) {
          const shared = Math.floor(head / G);
          for (let i = 0; i < T * dk; i++)
            out[(b * Hkv + shared) * T * dk + i]! += repeatedGrad[(b * H + head) * T * dk + i]!;
        }
      }
      return out;
    };
    expect(maxAbsDifference(dk_, sumOverGroup(dkRep))).toBeLessThan(1e-6);
    expect(maxAbsDifference(dv, sumOverGroup(dvRep))).toBeLessThan(1e-6);
  });

  it('attention with kv projections of width dkv equals multi-head attention whose k and v columns repeat per group, RoPE included', () => {
    const [T, d, H, Hkv] = [5, 8, 4, 2];
    const dk = d / H;
    const dkv = Hkv * dk;
    const x = testValues(T * d, 61);
    const matrix = (rowsCount: number, columns: number, seed: number) =>
      testValues(rowsCount * columns, seed).map((v) => v * 0.7);
    const [wq, wk, wv, wo] = [matrix(d, d, 62), matrix(d, dkv, 63), matrix(d, dkv, 64), matrix(d, d, 65)];
    const [bk, bv] = [testValues(dkv, 66), testValues(dkv, 67)];
    // Columns of head h in the repeat are the grouped columns of kv head floor(h / G).
    const repeatColumns = (w: number[], width: number): number[] => {
      const out: number[] = [];
      for (let r = 0; r < width; r++) {
        for (let head = 0; head < H; head++) {
          const shared = Math.floor(head / (H / Hkv));
          out.push(...w.slice(r * dkv + shared * dk, r * dkv + (shared + 1) * dk));
        }
      }
      return out;
    };
    const [grouped, repeated] = tf.tidy(() => {
      const rope = ropeTables(T, dk, 500000);
      const xT = tf.tensor3d(x, [1, T, d]);
      const common = { q_proj: tf.tensor2d(wq, [d, d]), output_proj: tf.tensor2d(wo, [d, d]) };
      const groupedWeights: AttentionWeights = {
        ...common,
        k_proj: tf.tensor2d(wk, [d, dkv]),
        v_proj: tf.tensor2d(wv, [d, dkv]),
        k_proj_bias: tf.tensor1d(bk),
        v_proj_bias: tf.tensor1d(bv),
      };
      const repeatedWeights: AttentionWeights = {
        ...common,
        k_proj: tf.tensor2d(repeatColumns(wk, d), [d, d]),
        v_proj: tf.tensor2d(repeatColumns(wv, d), [d, d]),
        k_proj_bias: tf.tensor1d(repeatColumns(bk, 1)),
        v_proj_bias: tf.tensor1d(repeatColumns(bv, 1)),
      };
      return [
        attention(xT, groupedWeights, { query: H, keyValue: Hkv }, rope).dataSync(),
        attention(xT, repeatedWeights, { query: H, keyValue: H }, rope).dataSync(),
      ];
    });
    expect(maxAbsDifference(grouped, repeated)).toBeLessThan(1e-5);
  });

  it('tied logits are x E^T with E [Vp, d] as stored, and the table gets dE = dy^T x', () => {
    const [B, T, d, Vp] = [2, 3, 4, 5];
    const x = testValues(B * T * d, 71);
    const table = testValues(Vp * d, 72); // [Vp, d], row-major
    const up = testValues(B * T * Vp, 73);
    const expected: number[] = [];
    const expectedDTable = new Array<number>(Vp * d).fill(0);
    for (let token = 0; token < B * T; token++) {
      for (let row = 0; row < Vp; row++) {
        let logit = 0;
        for (let j = 0; j < d; j++) {
          logit += x[token * d + j]! * table[row * d + j]!;
          expectedDTable[row * d + j]! += up[token * Vp + row]! * x[token * d + j]!;
        }
        expected.push(logit);
      }
    }
    const [logits, dTable] = tf.tidy(() => {
      const [xT, tableT] = [tf.tensor3d(x, [B, T, d]), tf.tensor2d(table, [Vp, d])];
      const upT = tf.tensor3d(up, [B, T, Vp]);
      const grad = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tiedLogits(xT, e as tf.Tensor2D), upT)))(tableT);
      expect(grad.shape).toEqual([Vp, d]);
      return [tiedLogits(xT, tableT).dataSync(), grad.dataSync()];
    });
    expect(maxAbsDifference(logits, expected)).toBeLessThan(1e-6);
    expect(maxAbsDifference(dTable, expectedDTable)).toBeLessThan(1e-6);
  });

  it('learned positions add table rows 0..T-1; the table gets the batch-summed dy in those rows and 0 after', () => {
    const [B, T, d, ctx] = [2, 3, 2, 5];
    const x = testValues(B * T * d, 81);
    const table = testValues(ctx * d, 82);
    const up = testValues(B * T * d, 83);
    const expected = x.map((value, i) => value + table[i % (T * d)]!);
    const expectedDTable = table.map((_, i) => (i < T * d ? up[i]! + up[T * d + i]! : 0));
    const [sum, dTable] = tf.tidy(() => {
      const [xT, tableT] = [tf.tensor3d(x, [B, T, d]), tf.tensor2d(table, [ctx, d])];
      const upT = tf.tensor3d(up, [B, T, d]);
      const grad = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(addLearnedPositions(xT, p as tf.Tensor2D), upT)))(tableT);
      return [addLearnedPositions(xT, tableT).dataSync(), grad.dataSync()];
    });
    expect(maxAbsDifference(sum, expected)).toBeLessThan(1e-7);
    expect(maxAbsDifference(dTable, expectedDTable)).toBeLessThan(1e-6);
  });

  it('a biased linear adds b after x W; the bias gets dy summed over all tokens', () => {
    const [B, T, dIn, dOut] = [2, 2, 3, 2];
    const x = testValues(B * T * dIn, 91);
    const w = testValues(dIn * dOut, 92);
    const b = [0.5, -1];
    const up = testValues(B * T * dOut, 93);
    const expected: number[] = [];
    for (let token = 0; token < B * T; token++) {
      for (let o = 0; o < dOut; o++) {
        let out = b[o]!;
        for (let i = 0; i < dIn; i++) out += x[token * dIn + i]! * w[i * dOut + o]!;
        expected.push(out);
      }
    }
    const expectedDb = [0, 1].map((o) => up.filter((_, i) => i % dOut === o).reduce((s, value) => s + value, 0));
    const [out, db] = tf.tidy(() => {
      const [xT, wT, bT] = [tf.tensor3d(x, [B, T, dIn]), tf.tensor2d(w, [dIn, dOut]), tf.tensor1d(b)];
      const upT = tf.tensor3d(up, [B, T, dOut]);
      const grad = tf.grad((bias: tf.Tensor) => tf.sum(tf.mul(linear(xT, wT, bias as tf.Tensor1D), upT)))(bT);
      return [linear(xT, wT, bT).dataSync(), grad.dataSync()];
    });
    expect(maxAbsDifference(out, expected)).toBeLessThan(1e-6);
    expect(maxAbsDifference(db, expectedDb)).toBeLessThan(1e-6);
  });
});

/** Every variant at once: GPT-2's block with grouped-query attention, a padded vocabulary and tied embeddings. */
const everyVariant = everyVariantConfig('test/model_variants.test.ts');

/** Logits of `ids` read back as [B][T][Vp]; the logits tensor is released. */
function logitsOf(config: ModelConfig, weights: TransformerWeights, ids: number[][]): number[][][] {
  return tf.tidy(() => {
    const idsT = tf.tensor2d(ids, [ids.length, ids[0]!.length], 'int32');
    return forward(config, weights, idsT).arraySync();
  });
}

const flat = (values: number[][][]): number[] => values.flat(2);

describe('the whole model for every variant (cpu)', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    await useBackend('cpu');
  });

  it('computes the logits a plain-JavaScript reference computes from the definitions, is causal, and releases every tensor', () => {
    const run = fc.record({ batch: fc.integer({ min: 1, max: 2 }), seed: fc.integer({ min: 0, max: 1000 }) });
    fc.assert(
      fc.property(variantConfig, run, (config, { batch, seed }) => {
        const weights = initWeights(config, { seed, init: 'random' });
        try {
          const baseline = tf.memory().numTensors;
          const T = config.context_length;
          const idsT = tokenIds(config, { batch, seq: T }, { seed, init: 'random' });
          const ids = idsT.arraySync();
          idsT.dispose();
          const logits = logitsOf(config, weights, ids);
          const Vp = Math.ceil(config.vocab_size / config.vocab_multiple!) * config.vocab_multiple!;
          expect([logits.length, logits[0]!.length, logits[0]![0]!.length]).toEqual([batch, T, Vp]);
          const reference = referenceLogits(config, weights, ids);
          const scale = Math.max(1, ...flat(reference).map(Math.abs));
          expect(maxAbsDifference(flat(logits), flat(reference)) / scale).toBeLessThan(2e-5);

          // Causality: change every token from position p on; logits before p stay, from p on they follow the reference.
          const p = Math.floor(T / 2);
          const changed = ids.map((sequence) =>
            sequence.map((id, t) => (t < p ? id : (id + 1 + t) % config.vocab_size)),
          );
          const after = logitsOf(config, weights, changed);
          const before = (values: number[][][]) => flat(values.map((sequence) => sequence.slice(0, p)));
          expect(maxAbsDifference(before(after), before(logits))).toBeLessThan(1e-5 * scale);
          expect(maxAbsDifference(flat(after), flat(referenceLogits(config, weights, changed))) / scale).toBeLessThan(
            2e-5,
          );
          expect(tf.memory().numTensors).toBe(baseline);
        } finally {
          disposeWeights(weights);
        }
      }),
      { numRuns: 30, seed: 11_2026 },
    );
  });

  it("rotates by the config's rope_theta", () => {
    // dk = 4: pair 1 turns by t / theta^(2/4) = t / sqrt(theta), so theta shows in its angle.
    const config: ModelConfig = {
      ...everyVariant,
      positions: 'rope',
      d_model: 8,
      num_heads: 2,
      num_kv_heads: 1,
      rope_theta: 500000,
    };
    const weights = initWeights(config, { seed: 2, init: 'fill' });
    const angles: number[] = [];
    try {
      tf.tidy(() => {
        forward(config, weights, tf.fill<tf.Rank.R2>([1, 4], 1, 'int32'), {
          rope: (x, tables) => {
            angles.push(tables.sin.dataSync()[1 * 4 + 3]!); // position 1, channel 3 = pair 1's +sin
            return x;
          },
        });
      });
    } finally {
      disposeWeights(weights);
    }
    expect(angles).toHaveLength(2 * config.num_layers); // q and k of every layer
    for (const angle of angles) expect(angle).toBeCloseTo(Math.sin(1 / Math.sqrt(500000)), 8);
    expect(Math.sin(1 / Math.sqrt(10000)) - Math.sin(1 / Math.sqrt(500000))).toBeGreaterThan(0.008); // the default would differ
  });
});

describe('gradients and backends for every variant', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    await useBackend('cpu');
  });

  /** Gradients of sum(logits * up) with respect to every weight, in weightEntries order. */
  function gradientsOf(config: ModelConfig, weights: TransformerWeights, ids: tf.Tensor2D, up: tf.Tensor): tf.Tensor[] {
    const tensors = weightEntries(weights).map((entry) => entry.tensor);
    return tf.grads(() => tf.sum(tf.mul(forward(config, weights, ids), up)))(tensors);
  }

  it('reach every weight with its shape; a tied table gets its lookup gradient plus the untied lm_head gradient transposed', () => {
    const weights = initWeights(everyVariant, { seed: 4, init: 'random' });
    const baseline = tf.memory().numTensors;
    try {
      const [tiedTable, untiedTable, lmHeadTransposed] = tf.tidy(() => {
        const ids = tokenIds(everyVariant, { batch: 2, seq: 6 }, { seed: 4, init: 'random' });
        const up = tf.tensor3d(testValues(2 * 6 * 16, 101), [2, 6, 16]);
        const tied = gradientsOf(everyVariant, weights, ids, up);
        const entries = weightEntries(weights);
        tied.forEach((gradient, i) => {
          expect(gradient.shape, entries[i]!.path).toEqual(entries[i]!.tensor.shape);
          const values = gradient.dataSync();
          expect(values.every(Number.isFinite), entries[i]!.path).toBe(true);
          expect(
            values.some((value) => value !== 0),
            `${entries[i]!.path} ${entries[i]!.name}`,
          ).toBe(true);
        });
        // The same model untied, its lm_head set to E^T: the two gradients the tied table sums, apart.
        const untiedConfig: ModelConfig = { ...everyVariant, tie_embeddings: false };
        const untiedWeights: TransformerWeights = { ...weights, lm_head: tf.transpose(weights.token_embeddings) };
        const untied = gradientsOf(untiedConfig, untiedWeights, ids, up);
        return [tied[0]!.dataSync(), untied[0]!.dataSync(), tf.transpose(untied.at(-1)!).dataSync()];
      });
      expect(tf.memory().numTensors).toBe(baseline);
      const summed = Array.from(untiedTable, (value, i) => value + lmHeadTransposed[i]!);
      expect(maxAbsDifference(tiedTable, summed)).toBeLessThan(1e-4);
      expect(maxAbsDifference(lmHeadTransposed, new Float32Array(lmHeadTransposed.length))).toBeGreaterThan(1e-3);
    } finally {
      disposeWeights(weights);
    }
  });

  it('releases every tensor when a variant module throws in the forward pass', () => {
    const weights = initWeights(everyVariant, { seed: 5, init: 'fill' });
    const ids = tokenIds(everyVariant, { batch: 1, seq: 8 }, { seed: 5, init: 'fill' });
    const baseline = tf.memory().numTensors;
    try {
      for (const planted of [
        {
          geluMlp: () => {
            throw new Error('planted failure in the GELU MLP');
          },
        },
        {
          layerNorm: () => {
            throw new Error('planted failure in LayerNorm');
          },
        },
        {
          tiedLogits: () => {
            throw new Error('planted failure in the tied lm_head');
          },
        },
        {
          positions: () => {
            throw new Error('planted failure in the position add');
          },
        },
      ]) {
        expect(() => forward(everyVariant, weights, ids, planted)).toThrow('planted failure');
        expect(tf.memory().numTensors).toBe(baseline);
      }
      // Weights of another architecture are refused by name before any kernel runs.
      expect(() => forward({ ...everyVariant, tie_embeddings: false }, weights, ids)).toThrow(
        'forward: weights lack lm_head [12,16] that every-variant needs',
      );
      expect(() => forward({ ...everyVariant, bias: false }, weights, ids)).toThrow(
        'forward: weights lack layers.0.attn.k_proj [12,4] that every-variant needs (found layers.0.attn.q_proj bias in its place)',
      );
      expect(tf.memory().numTensors).toBe(baseline);
    } finally {
      disposeWeights(weights);
      ids.dispose();
    }
  });

  it('runs on wasm with the logits cpu gives, using kernels wasm has', async () => {
    const ids = [[1, 5, 12, 0, 3, 3, 7, 2]];
    const logitsOn = async (backend: 'cpu' | 'wasm'): Promise<number[][][]> => {
      await useBackend(backend);
      // Made on the backend that runs them (seeded, so the same values on both).
      const weights = initWeights(everyVariant, { seed: 6, init: 'random' });
      try {
        return logitsOf(everyVariant, weights, ids);
      } finally {
        disposeWeights(weights);
      }
    };
    try {
      const onCpu = await logitsOn('cpu');
      const onWasm = await logitsOn('wasm');
      expect(maxAbsDifference(flat(onWasm), flat(onCpu))).toBeLessThan(1e-4);
      expect(maxAbsDifference(flat(onCpu), new Array<number>(8 * 16).fill(0))).toBeGreaterThan(0.1);
    } finally {
      await useBackend('cpu');
    }
  });
});

describe('every variant on the meta backend', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    registerMetaBackend();
    await useBackend('cpu');
  });

  /** One traced forward pass, or training step, on `backendName`; every tensor it made is released. */
  async function traceOn(
    backendName: string,
    config: ModelConfig,
    run: RunShape,
    step: 'forward' | 'training',
  ): Promise<KernelRecord[]> {
    await tf.setBackend(backendName);
    const init = backendName === META_BACKEND_NAME ? 'fill' : 'random';
    const weights = toTrainable(initWeights(config, { seed: 8, init }));
    const optimizer = initAdamW(parametersOf(weights));
    const ids = tokenIds(config, run, { seed: 8, init });
    const targets = targetIds(config, run, { seed: 8, init });
    try {
      const { result, records } = traceKernels(
        () =>
          step === 'forward'
            ? forward(config, weights, ids)
            : trainingStep(config, weights, { ids, targets }, optimizer, DEFAULT_ADAMW),
        { phaseOf: currentPhase },
      );
      result.dispose();
      return records.map(({ timeMs: _timeMs, ...rest }) => rest);
    } finally {
      tf.dispose([ids, targets]);
      disposeAdamW(optimizer);
      disposeWeights(weights);
    }
  }

  it('traces kernel for kernel what cpu traces, forward and training step: names, paths, phases, shapes, dtypes, attrs', async () => {
    const baseline = tf.memory().numTensors;
    await fc.assert(
      fc.asyncProperty(variantConfig, fc.integer({ min: 1, max: 2 }), async (config, batch) => {
        const run = { batch, seq: config.context_length };
        for (const step of ['forward', 'training'] as const) {
          const onCpu = await traceOn('cpu', config, run, step);
          const onMeta = await traceOn(META_BACKEND_NAME, config, run, step);
          expect(onMeta).toEqual(onCpu);
        }
        expect(tf.memory().numTensors).toBe(baseline);
      }),
      { numRuns: 15, seed: 13_2026 },
    );
    await useBackend('cpu');
  });
});
