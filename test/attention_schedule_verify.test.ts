/**
 * Windows per layer and the blocked schedule, end to end: the closed forms against brute force
 * written here, the traced model against the formulas on cpu and meta (forward and training
 * step), meta against cpu record for record, and planted faults (a window one position too wide)
 * caught with their exact mismatch reports.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { blockedPairs, blockedScores, scoreBlocks, usefulScores } from '../src/analytic/attention_blocks.js';
import type { AttentionSchedule } from '../src/config/attention_schedule.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import {
  defaultModelParts,
  disposeWeights,
  forward,
  initWeights,
  tokenIds,
  type ModelParts,
} from '../src/model/index.js';
import { verifyModel } from '../src/verify/index.js';
import { describeMaskMismatch } from '../src/verify/mask_check.js';
import { describeMismatch } from '../src/verify/matmul_check.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { verdictLine } from '../src/views/verify_report.js';
import { maxAbsDifference } from './helpers/test_values.js';

/** Whether the query at q keeps the key at k: k <= q, and q - w < k with a window. */
const keeps = (q: number, k: number, w: number | undefined) => k <= q && (w === undefined || q - k < w);

/**
 * The blocked schedule by brute force, pair by pair: every (query block, key block) pair holding at
 * least one kept (q, k) is computed in full, R x C scores; `masked` when it also holds a removed one.
 */
function bruteForceBlocks(T: number, b: number, w: number | undefined) {
  const pairs: { a: number; j: number; scores: number; masked: boolean }[] = [];
  for (let a = 0; a * b < T; a++) {
    for (let j = 0; j * b < T; j++) {
      let kept = 0;
      let removed = 0;
      for (let q = a * b; q < Math.min(T, (a + 1) * b); q++) {
        for (let k = j * b; k < Math.min(T, (j + 1) * b); k++) {
          if (keeps(q, k, w)) kept += 1;
          else removed += 1;
        }
      }
      if (kept > 0) pairs.push({ a, j, scores: kept + removed, masked: removed > 0 });
    }
  }
  return pairs;
}

// Every test releases what it makes. The engine's own count: tf.memory() would ask a backend
// that may not have started yet.
let tensorsBefore = 0;
beforeEach(() => {
  tensorsBefore = tf.engine().state.numTensors;
});
afterEach(() => {
  expect(tf.engine().state.numTensors).toBe(tensorsBefore);
});

describe('the blocked schedule in closed form', () => {
  it('equals brute force: scores, pairs, which pairs are masked, and the useful count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.integer({ min: 1, max: 45 }), { nil: undefined }),
        (T, b, w) => {
          const brute = bruteForceBlocks(T, b, w);
          const scores = brute.reduce((sum, pair) => sum + pair.scores, 0);
          expect(blockedScores(T, b, w)).toBe(BigInt(scores));
          expect(blockedPairs(T, b, w)).toBe(BigInt(brute.length));
          expect(
            scoreBlocks(T, b, w).map((row) => ({
              a: row.queryBlock,
              j: row.keyBlock,
              scores: row.queries * row.keys,
              masked: row.masked,
            })),
          ).toEqual(brute);
          let useful = 0;
          for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) if (keeps(q, k, w)) useful += 1;
          expect(usefulScores(T, w)).toBe(BigInt(useful));
        },
      ),
      { numRuns: 400, seed: 4096 },
    );
  });

  it('works a case by hand: T = 10, blocks of 4, window 3', () => {
    // Query block 0 (0..3) keeps key block 0; block 1 (4..7) keeps keys 2..7: key blocks 0 and 1;
    // block 2 (8..9) keeps keys 6..9: key blocks 1 and 2. Scores 16 + 16 + 16 + 8 + 4 = 60 of 100.
    expect(blockedScores(10, 4, 3)).toBe(60n);
    expect(blockedPairs(10, 4, 3)).toBe(5n);
    // Useful: 1 + 2 + 3 * 8 = 27 scores; causal alone 55; blocked without a window 16 + 2 * 16 +
    // 2 * (4 + 4 + 2) = 68 (query block 2 holds 2 queries and keeps all 10 keys).
    expect(usefulScores(10, 3)).toBe(27n);
    expect(usefulScores(10, undefined)).toBe(55n);
    expect(blockedScores(10, 4, undefined)).toBe(68n);
  });
});

