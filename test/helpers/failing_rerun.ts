/**
 * A training step whose rerun (a checkpointed block's or attention core's) throws: the tests of
 * each checkpointing policy plant the failure and check that the step leaves no tensor behind.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

import type { ModelConfig, RunShape } from '../../src/config/model_config.js';
import { DEFAULT_ADAMW, disposeAdamW, initAdamW } from '../../src/model/adamw.js';
import {
  disposeWeights,
  initWeights,
  tokenIds,
  type BlockCheckpointing,
  type ModelParts,
} from '../../src/model/index.js';
import { targetIds } from '../../src/model/target_ids.js';
import { parametersOf, toTrainable } from '../../src/model/trainable_weights.js';
import { trainingStep } from '../../src/model/training_step.js';
import { useBackend } from '../../src/runtime/backend.js';

/** Runs one step on cpu with `failing` planted; expects `message` thrown and the live tensors as before the step. */
export async function expectFailedRerunFreesEverything(
  config: ModelConfig,
  run: RunShape,
  checkpoint: BlockCheckpointing,
  failing: Partial<ModelParts>,
  message: string,
): Promise<void> {
  await useBackend('cpu');
  const weights = toTrainable(initWeights(config, { seed: 1, init: 'random' }));
  const optimizer = initAdamW(parametersOf(weights));
  const ids = tokenIds(config, run, { seed: 1, init: 'random' });
  const targets = targetIds(config, run, { seed: 1, init: 'random' });
  const before = tf.memory().numTensors;
  expect(() =>
    trainingStep(config, weights, { ids, targets }, optimizer, DEFAULT_ADAMW, failing, { checkpoint }),
  ).toThrow(message);
  expect(tf.memory().numTensors).toBe(before);
  for (const tensor of [ids, targets]) tensor.dispose();
  disposeAdamW(optimizer);
  disposeWeights(weights);
}
