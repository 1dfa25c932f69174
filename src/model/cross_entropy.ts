/**
 * The training loss: mean cross-entropy of next-token logits against target ids,
 *
 *   loss = (1/N) sum_t ( logsumexp(z_t) - z_t[y_t] ),   N = B*T tokens, z_t the logits of token t.
 *
 * It carries its own gradient, the closed form every framework uses,
 *
 *   dloss/dz_t = (softmax(z_t) - onehot(y_t)) / N,
 *
 * rather than differentiating logsumexp kernel by kernel: tfjs's Sum gradient builds a ones
 * tensor of the logits' shape in JavaScript (B*T*V floats, 200 MB for GPT-2 XL at 1024 tokens,
 * even on the shape-only backend), and the closed form takes five kernels over [N, V]
 * (Softmax, OneHot and its Cast, Sub, Multiply), all on wasm and cheap to add on meta. No
 * matmul either way.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * logits (B, T, V) float32, targets (B, T) int32 ids in [0, V) -> scalar mean loss.
 *
 * The logits are kept for the gradient through customGrad's save, which clones them. Where a
 * clone copies (tfjs's stock wasm Identity; src/runtime/wasm_shared_clones.ts makes wasm's share),
 * tfjs's per-kernel leak check (IS_TEST) counts that copy as a leaked buffer of the forward scope,
 * though the engine frees it after the backward pass.
 */
export function meanCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  const [B, T, V] = logits.shape;
  tf.util.assert(
    targets.rank === 2 && targets.shape[0] === B && targets.shape[1] === T,
    () => `loss: logits have shape [${logits.shape}] but targets have [${targets.shape}] (want [${B},${T}])`,
  );
  tf.util.assert(targets.dtype === 'int32', () => `loss: targets must be int32 but are ${targets.dtype}`);
  const tokens = B * T;
  // customGrad passes the logits first, then the function that keeps tensors for the gradient.
  const loss = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const z = inputs[0] as tf.Tensor3D;
    const save = inputs[1] as tf.GradSaveFunc;
    const flat = tf.reshape<tf.Rank.R2>(z, [tokens, V]); // (N, V)
    const logNormaliser = tf.logSumExp(flat, -1); // (N)
    // z_t[y_t] as a gather from the flattened logits at t * V + y_t: wasm's gather with batchDims
    // returns wrong values (tfjs 4.22), a plain gather is right everywhere.
    const rowStart = tf.mul(tf.range(0, tokens, 1, 'int32'), tf.scalar(V, 'int32')); // (N)
    const targetIndex = tf.add(rowStart, tf.reshape<tf.Rank.R1>(targets, [tokens])); // (N)
    const targetLogit = tf.gather(tf.reshape<tf.Rank.R1>(flat, [tokens * V]), targetIndex); // (N)
    const value = tf.mean<tf.Scalar>(tf.sub(logNormaliser, targetLogit));
    save([flat]);
    const gradFunc = (dy: tf.Scalar, saved: tf.Tensor[]): tf.Tensor => {
      const [savedFlat] = saved as [tf.Tensor2D];
      const flatTargets = tf.reshape<tf.Rank.R1>(targets, [tokens]); // (N)
      // One-hot as int32, then cast: wasm's OneHot writes int32 bits whatever dtype it is asked for.
      // Each [N, V] tensor is freed once the next kernel has read it, so the gradient holds at most
      // three of them (the one-hot, the softmax and their difference), not all five to the end.
      const oneHotIds = tf.oneHot(flatTargets, V); // (N, V) int32
      const oneHot = tf.cast(oneHotIds, 'float32'); // (N, V)
      oneHotIds.dispose();
      const probabilities = tf.softmax(savedFlat); // (N, V)
      const residual = tf.sub(probabilities, oneHot); // (N, V)
      tf.dispose([probabilities, oneHot]);
      const scaled = tf.mul(residual, tf.div(dy, tokens)); // (N, V)
      residual.dispose();
      return tf.reshape<tf.Rank.R3>(scaled, [B, T, V]); // (B, T, V)
    };
    return { value, gradFunc };
  });
  return loss(logits);
}
