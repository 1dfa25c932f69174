import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { verifyModel } from '../src/verify/index.js';
import { arbitrarySmallModel } from './helpers/arbitrary_small_model.js';

/**
 * Forward matmul FLOPs in closed form, worked from the architecture independently of
 * src/analytic: per layer the four d x d projections and the three FFN matrices over N = B*T
 * tokens, 2N(4d^2 + 3dF), and the two attention matmuls, 2 * 2*B*T*T*d (H heads of dk = d/H);
 * lm_head 2NdV once.
 */
function forwardFlops(config: ModelConfig, run: RunShape): bigint {
  const [L, d, F, V] = [config.num_layers, config.d_model, config.d_ff, config.vocab_size].map(BigInt) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const [B, T] = [BigInt(run.batch), BigInt(run.seq)];
  return L * (2n * B * T * (4n * d * d + 3n * d * F) + 4n * B * T * T * d) + 2n * B * T * d * V;
}

/** Random small models: every dimension varies, dk stays even (RoPE rotates pairs). */
const smallModel = arbitrarySmallModel({
  source: 'test/verify_properties.test.ts',
  vocabMax: 48,
  layersMax: 3,
  headsMax: 4,
  halfHeadDimMax: 4,
  ffnMax: 32,
  batchMax: 3,
  seqMax: 12,
  spareContextMax: 4,
});

describe('verify over random small models, with real compute', () => {
  beforeAll(async () => {
    // tf.memory() needs an initialised backend before the first verification sets one.
    await tf.setBackend('cpu');
  });

  it('matches every matmul exactly on cpu and on wasm, with 9L + 1 matmul kernels per pass', async () => {
    let verified = 0;
    await fc.assert(
      fc.asyncProperty(smallModel, fc.integer({ min: 0, max: 1_000 }), async ({ config, run }, seed) => {
        const expectedKernels = 9 * config.num_layers + 1;
        for (const backend of ['cpu', 'wasm'] as const) {
          const before = tf.memory().numTensors;
          const verification = await verifyModel({ config, run, backend, seed });
          expect(verification.backend.name).toBe(backend);
          expect(verification.matmuls.mismatches).toEqual([]);
          expect(verification.matmuls.matchedCount).toBe(expectedKernels);
          expect(verification.matmulKernelCount).toBe(expectedKernels);
          expect(verification.expectedMatmulKernelCount).toBe(expectedKernels);
          expect(verification.matmuls.tracedTotal).toBe(forwardFlops(config, run));
          expect(verification.nonMatmul.uncounted).toEqual([]);
          expect(verification.ok).toBe(true);
          expect(tf.memory().numTensors).toBe(before);
        }
        verified += 1;
      }),
      { numRuns: 60, seed: 3_141_592 },
    );
    expect(verified).toBe(60);
  });
});
