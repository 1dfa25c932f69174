/**
 * The whole model, top to bottom (design.md section 1):
 *
 *   logits[B,T,V] = lm_head( ln_final( layers[L-1]( ... layers[0]( token_embeddings[ids] ))))
 *   block(x):  x = x + attn(ln1(x));  x = x + ffn(ln2(x))          (pre-norm)
 *
 * Every module runs inside scope(path, fn) so each kernel carries its module path; the residual
 * adds sit at `layers.{i}`. A forward pass runs exactly 9 * L + 1 matmul kernels: per layer
 * q, k, v, output projections, scores, weighted sum, w1, w3, w2; then lm_head.
 */

import * as tf from '@tensorflow/tfjs';
import { headDim, type ModelConfig } from '../config/model_config.js';
import { path } from '../module_paths.js';
import { scope } from '../scope.js';
import { attention, defaultAttentionParts, type AttentionParts, type AttentionWeights } from './attention.js';
import { RMS_NORM_EPS, rmsNorm } from './rms_norm.js';
import { ropeTables, type RopeTables } from './rope.js';
import { swiglu } from './swiglu.js';
import { assertWeightsMatch, type LayerWeights, type TransformerWeights } from './weights.js';

/**
 * The module functions the model is assembled from. forward() takes a partial override, so a
 * test can plant one wrong module (say an ffn that applies w3 twice) and keep the rest. A planted
 * `linear` reaches every one of the 9 * L + 1 projections, the ffn's included.
 */
export interface ModelParts extends AttentionParts {
  embedding: (table: tf.Tensor2D, ids: tf.Tensor2D) => tf.Tensor3D;
  rmsNorm: (x: tf.Tensor3D, gain: tf.Tensor1D, eps: number) => tf.Tensor3D;
  attention: (
    x: tf.Tensor3D,
    weights: AttentionWeights,
    numHeads: number,
    rope: RopeTables,
    parts: AttentionParts,
  ) => tf.Tensor3D;
  ffn: (
    x: tf.Tensor3D,
    w1: tf.Tensor2D,
    w2: tf.Tensor2D,
    w3: tf.Tensor2D,
    project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D,
  ) => tf.Tensor3D;
}

/**
 * Row lookup E[ids]: ids (B, T) into E [V, d] -> (B, T, d). A gather, not a matmul.
 *
 * Its gradient is a scatter-add of dy into the rows of dE, through ScatterNd (which sums
 * duplicate ids) rather than tfjs's own GatherV2 gradient: that one needs UnsortedSegmentSum,
 * which the wasm backend lacks, so tf.grads through the model would throw there. Neither is a
 * matmul, so the backward pass keeps exactly the matmuls the analytic inventory lists.
 */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor3D {
  // customGrad passes the table first, then its save function (unused: ids are in the closure).
  const lookup = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const rows = inputs[0] as tf.Tensor2D;
    const value = tf.gather<tf.Tensor>(rows, ids) as tf.Tensor3D; // (B, T, d)
    const gradFunc = (dy: tf.Tensor3D): tf.Tensor => {
      const [B, T, d] = dy.shape;
      const indices = tf.reshape<tf.Rank.R2>(ids, [B * T, 1]); // (B*T, 1): one row index per token
      const updates = tf.reshape<tf.Rank.R2>(dy, [B * T, d]); // (B*T, d)
      return tf.scatterND(indices, updates, rows.shape); // (V, d)
    };
    return { value, gradFunc };
  });
  return lookup(table) as tf.Tensor3D;
}

export const defaultModelParts: ModelParts = {
  ...defaultAttentionParts,
  embedding,
  rmsNorm,
  attention,
  ffn: swiglu,
};

function block(x: tf.Tensor3D, layer: LayerWeights, numHeads: number, rope: RopeTables, parts: ModelParts): tf.Tensor3D {
  const attentionInput = scope('ln1', () => parts.rmsNorm(x, layer.ln1, RMS_NORM_EPS));
  const attended = scope('attn', () => parts.attention(attentionInput, layer, numHeads, rope, parts));
  const afterAttention = tf.add<tf.Tensor3D>(x, attended); // (B, T, d)
  const ffnInput = scope('ln2', () => parts.rmsNorm(afterAttention, layer.ln2, RMS_NORM_EPS));
  const transformed = scope('ffn', () => parts.ffn(ffnInput, layer.w1, layer.w2, layer.w3, parts.linear));
  return tf.add<tf.Tensor3D>(afterAttention, transformed); // (B, T, d)
}

/** Throws unless ids is int32 [B, T] with B >= 1 and 1 <= T <= context_length. */
export function assertIdsMatch(config: ModelConfig, ids: tf.Tensor): void {
  tf.util.assert(ids.rank === 2, () => `forward: ids must be [batch, seq] but have shape [${ids.shape}]`);
  tf.util.assert(ids.dtype === 'int32', () => `forward: ids must be int32 but are ${ids.dtype} with shape [${ids.shape}]`);
  const [batch = 0, seq = 0] = ids.shape;
  tf.util.assert(batch >= 1 && seq >= 1, () => `forward: ids have shape [${ids.shape}]: batch and seq must be at least 1`);
  tf.util.assert(
    seq <= config.context_length,
    () => `forward: ids have shape [${ids.shape}] but ${config.name}'s context_length is ${config.context_length}`,
  );
}

/**
 * Logits (B, T, V) for ids (B, T). Runs inside tf.tidy, so every intermediate is released,
 * also when an assert or a kernel throws. Ids are not range-checked (that would read them back,
 * and a shape-only backend has no values): keep them in [0, V).
 */
export function forward(
  config: ModelConfig,
  weights: TransformerWeights,
  ids: tf.Tensor2D,
  parts: Partial<ModelParts> = {},
): tf.Tensor3D {
  const model: ModelParts = { ...defaultModelParts, ...parts };
  return tf.tidy(() => {
    assertIdsMatch(config, ids);
    assertWeightsMatch(config, weights);
    const [, seq] = ids.shape;
    const rope = ropeTables(seq, headDim(config));
    let x = scope(path.tokenEmbeddings, () => model.embedding(weights.token_embeddings, ids)); // (B, T, d)
    weights.layers.forEach((layer, i) => {
      x = scope(path.layer(i), () => block(x, layer, config.num_heads, rope, model)); // (B, T, d)
    });
    const normed = scope(path.lnFinal, () => model.rmsNorm(x, weights.ln_final, RMS_NORM_EPS));
    return scope(path.lmHead, () => model.linear(normed, weights.lm_head)); // (B, T, V)
  });
}
