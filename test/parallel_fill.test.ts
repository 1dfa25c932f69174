/**
 * Seeded weights filled on both cores (src/runtime/parallel_fill.ts) on the threaded wasm build,
 * whose heap is shared: the same bits as the sequential fill, and the sequential fill kept
 * wherever the heap is not shared or the model is small.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig } from '../src/config/model_config.js';
import {
  disposeWeights,
  initWeights,
  weightEntries,
  type InitOptions,
  type TruncatedNormalFiller,
  type TruncatedNormalJob,
} from '../src/model/index.js';
import { backendHeapIsShared } from '../src/model/host_constant.js';
import { streamFor } from '../src/model/seeded_random.js';
import { fillTruncatedNormal } from '../src/model/truncated_normal.js';
import { useBackend, weightFiller, weightsMade } from '../src/runtime/backend.js';
import { fillWorkersStarted } from '../src/runtime/parallel_fill.js';
import { wasmPthreadPool } from '../src/runtime/wasm_threads.js';

/**
 * Random values (untied, gated FFN): token table and lm_head 2 x 16384 x 256 = 8,388,608, and per
 * layer q, k, v, o 4 x 256 x 256 = 262,144 plus w1, w2, w3 3 x 256 x 1024 = 786,432: in all
 * 8,388,608 + 2 x 1,048,576 = 10,485,760, above the parallel fill's 4,194,304 (2^22) threshold.
 */
const LARGE: ModelConfig = {
  name: 'parallel-fill',
  source: 'test/parallel_fill.test.ts',
  vocab_size: 16384,
  context_length: 64,
  num_layers: 2,
  d_model: 256,
  num_heads: 4,
  d_ff: 1024,
};
const LARGE_RANDOM_VALUES = 2 * 16384 * 256 + 2 * (4 * 256 * 256 + 3 * 256 * 1024);
/** 2 x 40 x 16 = 1,280 table values and 4 x 16 x 16 + 3 x 16 x 32 = 2,560 in its one layer. */
const SMALL: ModelConfig = { ...LARGE, vocab_size: 40, num_layers: 1, d_model: 16, num_heads: 2, d_ff: 32 };

/** Each tensor's bits, in model order, read back as words so that -0 and NaN patterns count too. */
function weightBits(config: ModelConfig, options: InitOptions): { paths: string[]; bits: Uint32Array[] } {
  const weights = initWeights(config, options);
  try {
    const entries = weightEntries(weights);
    return {
      paths: entries.map((entry) => `${entry.path} ${entry.name}`),
      bits: entries.map((entry) => new Uint32Array(Float32Array.from(entry.tensor.dataSync() as Float32Array).buffer)),
    };
  } finally {
    disposeWeights(weights);
  }
}

/** The index of the first tensor whose bits differ, with its first differing word, or undefined. */
function firstDifference(left: Uint32Array[], right: Uint32Array[]): { tensor: number; word: number } | undefined {
  if (left.length !== right.length) return { tensor: Math.min(left.length, right.length), word: -1 };
  for (let tensor = 0; tensor < left.length; tensor++) {
    const a = left[tensor]!;
    const b = right[tensor]!;
    if (a.length !== b.length) return { tensor, word: -1 };
    for (let word = 0; word < a.length; word++) if (a[word] !== b[word]) return { tensor, word };
  }
  return undefined;
}

/** A filler that records what it is handed and passes it on to `inner`. */
function recording(inner: TruncatedNormalFiller, minValues = inner.minValues) {
  const calls: { jobs: number; values: number }[] = [];
  const filler: TruncatedNormalFiller = {
    minValues,
    fill(jobs: readonly TruncatedNormalJob[], onFilled: (jobsDone: number) => void) {
      calls.push({ jobs: jobs.length, values: jobs.reduce((sum, job) => sum + job.values.length, 0) });
      inner.fill(jobs, onFilled);
    },
  };
  return { filler, calls };
}

let previousThreads: string | undefined;
let parallel: TruncatedNormalFiller;

beforeAll(async () => {
  previousThreads = process.env['FLOPLEDGER_WASM_THREADS'];
  process.env['FLOPLEDGER_WASM_THREADS'] = '2';
  await useBackend('wasm');
  const filler = weightFiller().truncatedNormalFiller;
  if (filler === undefined) throw new Error('the threaded wasm build did not hand a weight filler');
  parallel = filler;
});

afterAll(() => {
  if (previousThreads === undefined) delete process.env['FLOPLEDGER_WASM_THREADS'];
  else process.env['FLOPLEDGER_WASM_THREADS'] = previousThreads;
});

