import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { disposeWeights, initWeights, weightEntries } from '../src/model/index.js';
import { useBackend } from '../src/runtime/backend.js';
import { blockWeightRelease } from '../src/runtime/block_release.js';
import { traceForward } from '../src/runtime/traced_run.js';
import { tinyConfig } from './helpers/small_configs.js';

const tiny = { ...tinyConfig('tiny', 'test/block_release.test.ts'), num_layers: 3 };

describe('blockWeightRelease', () => {
  it('disposes a block only once a later block or the final modules start, never on other paths', async () => {
    await useBackend('cpu');
    const weights = initWeights(tiny, { seed: 1, init: 'random' });
    try {
      const release = blockWeightRelease(weights);
      const disposedLayers = () =>
        [0, 1, 2].filter((i) =>
          weightEntries(weights)
            .filter((entry) => entry.path.startsWith(`layers.${i}.`))
            .every((entry) => entry.tensor.isDisposed),
        );
      for (const path of ['', 'token_embeddings', 'layers.0.ln1', 'layers.0.attn.q_proj', 'mask', 'rope']) {
        release(path);
        expect(disposedLayers()).toEqual([]);
      }
      release('layers.2.ffn.w1');
      expect(disposedLayers()).toEqual([0, 1]);
      release('lm_head');
      expect(disposedLayers()).toEqual([0, 1, 2]);
      expect(weights.token_embeddings.isDisposed).toBe(false);
      expect(weights.ln_final.isDisposed).toBe(false);
    } finally {
      disposeWeights(weights);
    }
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`a traced forward pass on ${backend} still matches every matmul and leaves no tensor`, async () => {
      await useBackend(backend);
      const before = tf.memory().numTensors;
      const traced = await traceForward({ config: tiny, run: { batch: 1, seq: 8 }, backend });
      expect(traced.logitsShape[0]).toBe(1);
      expect(traced.records.filter((record) => record.kernel === 'BatchMatMul').length).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
