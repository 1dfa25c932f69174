import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MatmulRow } from '../src/analytic/types.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { headScores, headWeightedSum, perHeadDispatch } from '../src/model/head_matmul.js';
import { useBackend } from '../src/runtime/backend.js';
import { describeMismatch, verifyModel } from '../src/verify/index.js';
import { compareMatmuls } from '../src/verify/matmul_check.js';
import { verifyDecode } from '../src/verify/verify_decode.js';
import { verifyTraining } from '../src/verify/verify_training.js';

/**
 * An inventory row may be computed by several kernels (the attention core per head on wasm,
 * src/model/head_matmul.ts): the matcher accepts them when their shapes are exactly the row's
 * split into whole matrices and their FLOPs sum to the row's, and refuses every other set.
 *
 * The row: scores of B 1 x H 4 heads, T 64, dk 16: [1,4,64,16] x [16,64], folded [256,16] x
 * [16,64], 2 * 256 * 16 * 64 = 524,288 FLOPs. Per head: 4 kernels of [64,16] x [16,64],
 * 131,072 FLOPs each.
 */
const ROW: MatmulRow = {
  path: 'layers.0.attn.scores',
  component: 'attention_core',
  description: 'q @ k^T / sqrt(dk)',
  symbolicShapes: '[B,H,T,dk] x [B,H,dk,T]',
  batch: [1, 4],
  m: 64,
  k: 16,
  n: 64,
  flops: 524_288n,
  macs: 262_144n,
};

let nextIndex = 0;

/** A 2-D BatchMatMul record [m, k] x [k, n] at the row's path, with `flops` as the tracer would count (2mkn) unless given. */
function kernel(m: number, k: number, n: number, flops = BigInt(2 * m * k * n)): KernelRecord {
  return {
    index: nextIndex++,
    kernel: 'BatchMatMul',
    path: ROW.path,
    inputs: [
      { shape: [m, k], dtype: 'float32' },
      { shape: [k, n], dtype: 'float32' },
    ],
    outputs: [{ shape: [m, n], dtype: 'float32' }],
    attrs: { transposeA: false, transposeB: false },
    matmul: { batch: 1, m, k, n, flops },
    nested: false,
    flops: 0n,
  };
}

const times = (count: number, make: () => KernelRecord) => Array.from({ length: count }, make);