describe('weights filled on both cores', () => {
  it('equal the sequential fill bit for bit, every tensor, and report progress to the last tensor', async () => {
    await useBackend('wasm');
    expect(backendHeapIsShared()).toBe(true);
    const baseline = tf.memory().numTensors;
    const { filler, calls } = recording(parallel);
    const progress: [number, number][] = [];
    const both = weightBits(LARGE, {
      seed: 7,
      init: 'random',
      truncatedNormalFiller: filler,
      onTensor: (made, total) => progress.push([made, total]),
    });
    // 7 matrices a layer (q, k, v, o, w1, w2, w3), the token table and lm_head: 16 random tensors.
    expect(calls).toEqual([{ jobs: 16, values: LARGE_RANDOM_VALUES }]);
    const sequential = weightBits(LARGE, { seed: 7, init: 'random' });
    expect(both.paths).toEqual(sequential.paths);
    expect(firstDifference(both.bits, sequential.bits)).toBeUndefined();
    // And the token table is what the sampler draws from its own stream into a plain array.
    const table = new Float32Array(16384 * 256);
    fillTruncatedNormal(table, 1, 3, streamFor(7, 'token_embeddings'));
    expect(firstDifference([both.bits[0]!], [new Uint32Array(table.buffer)])).toBeUndefined();

    const total = sequential.paths.length;
    const made = progress.map(([count]) => count);
    expect(made.at(-1)).toBe(total);
    expect(progress.every(([, all]) => all === total)).toBe(true);
    expect(made.every((count, i) => i === 0 || count > made[i - 1]!)).toBe(true);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('gives the same bits on a second fill (the worker is reused) and under another seed differs', async () => {
    await useBackend('wasm');
    const first = weightBits(LARGE, { seed: 3, init: 'random', truncatedNormalFiller: parallel });
    const second = weightBits(LARGE, { seed: 3, init: 'random', truncatedNormalFiller: parallel });
    const other = weightBits(LARGE, { seed: 4, init: 'random', truncatedNormalFiller: parallel });
    expect(firstDifference(second.bits, first.bits)).toBeUndefined();
    expect(firstDifference(other.bits, first.bits)).toEqual({ tensor: 0, word: 0 });
    // Started once with the backend, and reused by every fill since.
    expect(fillWorkersStarted()).toBe(1);
  });

  it('keeps the sequential fill below the threshold, on cpu and on meta', async () => {
    await useBackend('wasm');
    const small = recording(parallel);
    const smallBits = weightBits(SMALL, { seed: 1, init: 'random', truncatedNormalFiller: small.filler });
    expect(small.calls).toEqual([]);
    expect(firstDifference(smallBits.bits, weightBits(SMALL, { seed: 1, init: 'random' }).bits)).toBeUndefined();

    for (const backend of ['cpu', 'meta'] as const) {
      await useBackend(backend);
      expect(backendHeapIsShared(), backend).toBe(false);
      const everywhere = recording(parallel, 0);
      const baseline = tf.memory().numTensors;
      const weights = initWeights(SMALL, { seed: 1, init: 'random', truncatedNormalFiller: everywhere.filler });
      disposeWeights(weights);
      expect(everywhere.calls, backend).toEqual([]);
      expect(tf.memory().numTensors, backend).toBe(baseline);
    }
    await useBackend('cpu');
    // cpu's sequential weights are the wasm ones: the values do not depend on the backend.
    expect(firstDifference(weightBits(SMALL, { seed: 1, init: 'random' }).bits, smallBits.bits)).toBeUndefined();
  });

  it('fills jobs in any shared memory as fillTruncatedNormal does, and hands back the stepped states', () => {
    const sizes = [5000, 3000, 2000];
    const jobs = sizes.map((size, i) => ({
      values: new Float32Array(new SharedArrayBuffer(4 * size)),
      std: 0.5 + i,
      limitInStd: 2 + i * 0.5,
      state: Int32Array.from(streamFor(11, `job.${i}`).state()),
    }));
    const progress: number[] = [];
    parallel.fill(jobs, (done) => progress.push(done));
    expect(progress.at(-1)).toBe(3);
    jobs.forEach((job, i) => {
      const rng = streamFor(11, `job.${i}`);
      const expected = new Float32Array(sizes[i]!);
      fillTruncatedNormal(expected, job.std, job.limitInStd, rng);
      expect(
        firstDifference([new Uint32Array(job.values.slice().buffer)], [new Uint32Array(expected.buffer)]),
      ).toBeUndefined();
      expect(Array.from(job.state)).toEqual(rng.state());
    });
  });

  it('starts a new worker after a run has made its weights and stopped it, with the same bits', async () => {
    await useBackend('wasm');
    const before = weightBits(LARGE, { seed: 5, init: 'random', truncatedNormalFiller: parallel });
    const started = fillWorkersStarted();
    weightsMade();
    const after = weightBits(LARGE, { seed: 5, init: 'random', truncatedNormalFiller: parallel });
    expect(fillWorkersStarted()).toBe(started + 1);
    expect(firstDifference(after.bits, before.bits)).toBeUndefined();
  });

  it("keeps only the pool workers XNNPACK's threads run on, and its products stay right", async () => {
    await useBackend('wasm');
    // 2 threads: the main thread and one worker; Emscripten started 8.
    const pool = wasmPthreadPool();
    expect([pool?.unusedWorkers.length, pool?.runningWorkers.length]).toEqual([0, 1]);
    // Large enough that XNNPACK splits it over both threads: every entry of ones(m, k) x ones(k, n) is k.
    const product = tf.matMul(tf.ones([256, 384]), tf.ones([384, 512]));
    const values = product.dataSync();
    expect([values.length, Math.min(...values), Math.max(...values)]).toEqual([256 * 512, 384, 384]);
    product.dispose();
  });

  it('disposes every tensor it made when the fill fails', async () => {
    await useBackend('wasm');
    const baseline = tf.memory().numTensors;
    const failing: TruncatedNormalFiller = {
      minValues: 0,
      fill(jobs, onFilled) {
        parallel.fill(jobs.slice(0, 2), onFilled);
        throw new Error('planted fill failure');
      },
    };
    expect(() => initWeights(LARGE, { seed: 1, init: 'random', truncatedNormalFiller: failing })).toThrow(
      'planted fill failure',
    );
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
