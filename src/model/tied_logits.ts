import * as tf from '@tensorflow/tfjs-core';

import { reshapeKeepingNothing } from './lean_gradients.js';

/**
 * lm_head with tied embeddings: logits = x E^T, E the token_embeddings table [Vp, d] itself (no
 * copy, no explicit transpose): one BatchMatMul of [B*T, d] x [Vp, d]^T. tfjs's gradient for that
 * call forms the table's gradient in the table's own layout, dE = dy^T x ([Vp, N] x [N, d]), which
 * the engine adds to the embedding lookup's scatter-add into the same table.
 */
export function tiedLogits(x: tf.Tensor3D, table: tf.Tensor2D): tf.Tensor3D {
  const [B, T, d] = x.shape;
  const [Vp, tableWidth] = table.shape;
  tf.util.assert(
    tableWidth === d,
    () => `lm_head (tied): x has shape [${x.shape}] but the token_embeddings table [Vp, d] has [${table.shape}]`,
  );
  const tokens = tf.reshape<tf.Rank.R2>(x, [B * T, d]); // (B*T, d)
  const logits = tf.matMul(tokens, table, false, true); // (B*T, Vp)
  // As linear.ts's output: tfjs's own Reshape keeps its input for the gradient, which would hold the
  // logits [B*T, Vp] past the loss's gradient, until lm_head's backward.
  return reshapeKeepingNothing<tf.Rank.R3>(logits, [B, T, Vp]); // (B, T, Vp)
}