/** A small model with a window on the layers `pattern` marks L (random shapes, seeded). */
const windowedModel = fc
  .record({
    vocab: fc.integer({ min: 2, max: 24 }),
    layers: fc.integer({ min: 1, max: 3 }),
    kvHeads: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    halfHeadDim: fc.integer({ min: 1, max: 3 }),
    ffn: fc.integer({ min: 1, max: 16 }),
    batch: fc.integer({ min: 1, max: 2 }),
    seq: fc.integer({ min: 1, max: 14 }),
    window: fc.option(fc.integer({ min: 1, max: 16 }), { nil: undefined }),
    pattern: fc.constantFrom('L', 'LG', 'GL', 'LLG'),
    block: fc.integer({ min: 1, max: 6 }),
    seed: fc.integer({ min: 0, max: 1000 }),
  })
  .map(({ vocab, layers, kvHeads, groups, halfHeadDim, ffn, batch, seq, window, pattern, block, seed }) => {
    const heads = kvHeads * groups;
    const config: ModelConfig = {
      name: 'windowed-small',
      source: 'test/attention_schedule_verify.test.ts',
      vocab_size: vocab,
      context_length: seq,
      num_layers: layers,
      d_model: heads * 2 * halfHeadDim,
      num_heads: heads,
      num_kv_heads: kvHeads,
      d_ff: ffn,
      ...(window === undefined ? {} : { window, ...(pattern === 'L' ? {} : { window_layers: pattern }) }),
    };
    return { config, batch, seq, block, seed, pattern };
  });

/** Layer i's window as the test reads the config: the pattern repeated from layer 0. */
function windowOf(config: ModelConfig, i: number): number | undefined {
  const pattern = typeof config.window_layers === 'string' ? config.window_layers : 'L';
  return config.window !== undefined && pattern[i % pattern.length] === 'L' ? config.window : undefined;
}

/** The core's FLOPs by brute force: 4 * B * H * dh per score computed, dense (T^2) or blocked. */
function coreFlops(config: ModelConfig, run: RunShape): bigint {
  const dh = config.d_model / config.num_heads;
  let scores = 0;
  for (let i = 0; i < config.num_layers; i++) {
    scores +=
      run.attention?.kind === 'blocked'
        ? bruteForceBlocks(run.seq, run.attention.block, windowOf(config, i)).reduce(
            (sum, pair) => sum + pair.scores,
            0,
          )
        : run.seq * run.seq;
  }
  return 4n * BigInt(run.batch * config.num_heads * dh) * BigInt(scores);
}

/** What a record shows of a kernel, for comparing two backends record by record. */
const shown = (record: KernelRecord) => ({
  kernel: record.kernel,
  path: record.path,
  inputs: record.inputs.map((input) => input.shape.join('x')),
  outputs: record.outputs.map((output) => `${output.shape.join('x')} ${output.dtype}`),
  attrs: record.attrs,
});

describe('windows per layer, dense and blocked, traced on cpu and meta', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('match the formulas exactly, meta traces what cpu traces, and blocked logits equal dense', async () => {
    await fc.assert(
      fc.asyncProperty(windowedModel, async ({ config, batch, seq, block, seed }) => {
        const blocked: AttentionSchedule = { kind: 'blocked', block };
        for (const attention of [undefined, blocked]) {
          const run: RunShape = { batch, seq, ...(attention === undefined ? {} : { attention }) };
          const traces: KernelRecord[][] = [];
          for (const backend of ['cpu', 'meta'] as const) {
            const before = tf.memory().numTensors;
            const verification = await verifyModel({ config, run, backend, seed });
            expect(verification.matmuls.mismatches).toEqual([]);
            expect(verification.masks.mismatches).toEqual([]);
            expect(verification.matmulKernelCount).toBe(verification.expectedMatmulKernelCount);
            expect(verification.ok).toBe(true);
            const core = verification.matmuls.byComponent.find((entry) => entry.component === 'attention_core')!;
            expect(core.traced).toBe(coreFlops(config, run));
            expect(verification.nonMatmul.difference).toBe(0n);
            expect(verification.nonMatmul.uncounted).toEqual([]);
            expect(tf.memory().numTensors).toBe(before);
            traces.push([...verification.records]);
          }
          expect(traces[1]!.map(shown)).toEqual(traces[0]!.map(shown));
        }
        // The logits: blocked against dense, real compute.
        await tf.setBackend('cpu');
        const weights = initWeights(config, { seed, init: 'random' });
        const ids = tokenIds(config, { batch, seq }, { seed, init: 'random' });
        const dense = forward(config, weights, ids);
        const logits = forward(config, weights, ids, {}, { attention: blocked });
        try {
          expect(maxAbsDifference(logits.dataSync(), dense.dataSync())).toBeLessThan(1e-5);
        } finally {
          tf.dispose([dense, logits, ids]);
          disposeWeights(weights);
        }
      }),
      { numRuns: 25, seed: 1_337 },
    );
  });

  it('verify a training step exactly, forward and backward, dense and blocked, on cpu and meta', async () => {
    const config: ModelConfig = {
      name: 'gemma-like',
      source: 'test/attention_schedule_verify.test.ts',
      vocab_size: 19,
      context_length: 13,
      num_layers: 3,
      d_model: 16,
      num_heads: 4,
      num_kv_heads: 2,
      d_ff: 24,
      window: 5,
      window_layers: 'LG',
    };
    for (const attention of [undefined, { kind: 'blocked', block: 4 } as const]) {
      const run: RunShape = { batch: 2, seq: 13, ...(attention === undefined ? {} : { attention }) };
      for (const backend of ['cpu', 'meta'] as const) {
        const verification = await verifyTraining({ config, run, backend });
        expect(verification.forward.mismatches).toEqual([]);
        expect(verification.backward.mismatches).toEqual([]);
        expect(verification.masks.mismatches).toEqual([]);
        expect(verification.ok).toBe(true);
        // Every backward matmul of the core doubles its forward one, block by block as well.
        const core = verification.components.find((entry) => entry.component === 'attention_core')!;
        expect(core.backward).toBe(2n * core.forward);
        expect(core.forward).toBe(coreFlops(config, run));
      }
    }
  });
});