describe('a row computed by several kernels', () => {
  it('is matched by four per-head kernels of its shape, and the report says how it was dispatched', () => {
    const comparison = compareMatmuls(
      [ROW],
      times(4, () => kernel(64, 16, 64)),
    );
    expect(comparison.ok).toBe(true);
    expect(comparison.tracedCount).toBe(4);
    expect(comparison.dispatchCount).toBe(1);
    const traced = comparison.checks[0]!.traced!;
    expect(traced.kernels).toBe(4);
    expect(traced.display).toBe('4 kernels of [64,16] x [16,64]');
    expect(traced.shape).toEqual({ rows: 256n, k: 16, n: 64 });
    expect(traced.flops).toBe(524_288n);
  });

  it('GQA: a row of 4 query heads over 2 key/value heads, as 2 kernels of G*T = 128 rows', () => {
    // The grouped row is (B 1, Hkv 2) matrices of G*T = 128 rows each (src/model/attention.ts).
    const grouped: MatmulRow = { ...ROW, batch: [1, 2], m: 128 };
    const comparison = compareMatmuls(
      [grouped],
      times(2, () => kernel(128, 16, 64)),
    );
    expect(comparison.ok).toBe(true);
    expect(comparison.checks[0]!.traced!.display).toBe('2 kernels of [128,16] x [16,64]');
  });

  it('planted: the right FLOPs in the wrong shapes (k and n swapped) are refused', () => {
    // 4 x 2 * 64 * 64 * 16 = 524,288: the row's FLOPs exactly, but [64,64] x [64,16] each.
    const comparison = compareMatmuls(
      [ROW],
      times(4, () => kernel(64, 64, 16)),
    );
    expect(comparison.tracedTotal).toBe(ROW.flops);
    expect(comparison.ok).toBe(false);
    expect(comparison.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.scores: shape: expected [256,16] x [16,64] = 524,288 FLOPs; traced BatchMatMul [64,64] x [64,16] = 131,072 FLOPs',
      'layers.0.attn.scores: extra: expected no matmul; traced BatchMatMul [64,64] x [64,16] = 131,072 FLOPs',
      'layers.0.attn.scores: extra: expected no matmul; traced BatchMatMul [64,64] x [64,16] = 131,072 FLOPs',
      'layers.0.attn.scores: extra: expected no matmul; traced BatchMatMul [64,64] x [64,16] = 131,072 FLOPs',
    ]);
  });

  it('planted: the right shapes with a wrong FLOP count are refused', () => {
    const records = [...times(3, () => kernel(64, 16, 64)), kernel(64, 16, 64, 131_073n)];
    const comparison = compareMatmuls([ROW], records);
    expect(comparison.ok).toBe(false);
    expect(comparison.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.scores: count: expected [256,16] x [16,64] = 524,288 FLOPs; traced BatchMatMul (4 kernels) [256,16] x [16,64] = 524,289 FLOPs',
    ]);
  });

  it('planted: too few pieces, or pieces that cut a head matrix in two, are refused', () => {
    const short = compareMatmuls(
      [ROW],
      times(3, () => kernel(64, 16, 64)),
    );
    expect(short.ok).toBe(false);
    expect(short.mismatches.map((check) => check.mismatch)).toEqual(['shape', 'extra', 'extra']);
    // 8 kernels of 32 rows: the row's FLOPs and rows, but each head's 64 rows split across two kernels.
    const halves = compareMatmuls(
      [ROW],
      times(8, () => kernel(32, 16, 64)),
    );
    expect(halves.tracedTotal).toBe(ROW.flops);
    expect(halves.ok).toBe(false);
    expect(halves.mismatches[0]!.mismatch).toBe('shape');
    expect(halves.mismatches).toHaveLength(8);
  });

  it('planted: a projection run in pieces is refused, though its FLOPs and rows add up', () => {
    // q_proj at B 2, T 8, d 16 as one [8,16] x [16,16] kernel per sequence: only the core is ever split.
    const projection: MatmulRow = {
      ...ROW,
      path: 'layers.0.attn.q_proj',
      component: 'attention_projections',
      batch: [2],
      m: 8,
      k: 16,
      n: 16,
      flops: 2n * 2n * 8n * 16n * 16n,
      macs: 2n * 8n * 16n * 16n,
    };
    const perSequence = times(2, () => ({ ...kernel(8, 16, 16), path: projection.path }));
    const split = compareMatmuls([projection], perSequence);
    expect(split.tracedTotal).toBe(projection.flops);
    expect(split.ok).toBe(false);
    expect(split.dispatchCount).toBe(2);
  });

  it('planted: one piece too many leaves it extra', () => {
    const comparison = compareMatmuls(
      [ROW],
      times(5, () => kernel(64, 16, 64)),
    );
    expect(comparison.ok).toBe(false);
    expect(comparison.dispatchCount).toBe(2);
    expect(comparison.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.scores: extra: expected no matmul; traced BatchMatMul [64,16] x [16,64] = 131,072 FLOPs',
    ]);
  });
});

/** GQA (4 query heads over 2 key/value heads), RoPE, SwiGLU: the seed's family, small. */
const GQA: ModelConfig = {
  name: 'dispatch',
  source: 'test/matmul_dispatch.test.ts',
  vocab_size: 32,
  context_length: 16,
  num_layers: 2,
  d_model: 32,
  num_heads: 4,
  num_kv_heads: 2,
  d_ff: 48,
};
const run: RunShape = { batch: 2, seq: 16 };

/** Matmul kernels at the layers' attention-core paths (scores, weighted_sum, and their blocks). */
function coreKernels(records: readonly KernelRecord[]): KernelRecord[] {
  return records.filter((record) => record.matmul !== undefined && /\.attn\.(scores|weighted_sum)/.test(record.path));
}

