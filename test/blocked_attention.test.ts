/**
 * Sliding windows and blocked attention in the tfjs model, against a plain-JavaScript reference
 * written here from the definitions: query q keeps keys k with q - w < k <= q (w = Infinity on a
 * layer without a window), each score soft-capped as cap * tanh(s / cap) when asked, softmax over
 * them, weighted sum of v. The blocked core must give the dense core's values and gradients
 * (within 1e-5), and skip exactly the blocks it should.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { DENSE_ATTENTION } from '../src/config/attention_schedule.js';
import {
  attentionCore,
  bandMask,
  defaultAttentionParts,
  forward,
  initWeights,
  disposeWeights,
  tokenIds,
  type AttentionCoreSpec,
} from '../src/model/index.js';
import { traceKernels } from '../src/trace/tracer.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { maxAbsDifference, testValues } from './helpers/test_values.js';

/** softmax over the kept keys of each query, times v: (B, H, T, dk) from q (B,H,T,dk), k and v (B,Hkv,T,dk). */
function referenceAttention(
  q: number[],
  k: number[],
  v: number[],
  [B, H, Hkv, T, dk]: readonly [number, number, number, number, number],
  window: number | undefined,
  softcap?: number,
): number[] {
  const out: number[] = [];
  const G = H / Hkv;
  const w = window ?? Infinity;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const j = Math.floor(h / G);
      const qAt = (t: number, i: number) => q[((b * H + h) * T + t) * dk + i]!;
      const kvAt = (x: number[], s: number, i: number) => x[((b * Hkv + j) * T + s) * dk + i]!;
      for (let t = 0; t < T; t++) {
        const keys: number[] = [];
        for (let s = 0; s <= t; s++) if (t - s < w) keys.push(s);
        const scores = keys.map((s) => {
          let dot = 0;
          for (let i = 0; i < dk; i++) dot += qAt(t, i) * kvAt(k, s, i);
          const scaled = dot / Math.sqrt(dk);
          return softcap === undefined ? scaled : softcap * Math.tanh(scaled / softcap);
        });
        const top = Math.max(...scores);
        const total = scores.reduce((sum, score) => sum + Math.exp(score - top), 0);
        for (let i = 0; i < dk; i++) {
          let sum = 0;
          keys.forEach((s, n) => (sum += (Math.exp(scores[n]! - top) / total) * kvAt(v, s, i)));
          out.push(sum);
        }
      }
    }
  }
  return out;
}

const shapes = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  Hkv: fc.integer({ min: 1, max: 2 }),
  G: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: 13 }),
  dk: fc.integer({ min: 1, max: 4 }),
  block: fc.integer({ min: 1, max: 8 }),
  window: fc.option(fc.integer({ min: 1, max: 15 }), { nil: undefined }),
  softcap: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  seed: fc.integer({ min: 1, max: 10_000 }),
});

