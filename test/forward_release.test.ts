import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig } from '../src/config/model_config.js';
import { disposeWeights, forward, initWeights, tokenIds } from '../src/model/index.js';

/**
 * A forward pass releases each block's intermediates when the block ends: its peak of new bytes
 * does not grow with the layer count (before, every layer's q, k, v, scores and FFN activations
 * were held until the pass ended, so 8 layers peaked at about 8 times one layer's activations).
 */
const BASE: ModelConfig = {
  name: 'release',
  source: 'test/forward_release.test.ts',
  vocab_size: 16,
  context_length: 32,
  num_layers: 1,
  d_model: 32,
  num_heads: 4,
  d_ff: 64,
};

async function peakBytes(layers: number): Promise<number> {
  const config = { ...BASE, num_layers: layers };
  const weights = initWeights(config, { seed: 1, init: 'random' });
  const ids = tokenIds(config, { batch: 2, seq: 32 }, { seed: 1, init: 'random' });
  const before = tf.memory().numTensors;
  const profile = await tf.profile(() => forward(config, weights, ids));
  (profile.result as tf.Tensor).dispose();
  expect(tf.memory().numTensors).toBe(before);
  ids.dispose();
  disposeWeights(weights);
  return profile.peakBytes;
}

describe('a forward pass releases each block as it ends', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('each added layer adds at most 8 residual-sized tensors to the peak, not its activations', async () => {
    const one = await peakBytes(1);
    const eight = await peakBytes(8);
    // A residual-stream tensor is 2 x 32 x 32 floats, 8 KiB; one layer's scores alone are
    // 2 x 4 x 32 x 32 floats, 32 KiB, and holding every block's intermediates measured 4,571,392
    // bytes more for the 7 added layers (653 KiB each).
    expect(eight - one).toBeLessThanOrEqual(7 * 8 * (2 * 32 * 32 * 4));
  });
});
