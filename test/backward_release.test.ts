/**
 * The backward pass frees what each node is done with (src/model/backward_release.ts): the same
 * gradients, bit for bit, as tfjs's own pass, which frees nothing until it ends; and the storage
 * of a real step at its last backward kernel, worked by hand.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { useBackend } from '../src/runtime/backend.js';
import { disposeWeights, forward, initWeights, tokenIds, type BlockCheckpointing } from '../src/model/index.js';
import { withRerunConstants } from '../src/model/checkpoint.js';
import { attributeBackward, meanCrossEntropy, parametersOf, targetIds, toTrainable } from '../src/runtime/index.js';
import { loadModelConfig } from '../src/config/index.js';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

const run: RunShape = { batch: 2, seq: 8 };

/** Every weight's gradient as plain numbers, from tfjs's own pass or from the releasing one. */
function gradientValues(config: ModelConfig, checkpoint: BlockCheckpointing, releasing: boolean): number[][] {
  const weights = toTrainable(initWeights(config, { seed: 3, init: 'random' }));
  const ids = tokenIds(config, run, { seed: 3, init: 'random' });
  const targets = targetIds(config, run, { seed: 3, init: 'random' });
  try {
    const variables = parametersOf(weights).map((parameter) => parameter.variable);
    const lossOf = () => meanCrossEntropy(forward(config, weights, ids, {}, { checkpoint }), targets);
    const gradients = () =>
      withRerunConstants(() => tf.tidy(() => tf.engine().gradients(lossOf, variables, undefined, true)));
    const { value, grads } = releasing ? attributeBackward(gradients, variables) : gradients();
    const values = grads.map((grad) => Array.from(grad.dataSync()));
    tf.dispose([value, ...grads.map((grad) => grad)]);
    return values;
  } finally {
    tf.dispose([ids, targets]);
    disposeWeights(weights);
  }
}

describe('a backward pass that frees as it goes', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  afterAll(() => {
    tf.disposeVariables();
  });

  // The every-variant model ties its table (two gradients summed into one) and its residual adds
  // hand dy to both inputs: the two cases where a gradient is not a node's own new tensor.
  const cases: [string, ModelConfig, BlockCheckpointing][] = [
    ['the seed model', tinyConfig('tiny', 'test/backward_release.test.ts'), 'none'],
    ['GPT-2 blocks, GQA, a tied and padded table', everyVariantConfig('test/backward_release.test.ts'), 'none'],
    ['the same, every block checkpointed', everyVariantConfig('test/backward_release.test.ts'), 'full'],
    ['the same, every attention core checkpointed', everyVariantConfig('test/backward_release.test.ts'), 'selective'],
  ];
  it.each(cases)('%s: the same gradients, bit for bit, and no tensor left behind', (_, config, checkpoint) => {
    const before = tf.memory().numTensors;
    const plain = gradientValues(config, checkpoint, false);
    const released = gradientValues(config, checkpoint, true);
    expect(released).toHaveLength(plain.length);
    released.forEach((values, i) => expect(values, `weight ${i}`).toEqual(plain[i]));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the seed model at 16 tokens: its last backward kernel holds the step state, the gradients and one dy', async () => {
    const config = loadModelConfig('tiny');
    const tokens = { batch: 1, seq: 16 };
    const verification = await verifyTraining({ config, run: tokens, backend: 'cpu', seed: 1 });
    const peak = verification.memory.measured.bufferPeakByPhase.backward!;
    // tiny: V 256, d 64, L 2, F 256, so P = 164,160 (the preset table's count) and 4P bytes of gradients.
    const P = summarizeParameters(config).total;
    expect(P).toBe(164_160n);
    // Held before: weights, m and v (12P) and the ids and targets (2 x 16 int32).
    const held = 12n * P + 2n * 16n * 4n;
    // The table's gradient is the pass's last kernel: every gradient is made, every kept
    // activation released, and only the gradient arriving at the lookup, [1, 16, 64] fp32,
    // and the 4-byte loss are left besides. tfjs's own pass held 3,604,236 bytes here.
    expect(peak.kernel).toBe('ScatterNd');
    expect(peak.path).toBe('token_embeddings');
    expect(BigInt(peak.bytes)).toBe(held + 4n * P + 4n + 16n * 64n * 4n);
    expect(BigInt(peak.bytes)).toBe(2_630_788n);
  });
});
