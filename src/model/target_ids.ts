import * as tf from '@tensorflow/tfjs-core';

import type { ModelConfig, RunShape } from '../config/model_config.js';
import { hostConstant } from './host_constant.js';
import { streamFor } from './seeded_random.js';
import type { InitOptions } from './index.js';

/** The stream target ids draw from; distinct from the input ids' stream and every weight's path. */
const TARGET_IDS_STREAM = 'target_ids';

/**
 * Target ids int32 [B, T] for a training step: seeded uniform ids in [0, V) for 'random' (the
 * loss and its gradient do not care what the text was, only that targets are valid ids), all
 * zeros by tf.fill for 'fill' (a shape-only backend keeps no values).
 */
export function targetIds(config: ModelConfig, run: RunShape, options: InitOptions): tf.Tensor2D {
  const shape: [number, number] = [run.batch, run.seq];
  if (options.init === 'fill') return tf.fill(shape, 0, 'int32');
  return hostConstant<tf.Rank.R2>(shape, 'int32', () => {
    const rng = streamFor(options.seed, TARGET_IDS_STREAM);
    const ids = new Int32Array(shape[0] * shape[1]);
    for (let i = 0; i < ids.length; i++) ids[i] = rng.nextBelow(config.vocab_size);
    return ids;
  });
}
