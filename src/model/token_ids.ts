import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { hostConstant } from './host_constant.js';
import { streamFor } from './seeded_random.js';
import type { InitOptions } from './weights.js';

/** The stream name token ids draw from; distinct from every weight's module path. */
const TOKEN_IDS_STREAM = 'token_ids';

/**
 * A batch of token ids, int32 [B, T]: seeded uniform ids in [0, V) for 'random', all zeros made
 * by tf.fill for 'fill' (a shape-only backend keeps no values).
 */
export function tokenIds(config: ModelConfig, run: RunShape, options: InitOptions): tf.Tensor2D {
  const { batch, seq } = run;
  tf.util.assert(
    Number.isInteger(batch) && batch >= 1 && Number.isInteger(seq) && seq >= 1,
    () => `tokenIds: batch (${batch}) and seq (${seq}) must be positive integers`,
  );
  tf.util.assert(
    seq <= config.context_length,
    () => `tokenIds: seq (${seq}) exceeds ${config.name}'s context_length (${config.context_length})`,
  );
  const shape: [number, number] = [batch, seq];
  if (options.init === 'fill') return tf.fill(shape, 0, 'int32');
  return hostConstant<tf.Rank.R2>(shape, 'int32', () => {
    const rng = streamFor(options.seed, TOKEN_IDS_STREAM);
    const ids = new Int32Array(shape[0] * shape[1]);
    for (let i = 0; i < ids.length; i++) ids[i] = rng.nextBelow(config.vocab_size);
    return ids;
  });
}