describe('a window one position too wide is caught', () => {
  const config: ModelConfig = {
    name: 'windowed',
    source: 'test/attention_schedule_verify.test.ts',
    vocab_size: 11,
    context_length: 12,
    num_layers: 2,
    d_model: 8,
    num_heads: 2,
    d_ff: 8,
    window: 4,
    window_layers: 'LG',
  };
  /** The model's attention built with each sliding layer's window one position wider than the config says. */
  const wider: Partial<ModelParts> = {
    attention: (x, weights, heads, rope, parts, core, headNorm) =>
      defaultModelParts.attention(
        x,
        weights,
        heads,
        rope,
        parts,
        { ...core, window: core.window === undefined ? undefined : core.window + 1 },
        headNorm,
      ),
  };

  it('dense: every matmul matches, but the mask band of the sliding layer does not', async () => {
    for (const backend of ['cpu', 'meta'] as const) {
      const verification = await verifyModel({ config, run: { batch: 1, seq: 12 }, backend, parts: wider });
      expect(verification.matmuls.ok).toBe(true);
      expect(verification.ok).toBe(false);
      expect(verification.masks.mismatches.map(describeMaskMismatch)).toEqual([
        'layers.0.attn.scores: mask band: expected keys q - 4 < k <= q (window 4), queries 0..11, keys 0..11; ' +
          'traced keys q - 5 < k <= q (window 5), queries 0..11, keys 0..11',
      ]);
      expect(verdictLine(verification)).toBe(
        // 2 layers of 9 matmuls and lm_head: 2 (2*12*4*8*8 + 2*12*3*8*8 + 4*12*12*8) + 2*12*8*11 = 32,832.
        'NOT verified: 19 of 19 expected matmuls match exactly; 0 mismatches; 1 of 2 expected attention masks differ (band); ' +
          `traced 32,832 FLOPs, expected 32,832, on ${backend}`,
      );
    }
  });

  it('blocked, w = 0 mod b: the same blocks are computed, and only the masks show the wider band', async () => {
    const run: RunShape = { batch: 1, seq: 12, attention: { kind: 'blocked', block: 4 } };
    const verification = await verifyModel({ config, run, backend: 'meta', parts: wider });
    expect(verification.matmuls.ok).toBe(true);
    expect(verification.masks.mismatches.map(describeMaskMismatch)).toEqual([
      'layers.0.attn.scores.q0_k0: mask band: expected keys q - 4 < k <= q (window 4), queries 0..3, keys 0..3; ' +
        'traced keys q - 5 < k <= q (window 5), queries 0..3, keys 0..3',
      'layers.0.attn.scores.q1_k0: mask band: expected keys q - 4 < k <= q (window 4), queries 4..7, keys 0..3; ' +
        'traced keys q - 5 < k <= q (window 5), queries 4..7, keys 0..3',
      'layers.0.attn.scores.q1_k1: mask band: expected keys q - 4 < k <= q (window 4), queries 4..7, keys 4..7; ' +
        'traced keys q - 5 < k <= q (window 5), queries 4..7, keys 4..7',
      'layers.0.attn.scores.q2_k1: mask band: expected keys q - 4 < k <= q (window 4), queries 8..11, keys 4..7; ' +
        'traced keys q - 5 < k <= q (window 5), queries 8..11, keys 4..7',
      'layers.0.attn.scores.q2_k2: mask band: expected keys q - 4 < k <= q (window 4), queries 8..11, keys 8..11; ' +
        'traced keys q - 5 < k <= q (window 5), queries 8..11, keys 8..11',
    ]);
    expect(verification.ok).toBe(false);
  });

  it('blocked, w = 1 mod b: the wider window computes a block more, named by its blocks', async () => {
    // w = 5, blocks of 4: query block 2 (8..11) keeps keys 4..11 (key blocks 1, 2); with w = 6 it
    // keeps key 3, so key block 0 (0..3) is computed too: q2_k0, 4 x 4 scores per head.
    const run: RunShape = { batch: 1, seq: 12, attention: { kind: 'blocked', block: 4 } };
    const five = { ...config, window: 5 };
    const verification = await verifyModel({ config: five, run, backend: 'meta', parts: wider });
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.scores.q2_k0: extra: expected no matmul; traced BatchMatMul [8,4] x [4,4] = 256 FLOPs',
      'layers.0.attn.weighted_sum.q2_k0: extra: expected no matmul; traced BatchMatMul [8,4] x [4,4] = 256 FLOPs',
    ]);
    expect(verification.masks.mismatches.map((check) => `${check.path} ${check.mismatch}`)).toEqual([
      'layers.0.attn.scores.q0_k0 band',
      'layers.0.attn.scores.q1_k0 band',
      'layers.0.attn.scores.q1_k1 band',
      'layers.0.attn.scores.q2_k1 band',
      'layers.0.attn.scores.q2_k2 band',
      'layers.0.attn.scores.q2_k0 extra',
    ]);
    expect(verification.matmulKernelCount).toBe(verification.expectedMatmulKernelCount + 2);
  });

  it('what the trace cannot see: a mask with the right ranges but a comparison off by one', async () => {
    // The same three ranges as the model's mask, but "<=" where the window needs "<": each query
    // keeps one key fewer. The trace shows the same ranges and shapes, so the matmul, mask and
    // work checks pass; only a kernel name differs (LessEqual for Less), which the kernel-by-kernel
    // bytes check reads as a kernel missing and one extra. The values catch it too: the logits move.
    const lessEqual: Partial<ModelParts> = {
      scores: (q, k, block) => {
        if (block?.window === undefined || !block.masked) return defaultModelParts.scores(q, k, block);
        const [, , rows, dk] = q.shape;
        const C = k.shape[2];
        const R = block.queries ?? C;
        const scaled = tf.mul<tf.Tensor4D>(tf.matMul(q, k, false, true), 1 / Math.sqrt(dk));
        const query = tf.reshape(tf.range(block.queryStart, block.queryStart + R, 1, 'float32'), [R, 1]); // (R, 1)
        const key = tf.reshape(tf.range(block.keyStart, block.keyStart + C, 1, 'float32'), [1, C]); // (1, C)
        const first = block.queryStart - block.window + 1;
        const earliest = tf.reshape(tf.range(first, first + R, 1, 'float32'), [R, 1]); // (R, 1)
        const removed = tf.logicalOr(tf.greater(tf.sub(key, query), 0), tf.lessEqual(tf.sub(key, earliest), 0));
        const mask = tf.where(removed, tf.fill([R, C], -Infinity), tf.fill([R, C], 0));
        expect(rows).toBe(R);
        return tf.add<tf.Tensor4D>(scaled, mask);
      },
    };
    const run: RunShape = { batch: 1, seq: 12 };
    const planted = await verifyModel({ config, run, backend: 'cpu', parts: lessEqual });
    expect([planted.matmuls.ok, planted.masks.ok, planted.work.ok]).toEqual([true, true, true]);
    expect(planted.ok).toBe(false);
    expect(planted.bytes.mismatches.map((check) => [check.missing[0]?.kernel, check.extra[0]?.kernel])).toEqual([
      ['Less', 'LessEqual'],
    ]);
    const lessEqualRow = planted.nonMatmul.byKernel.find((entry) => entry.kernel === 'LessEqual');
    expect(lessEqualRow).toMatchObject({ tracedKernels: 1, estimatedKernels: 0 });
    const weights = initWeights(config, { seed: 3, init: 'random' });
    const ids = tokenIds(config, run, { seed: 3, init: 'random' });
    const right = forward(config, weights, ids);
    const wrong = forward(config, weights, ids, lessEqual);
    try {
      expect(maxAbsDifference(wrong.dataSync(), right.dataSync())).toBeGreaterThan(1e-3);
    } finally {
      tf.dispose([right, wrong, ids]);
      disposeWeights(weights);
    }
  });
});
