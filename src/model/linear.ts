import * as tf from '@tensorflow/tfjs-core';

import { addKeepingNothing, reshapeKeepingNothing } from './lean_gradients.js';

/**
 * A projection x W with W stored [d_in, d_out] and the activations flattened to tokens:
 * one BatchMatMul of [B*T, d_in] x [d_in, d_out], no transposes, batch 1.
 *
 * Why this layout rather than W [d_out, d_in] applied as x @ W^T:
 * - on the wasm backend only batch-1, untransposed matmuls take XNNPACK's fast path (measured
 *   here: [512,512] x [512,512] at ~26-35 GFLOP/s, the same with transposeB at ~1.7-2.9, and a
 *   broadcast batch [2,256,512] x [512,512] at ~1.4);
 * - tfjs 4.22's BatchMatMul gradient does not reduce a broadcast batch (for [B,T,d] x [d,n] it
 *   returns dW with shape [B, d, n] and tf.grads throws); a 2-D product needs no custom gradient.
 * The work is the same: [B, T, d_in] x [d_in, d_out] and [B*T, d_in] x [d_in, d_out] both cost
 * 2 * B * T * d_in * d_out FLOPs, and the verifier compares matmuls with batch dims folded.
 *
 * A bias [d_out], when the architecture has one, is added to the (B, T, d_out) output: one Add
 * in the caller's scope, so it carries the module path of its matmul. Its gradient is tfjs's
 * broadcast reduction (a Sum of dy over the B*T tokens), no matmul. Neither the output reshape nor
 * the bias add keeps a tensor for its gradient (lean_gradients.ts).
 */
export function linear(x: tf.Tensor3D, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor3D {
  const [B, T, dIn] = x.shape;
  const [weightIn, dOut] = weight.shape;
  tf.util.assert(
    dIn === weightIn,
    () => `linear: x has shape [${x.shape}] but the weight [d_in, d_out] has [${weight.shape}]`,
  );
  const tokens = tf.reshape<tf.Rank.R2>(x, [B * T, dIn]); // (B*T, d_in)
  const projected = tf.matMul(tokens, weight); // (B*T, d_out)
  // Kept by no gradient: only its consumer decides whether the output outlives the forward pass.
  const output = reshapeKeepingNothing<tf.Rank.R3>(projected, [B, T, dOut]); // (B, T, d_out)
  if (bias === undefined) return output;
  tf.util.assert(
    bias.rank === 1 && bias.shape[0] === dOut,
    () =>
      `linear: the weight [d_in, d_out] has shape [${weight.shape}] but the bias has [${bias.shape}] (want [${dOut}])`,
  );
  return addKeepingNothing<tf.Tensor3D>(output, bias);
}