describe('the attention core with windows, dense and blocked', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('keeps exactly the keys q - w < k <= q: the band mask, worked out by hand', () => {
    // Queries 4..6 against keys 1..6 with w = 3: query 4 keeps 2..4, query 5 keeps 3..5, query 6 keeps 4..6.
    const mask = tf.tidy(() => bandMask(4, 3, 1, 6, 3).arraySync());
    const kept = mask.map((row) => row.map((value) => (value === 0 ? 1 : 0)));
    expect(kept).toEqual([
      [0, 1, 1, 1, 0, 0],
      [0, 0, 1, 1, 1, 0],
      [0, 0, 0, 1, 1, 1],
    ]);
    expect(mask[0]![0]).toBe(-Infinity);
  });

  it('dense and blocked both equal the reference, values within 1e-5, and their gradients agree', () => {
    fc.assert(
      fc.property(shapes, ({ B, Hkv, G, T, dk, block, window, softcap, seed }) => {
        const H = Hkv * G;
        const q = testValues(B * H * T * dk, seed).map((x) => 2 * x);
        const k = testValues(B * Hkv * T * dk, seed + 1).map((x) => 2 * x);
        const v = testValues(B * Hkv * T * dk, seed + 2);
        const up = testValues(B * H * T * dk, seed + 3);
        const expected = referenceAttention(q, k, v, [B, H, Hkv, T, dk], window, softcap);
        const cap = softcap === undefined ? {} : { softcap };
        const dense: AttentionCoreSpec = { window, schedule: DENSE_ATTENTION, ...cap };
        const blocked: AttentionCoreSpec = { window, schedule: { kind: 'blocked', block }, ...cap };
        const before = tf.memory().numTensors;
        const [denseOut, blockedOut, denseGrads, blockedGrads] = tf.tidy(() => {
          const qT = tf.tensor4d(q, [B, H, T, dk]);
          const kT = tf.tensor4d(k, [B, Hkv, T, dk]);
          const vT = tf.tensor4d(v, [B, Hkv, T, dk]);
          const upT = tf.tensor4d(up, [B, H, T, dk]);
          const lossOf = (core: AttentionCoreSpec) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.sum(
              tf.mul(
                attentionCore(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, defaultAttentionParts, core),
                upT,
              ),
            );
          const grads = (core: AttentionCoreSpec) =>
            tf
              .grads(lossOf(core))([qT, kT, vT])
              .flatMap((g) => Array.from(g.dataSync()));
          return [
            attentionCore(qT, kT, vT, defaultAttentionParts, dense).dataSync(),
            attentionCore(qT, kT, vT, defaultAttentionParts, blocked).dataSync(),
            grads(dense),
            grads(blocked),
          ] as const;
        });
        expect(tf.memory().numTensors).toBe(before);
        expect(maxAbsDifference(denseOut, expected)).toBeLessThan(1e-5);
        expect(maxAbsDifference(blockedOut, expected)).toBeLessThan(1e-5);
        expect(maxAbsDifference(blockedGrads, denseGrads)).toBeLessThan(1e-5);
      }),
      { numRuns: 80, seed: 20_240_613 },
    );
  });

  it('runs a score matmul for exactly the blocks the mask does not empty, each named by its blocks', () => {
    // T = 10, blocks of 4: query blocks 0..3, 4..7, 8..9. Window 3: query block 1 (4..7) keeps keys
    // 2..7, i.e. key blocks 0 (0..3, partly) and 1 (4..7); query block 2 (8..9) keeps keys 6..9:
    // key blocks 1 and 2. Query block 0 keeps key block 0 only.
    const [B, H, T, dk] = [1, 2, 10, 2];
    const core: AttentionCoreSpec = { window: 3, schedule: { kind: 'blocked', block: 4 } };
    const trace = traceKernels(() =>
      tf.tidy(() => {
        const x = tf.ones<tf.Rank.R4>([B, H, T, dk]);
        return attentionCore(x, x, x, defaultAttentionParts, core);
      }),
    );
    trace.result.dispose();
    const matmuls = trace.records.filter((record) => record.matmul !== undefined);
    expect(
      matmuls.map((record) => `${record.path} ${record.matmul!.m}x${record.matmul!.k}x${record.matmul!.n}`),
    ).toEqual([
      'scores.q0_k0 4x2x4',
      'weighted_sum.q0_k0 4x4x2',
      'scores.q1_k0 4x2x4',
      'scores.q1_k1 4x2x4',
      'weighted_sum.q1_k0 4x4x2',
      'weighted_sum.q1_k1 4x4x2',
      'scores.q2_k1 2x2x4',
      'scores.q2_k2 2x2x2',
      'weighted_sum.q2_k1 2x4x2',
      'weighted_sum.q2_k2 2x2x2',
    ]);
    // The masks: q0_k0 (causal), q1_k0 (window), q1_k1 (causal), q2_k1 (window: key 5 is out), q2_k2 (causal).
    const ranges = trace.records.filter((record) => record.kernel === 'Range');
    const masked = [...new Set(ranges.map((record) => record.path))];
    expect(masked).toEqual(['scores.q0_k0', 'scores.q1_k0', 'scores.q1_k1', 'scores.q2_k1', 'scores.q2_k2']);
  });
});

describe('a model with windows on some layers, dense and blocked', () => {
  it('gives the same logits either way, within 1e-5, and the window changes them', () => {
    const config: ModelConfig = {
      name: 'windowed',
      source: 'test/blocked_attention.test.ts',
      vocab_size: 17,
      context_length: 12,
      num_layers: 3,
      d_model: 12,
      num_heads: 3,
      num_kv_heads: 1,
      d_ff: 20,
      window: 3,
      window_layers: 'LG',
    };
    const run = { batch: 2, seq: 11 };
    const weights = initWeights(config, { seed: 7, init: 'random' });
    const ids = tokenIds(config, run, { seed: 7, init: 'random' });
    // Each pass's logits read out and released at once.
    const logitsOf = (pass: () => tf.Tensor) => tf.tidy(() => pass().dataSync());
    try {
      const dense = logitsOf(() => forward(config, weights, ids));
      const blocked = logitsOf(() => forward(config, weights, ids, {}, { attention: { kind: 'blocked', block: 4 } }));
      const unwindowed = logitsOf(() =>
        forward({ ...config, window: undefined, window_layers: undefined }, weights, ids),
      );
      expect(maxAbsDifference(blocked, dense)).toBeLessThan(1e-5);
      expect(maxAbsDifference(unwindowed, dense)).toBeGreaterThan(1e-3);
    } finally {
      ids.dispose();
      disposeWeights(weights);
    }
  });
});
