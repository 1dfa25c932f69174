/**
 * A traced generation against the inference formulas (src/verify/verify_decode.ts): over random
 * configs of every architecture the model runs, a prefill and every decode step verify exactly on
 * cpu, and the meta backend traces what cpu traces for the same generation.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { ModelConfig } from '../src/config/model_config.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { useBackend } from '../src/runtime/backend.js';
import { traceDecode, type DecodeRequest } from '../src/runtime/traced_decode.js';
import { verifyDecode } from '../src/verify/verify_decode.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';

const SOURCE = 'test/verify_decode.test.ts';

/** A random dense model (test/helpers/arbitrary_dense_model.ts) with or without a window, and a generation that fits it. */
const generation: fc.Arbitrary<{ config: ModelConfig; request: Required<DecodeRequest>; seed: number }> = fc
  .record({
    model: arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 1, spareContextMax: 2, seedMax: 50 }),
    window: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined, freq: 2 }),
    pattern: fc.constantFrom(undefined, 'LG', 'GL'),
    prompt: fc.integer({ min: 1, max: 6 }),
    generate: fc.integer({ min: 1, max: 4 }),
    newTokens: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ model, window, pattern, prompt, generate, newTokens }) => {
    const positions = prompt + generate * newTokens;
    const config: ModelConfig = {
      ...model.config,
      context_length: positions + model.config.context_length - model.run.seq,
      ...(window === undefined ? {} : { window }),
      ...(window === undefined || pattern === undefined ? {} : { window_layers: pattern }),
    };
    return { config, request: { batch: model.run.batch, prompt, generate, newTokens }, seed: model.seed };
  });

/** What meta must reproduce of a kernel: its name, module path, operand shapes and count. */
function signature(record: KernelRecord): string {
  const shapes = record.inputs.map((input) => `[${input.shape.join(',')}]`).join(' ');
  return `${record.path} ${record.kernel} ${shapes} -> ${record.outputs.map((o) => `[${o.shape.join(',')}]`).join(' ')} ${record.flops ?? 'uncounted'}`;
}

describe('decode verification', () => {
  it('verifies the prefill and every decode step exactly on cpu, over random configs of every architecture', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    await fc.assert(
      fc.asyncProperty(generation, async ({ config, request, seed }) => {
        const verified = await verifyDecode({ config, request, backend: 'cpu', seed });
        const failed = [verified.prefill, ...verified.steps].filter((pass) => !pass.ok).map((pass) => pass.step);
        expect(failed).toEqual([]);
        expect(verified.ok).toBe(true);
        expect(verified.steps).toHaveLength(request.generate);
        // Each step's core ran over the keys the formulas give: its cache grows, or stops at the window.
        verified.steps.forEach((step, j) => expect(step.cached).toBe(request.prompt + j * request.newTokens));
      }),
      { numRuns: 25, seed: 15 },
    );
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('traces on meta exactly what cpu traces for the same generation', async () => {
    await fc.assert(
      fc.asyncProperty(generation, async ({ config, request }) => {
        const [cpu, meta] = [
          await traceDecode({ config, request, backend: 'cpu' }),
          await traceDecode({ config, request, backend: 'meta' }),
        ];
        expect(meta.backend.name).toBe('meta');
        const passes = (traced: typeof cpu) => [traced.prefill, ...traced.steps];
        expect(passes(meta).map((pass) => pass.records.map(signature))).toEqual(
          passes(cpu).map((pass) => pass.records.map(signature)),
        );
        expect(passes(meta).map((pass) => pass.cacheBytes)).toEqual(passes(cpu).map((pass) => pass.cacheBytes));
      }),
      { numRuns: 15, seed: 16 },
    );
  }, 120_000);

  it('measures the cache a sliding layer caps at its window beside the formula (hand-worked)', async () => {
    // L 2, d 8, H 4, Hkv 2 (dh 2), window 3 on layer 0 only ("LG"); batch 2, prompt 2, 4 steps.
    const config: ModelConfig = {
      name: 'window-lg',
      source: SOURCE,
      vocab_size: 7,
      context_length: 6,
      num_layers: 2,
      d_model: 8,
      num_heads: 4,
      num_kv_heads: 2,
      d_ff: 4,
      window: 3,
      window_layers: 'LG',
    };
    const verified = await verifyDecode({ config, request: { batch: 2, prompt: 2, generate: 4 }, backend: 'cpu' });
    expect(verified.ok).toBe(true);
    // Per position and layer: K and V x Hkv 2 x dh 2 x 4 bytes = 32, times batch 2 = 64.
    // Layer 0 holds min(t, 3) positions, layer 1 t: t = 2, 3, 4, 5, 6.
    const expected = [2, 3, 4, 5, 6].map((t) => BigInt(64 * (Math.min(t, 3) + t)));
    const passes = [verified.prefill, ...verified.steps];
    expect(passes.map((pass) => pass.cache.measured)).toEqual(expected);
    expect(passes.map((pass) => pass.cache.formula)).toEqual(expected);
    // Layer 0's scores at step j: 1 query over min(1 + j, 2) + 1 keys; layer 1's over 2 + j.
    const scoreKeys = verified.steps.map((step) =>
      step.matmuls.checks.filter((check) => check.path.endsWith('attn.scores')).map((check) => check.traced?.shape.n),
    );
    expect(scoreKeys).toEqual([
      [3, 3],
      [3, 4],
      [3, 5],
      [3, 6],
    ]);
  });
});
