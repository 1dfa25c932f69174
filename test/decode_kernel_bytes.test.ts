/**
 * The bytes every kernel of a traced decode step moves against the analytic step list the
 * roofline predicts decode from (src/analytic/inference/kernel_costs.ts), like the forward pass's
 * (test/kernel_bytes.test.ts): weights apart from the rest, random configs with and without a
 * window, on cpu and meta, and a planted fault.
 *
 * One kernel is the roofline's and not the trace's: CacheWrite, the in-place append of the new
 * keys and values a serving runtime does. The tfjs model grows its cache by concatenation, a copy
 * of the whole cache each step, which the analytic list does not model; the cache's size after
 * each pass is held to the formula by test/verify_decode.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KernelList } from '../src/analytic/bytes.js';
import { decodeStepKernelCosts } from '../src/analytic/inference/index.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { traceDecode } from '../src/runtime/traced_decode.js';
import { compareKernelBytes, describeBytesMismatch } from '../src/verify/bytes_check.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { tinyConfig } from './helpers/small_configs.js';

const SOURCE = 'test/decode_kernel_bytes.test.ts';

/** The step's list as the trace can see it: without the in-place cache writes. */
function tracedKernelsOf(list: KernelList): KernelList {
  return { ...list, kernels: list.kernels.filter((kernel) => kernel.kernel !== 'CacheWrite') };
}

const generation = fc
  .record({
    model: arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 1, spareContextMax: 2, seedMax: 50 }),
    window: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined, freq: 2 }),
    prompt: fc.integer({ min: 1, max: 5 }),
    generate: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ model, window, prompt, generate }) => {
    const config: ModelConfig = {
      ...model.config,
      context_length: prompt + generate + model.config.context_length - model.run.seq,
      ...(window === undefined ? {} : { window }),
    };
    return { config, request: { batch: model.run.batch, prompt, generate }, seed: model.seed };
  });

describe('traced decode steps move the analytic bytes', () => {
  it('the tiny model: each step reads every weight once and its cached keys and values', async () => {
    const config = tinyConfig('tiny', SOURCE);
    const traced = await traceDecode({ config, request: { batch: 2, prompt: 3, generate: 2 }, backend: 'meta' });
    for (const step of traced.steps) {
      const list = decodeStepKernelCosts(config, { batch: 2, cached: step.cached, newTokens: 1 }, 'fp32');
      const scores = list.kernels.filter((kernel) => kernel.path === 'layers.0.attn.scores' && kernel.matmul);
      // q [2, 2, 1, 4] against the cache's keys [2, 2, P + 1, 4], fp32: the keys are KV cache bytes
      expect(scores.map((kernel) => [kernel.read.activations, kernel.read.kvCache])).toEqual([
        [2n * 2n * 4n * 4n, 2n * 2n * BigInt(step.cached + 1) * 4n * 4n],
      ]);
      const comparison = compareKernelBytes(tracedKernelsOf(list), step.records);
      expect(comparison.mismatches.map(describeBytesMismatch)).toEqual([]);
      const weightsRead = comparison.tracedTotals.readWeights;
      // once a step: every matrix (per layer q, k, v, o of 8 x 8 and w1, w3, w2 of 8 x 12; lm_head
      // 8 x 11), every gain (ln1 and ln2 per layer, ln_final: 8 each), and the two rows of the
      // token table the embedding gathers, 4 bytes each
      expect(weightsRead).toBe(4n * (2n * (4n * 64n + 3n * 96n) + 88n + (2n * 2n * 8n + 8n) + 2n * 8n));
    }
  });

  it.each(['cpu', 'meta'] as const)(
    'every step of a random generation, kernel by kernel, on %s',
    async (backend) => {
      await fc.assert(
        fc.asyncProperty(generation, async ({ config, request, seed }) => {
          const before = tf.memory().numTensors;
          const traced = await traceDecode({ config, request, backend, seed });
          for (const step of traced.steps) {
            const list = decodeStepKernelCosts(
              config,
              { batch: request.batch, cached: step.cached, newTokens: 1 },
              'fp32',
            );
            const comparison = compareKernelBytes(tracedKernelsOf(list), step.records);
            expect(comparison.mismatches.map(describeBytesMismatch)).toEqual([]);
            expect(comparison.kernels).toBe(tracedKernelsOf(list).kernels.length);
          }
          expect(tf.memory().numTensors).toBe(before);
        }),
        { numRuns: 20, seed: 18_2026 },
      );
    },
    120_000,
  );

  it('catches a step list that reads the cached values twice', async () => {
    const config = tinyConfig('tiny', SOURCE);
    const traced = await traceDecode({ config, request: { batch: 1, prompt: 2, generate: 1 }, backend: 'meta' });
    const step = traced.steps[0]!;
    const list = tracedKernelsOf(
      decodeStepKernelCosts(config, { batch: 1, cached: step.cached, newTokens: 1 }, 'fp32'),
    );
    const planted = list.kernels.map((kernel) =>
      kernel.path === 'layers.1.attn.weighted_sum' && kernel.matmul
        ? { ...kernel, read: { ...kernel.read, kvCache: 2n * kernel.read.kvCache } }
        : kernel,
    );
    const mismatches = compareKernelBytes({ ...list, kernels: planted }, step.records).mismatches;
    expect(mismatches.map((check) => check.path)).toEqual(['layers.1.attn.weighted_sum']);
  });
});