describe('the attention core per head on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('per head equals the batched product, and leaves no tensor behind', () => {
    expect(perHeadDispatch()).toBe(true);
    const before = tf.memory().numTensors;
    const [q, k, v] = [
      tf.randomNormal<tf.Rank.R4>([2, 3, 5, 4], 0, 1, 'float32', 1),
      tf.randomNormal<tf.Rank.R4>([2, 3, 6, 4], 0, 1, 'float32', 2),
      tf.randomNormal<tf.Rank.R4>([2, 3, 6, 7], 0, 1, 'float32', 3),
    ];
    const largestDifference = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    const scores = headScores(q, k);
    expect(scores.shape).toEqual([2, 3, 5, 6]);
    const reference = tf.matMul(q, k, false, true);
    expect(largestDifference(scores, reference)).toBeLessThan(1e-5);
    const probabilities = tf.softmax(scores);
    const weighted = headWeightedSum(probabilities, v);
    expect(weighted.shape).toEqual([2, 3, 5, 7]);
    const weightedReference = tf.matMul(probabilities, v);
    expect(largestDifference(weighted, weightedReference)).toBeLessThan(1e-5);
    tf.dispose([q, k, v, scores, reference, probabilities, weighted, weightedReference]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a forward pass verifies exactly, each core row as B * Hkv = 4 kernels of G*T = 32 rows', async () => {
    const verification = await verifyModel({ config: GQA, run, backend: 'wasm', seed: 3 });
    expect(verification.ok).toBe(true);
    // Per layer 9 matmuls, 2 of them the core's, then lm_head: 19 rows; each core row as 4 kernels.
    expect(verification.matmulKernelCount).toBe(19);
    expect(verification.matmuls.tracedCount).toBe(19 + 2 * 2 * 3);
    const scores = verification.matmuls.checks.find((check) => check.path === 'layers.0.attn.scores')!;
    // q [2,2,32,8] against k^T [8,16] per (b, j): 2 * (2*2*32) * 8 * 16 FLOPs in all.
    expect(scores.traced!.display).toBe('4 kernels of [32,8] x [8,16]');
    expect(scores.traced!.flops).toBe(BigInt(2 * 128 * 8 * 16));
    for (const record of coreKernels(verification.records)) expect(record.inputs[0]!.shape).toHaveLength(2);
  });

  it('blocked, windowed attention verifies exactly with every block per head', async () => {
    const config: ModelConfig = { ...GQA, window: 6 };
    const verification = await verifyModel({
      config,
      run: { ...run, attention: { kind: 'blocked', block: 4 } },
      backend: 'wasm',
      seed: 4,
    });
    expect(verification.ok).toBe(true);
    const core = verification.matmuls.checks.filter((check) => check.component === 'attention_core');
    // 16 positions in blocks of 4, window 6: query block a keeps the key blocks holding a - 5..a + 3.
    expect(core.length).toBe(2 * 2 * (1 + 2 + 3 + 3));
    for (const check of core) expect(check.traced!.kernels).toBe(4);
  });

  it('a training step keeps the batched kernels: one per core row, and verifies exactly', async () => {
    const step = await verifyTraining({ config: GQA, run, backend: 'wasm', seed: 5 });
    expect(step.ok).toBe(true);
    const core = coreKernels(step.records);
    expect(core.length).toBeGreaterThan(0);
    for (const record of core) expect(record.inputs[0]!.shape).toHaveLength(4);
  });

  it('a prefill and decode steps verify exactly per head', async () => {
    const decode = await verifyDecode({
      config: GQA,
      request: { batch: 1, prompt: 5, generate: 3 },
      backend: 'wasm',
      seed: 6,
    });
    expect(decode.ok).toBe(true);
    const step = decode.steps[0]!;
    const scores = step.matmuls.checks.find((check) => check.path === 'layers.0.attn.scores')!;
    // One new query per head, against the 6 cached and new keys: per (b, j) [2,8] x [8,6].
    expect(scores.traced!.display).toBe('2 kernels of [2,8] x [8,6]');
  });
});
