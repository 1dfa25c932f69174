import * as tf from '@tensorflow/tfjs-core';

import { addKeepingNothing } from './lean_gradients.js';

/**
 * Learned absolute positions (GPT-2's wpe): rows start..start+T-1 of the position table
 * [context_length, d] added to the token embeddings (B, T, d); start is 0 for a whole sequence
 * and the cached length for a decode step's new tokens. A Slice (data movement) and an Add, no matmul; the
 * Slice's gradient pads dy back to the table's shape, and the Add's sums it over the batch.
 */
export function addLearnedPositions(x: tf.Tensor3D, table: tf.Tensor2D, start = 0): tf.Tensor3D {
  const [, T, d] = x.shape;
  tf.util.assert(
    table.shape[1] === d && table.shape[0] >= start + T,
    () =>
      `position_embeddings: x has shape [${x.shape}] at position ${start} but the table has [${table.shape}] (want at least [${start + T},${d}])`,
  );
  const rows = tf.slice(table, [start, 0], [T, d]); // (T, d)
  return addKeepingNothing<tf.Tensor3D>(x, rows); // (B, T, d): the add keeps neither input (lean_gradients.ts)
}
