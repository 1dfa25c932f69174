import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { META_BACKEND_NAME, registerMetaBackend } from '../src/meta/index.js';
import { disposeWeights, forward, initWeights, tokenIds, type WeightInit } from '../src/model/index.js';
import { traceKernels, type KernelRecord } from '../src/trace/index.js';
import { arbitrarySmallModel } from './helpers/arbitrary_small_model.js';

/** GPT-2 XL's shape (design.md section 1), with the context raised for the long run. */
function gpt2Xl(contextLength: number): ModelConfig {
  return {
    name: 'gpt2-xl',
    source: 'test/meta_model.test.ts',
    vocab_size: 50257,
    context_length: contextLength,
    num_layers: 48,
    d_model: 1600,
    num_heads: 25,
    d_ff: 6400,
  };
}

/** The trace of one forward pass on `backendName`; every tensor it made is released. */
async function traceForward(
  backendName: string,
  config: ModelConfig,
  run: RunShape,
  init: WeightInit,
): Promise<{ logitsShape: number[]; records: KernelRecord[] }> {
  await tf.setBackend(backendName);
  const weights = initWeights(config, { seed: 7, init });
  const ids = tokenIds(config, run, { seed: 7, init });
  try {
    const { result, records } = traceKernels(() => forward(config, weights, ids));
    const logitsShape = result.shape.slice();
    result.dispose();
    return { logitsShape, records };
  } finally {
    ids.dispose();
    disposeWeights(weights);
  }
}

/** A record without its timing, which only a real backend's run has. */
function untimed(record: KernelRecord): KernelRecord {
  const { timeMs: _timeMs, ...rest } = record as KernelRecord & { timeMs?: number };
  return rest;
}

const smallConfig = arbitrarySmallModel({
  source: 'test/meta_model.test.ts',
  vocabMax: 40,
  layersMax: 3,
  headsMax: 4,
  halfHeadDimMax: 4,
  ffnMax: 24,
  batchMax: 3,
  seqMax: 9,
  spareContextMax: 4,
});

describe('the model on the meta backend', () => {
  let baseline = 0;

  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    registerMetaBackend();
    await tf.setBackend('cpu');
  });

  beforeEach(() => {
    baseline = tf.memory().numTensors;
  });

  it('traces kernel for kernel what cpu traces: names, paths, shapes, dtypes, attrs, counts', async () => {
    await fc.assert(
      fc.asyncProperty(smallConfig, async ({ config, run }) => {
        const onCpu = await traceForward('cpu', config, run, 'random');
        const onMeta = await traceForward(META_BACKEND_NAME, config, run, 'fill');
        expect(onMeta.logitsShape).toEqual([run.batch, run.seq, config.vocab_size]);
        expect(onMeta.logitsShape).toEqual(onCpu.logitsShape);
        expect(onMeta.records.length).toBe(onCpu.records.length);
        expect(onMeta.records.map(untimed)).toEqual(onCpu.records.map(untimed));
        expect(tf.memory().numTensors).toBe(baseline);
      }),
      { numRuns: 30, seed: 20240611 },
    );
  });

  it.each([1024, 16384])(
    'runs GPT-2 XL at %i tokens to logits [1, T, 50257] and releases every tensor',
    async (seq) => {
      const config = gpt2Xl(seq);
      const { logitsShape, records } = await traceForward(META_BACKEND_NAME, config, { batch: 1, seq }, 'fill');
      expect(logitsShape).toEqual([1, seq, 50257]);
      const outermostMatmuls = records.filter((record) => record.matmul !== undefined);
      expect(outermostMatmuls.length).toBe(9 * 48 + 1);
      const lmHead = records.filter((record) => record.path === 'lm_head' && record.matmul !== undefined);
      expect(lmHead.map((record) => record.outputs[0]?.shape)).toEqual([[seq, 50257]]); // (B*T, V): tokens flattened before the projection
      // 2 * T * d * V for the lm_head alone: 2 * 16384 * 1600 * 50257 = 2,634,866,278,400 at 16k.
      expect(lmHead[0]?.matmul?.flops).toBe(2n * BigInt(seq) * 1600n * 50257n);
      expect(tf.memory().numTensors).toBe(baseline);
    },
  );
});
