/**
 * The whole model, top to bottom (design.md section 1 and its architecture variants):
 *
 *   logits[B,T,Vp] = lm_head( ln_final( layers[L-1]( ... layers[0]( embed(ids) ))))
 *   embed(ids)  = token_embeddings[ids]  (+ position_embeddings[0:T] with learned positions)
 *   block(x):  x = x + attn(ln1(x));  x = x + ffn(ln2(x))          (pre-norm)
 *
 * Every choice comes from architectureOf(config): RMSNorm or LayerNorm; RoPE (theta = rope_theta)
 * or learned positions; multi-head, grouped-query or multi-query attention; the SwiGLU FFN or the
 * GELU MLP; biases on the linear layers; lm_head untied, or tied as x E^T; the vocabulary padded
 * to a multiple (the embedding's rows and lm_head's columns are Vp).
 *
 * Every module runs inside scope(path, fn) so each kernel carries its module path; the residual
 * adds sit at `layers.{i}`. A forward pass runs exactly expectedMatmulCount(config) matmul
 * kernels: per layer q, k, v, scores, weighted sum, output, then w1, w3, w2 (SwiGLU, 9 per layer)
 * or w1, w2 (GELU MLP, 8 per layer); then lm_head.
 */

import * as tf from '@tensorflow/tfjs';
import { architectureOf, type Architecture, type ModelConfig } from '../config/model_config.js';
import { path } from '../core/module_paths.js';
import { scope } from '../core/scope.js';
import {
  attention,
  defaultAttentionParts,
  type AttentionHeads,
  type AttentionParts,
  type AttentionWeights,
} from './attention.js';
import { geluMlp } from './gelu_mlp.js';
import { LAYER_NORM_EPS, layerNorm } from './layer_norm.js';
import { addLearnedPositions } from './learned_positions.js';
import { RMS_NORM_EPS, rmsNorm } from './rms_norm.js';
import { ropeTables, type RopeTables } from './rope.js';
import { swiglu } from './swiglu.js';
import { tiedLogits } from './tied_logits.js';
import { assertWeightsMatch, type LayerWeights, type TransformerWeights } from './weights.js';

/** Applies one FFN matrix, with its bias when the architecture has one. */
export type Projection = (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D;

/**
 * The module functions the model is assembled from. forward() takes a partial override, so a
 * test can plant one wrong module (say an ffn that applies w3 twice) and keep the rest. A planted
 * `linear` reaches every projection, the ffn's included (and lm_head unless it is tied).
 */
export interface ModelParts extends AttentionParts {
  embedding: (table: tf.Tensor2D, ids: tf.Tensor2D) => tf.Tensor3D;
  positions: (x: tf.Tensor3D, table: tf.Tensor2D) => tf.Tensor3D;
  rmsNorm: (x: tf.Tensor3D, gain: tf.Tensor1D, eps: number) => tf.Tensor3D;
  layerNorm: (x: tf.Tensor3D, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number) => tf.Tensor3D;
  attention: (
    x: tf.Tensor3D,
    weights: AttentionWeights,
    heads: AttentionHeads,
    rope: RopeTables | undefined,
    parts: AttentionParts,
  ) => tf.Tensor3D;
  /** The SwiGLU FFN. */
  ffn: (x: tf.Tensor3D, w1: tf.Tensor2D, w2: tf.Tensor2D, w3: tf.Tensor2D, project: Projection) => tf.Tensor3D;
  /** The GELU MLP. */
  geluMlp: (x: tf.Tensor3D, w1: tf.Tensor2D, w2: tf.Tensor2D, project: Projection) => tf.Tensor3D;
  /** lm_head with tied embeddings: x (B, T, d) times the table [Vp, d] transposed. */
  tiedLogits: (x: tf.Tensor3D, table: tf.Tensor2D) => tf.Tensor3D;
}

/**
 * Row lookup E[ids]: ids (B, T) into E [Vp, d] -> (B, T, d). A gather, not a matmul.
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
      return tf.scatterND(indices, updates, rows.shape); // (Vp, d)
    };
    return { value, gradFunc };
  });
  return lookup(table);
}

const defaultModelParts: ModelParts = {
  ...defaultAttentionParts,
  embedding,
  positions: addLearnedPositions,
  rmsNorm,
  layerNorm,
  attention,
  ffn: swiglu,
  geluMlp,
  tiedLogits,
};

/** The normalisation of `architecture`: RMSNorm (gain) or LayerNorm (gain and bias). */
function normOf(
  architecture: Architecture,
  parts: ModelParts,
): (x: tf.Tensor3D, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined) => tf.Tensor3D {
  if (architecture.norm === 'rmsnorm') return (x, gain) => parts.rmsNorm(x, gain, RMS_NORM_EPS);
  return (x, gain, bias) => {
    if (bias === undefined) throw new Error('forward: a LayerNorm has no bias');
    return parts.layerNorm(x, gain, bias, LAYER_NORM_EPS);
  };
}

/** A Projection that adds each FFN matrix's bias (found by the matrix itself) after its matmul. */
function ffnProjection(layer: LayerWeights, parts: ModelParts): Projection {
  const biases = new Map<tf.Tensor, tf.Tensor1D | undefined>([
    [layer.w1, layer.w1_bias],
    [layer.w2, layer.w2_bias],
  ]);
  if (layer.w3 !== undefined) biases.set(layer.w3, layer.w3_bias);
  return (x, weight) => parts.linear(x, weight, biases.get(weight));
}

function block(
  x: tf.Tensor3D,
  layer: LayerWeights,
  architecture: Architecture,
  heads: AttentionHeads,
  rope: RopeTables | undefined,
  parts: ModelParts,
): tf.Tensor3D {
  const norm = normOf(architecture, parts);
  const attentionInput = scope('ln1', () => norm(x, layer.ln1, layer.ln1_bias));
  const attended = scope('attn', () => parts.attention(attentionInput, layer, heads, rope, parts));
  const afterAttention = tf.add<tf.Tensor3D>(x, attended); // (B, T, d)
  const ffnInput = scope('ln2', () => norm(afterAttention, layer.ln2, layer.ln2_bias));
  const project = ffnProjection(layer, parts);
  const transformed = scope('ffn', () => {
    if (architecture.ffn === 'gelu') return parts.geluMlp(ffnInput, layer.w1, layer.w2, project);
    if (layer.w3 === undefined) throw new Error('forward: a SwiGLU layer has no w3');
    return parts.ffn(ffnInput, layer.w1, layer.w2, layer.w3, project);
  });
  return tf.add<tf.Tensor3D>(afterAttention, transformed); // (B, T, d)
}

/** Throws unless ids is int32 [B, T] with B >= 1 and 1 <= T <= context_length. */
function assertIdsMatch(config: ModelConfig, ids: tf.Tensor): void {
  tf.util.assert(ids.rank === 2, () => `forward: ids must be [batch, seq] but have shape [${ids.shape}]`);
  tf.util.assert(
    ids.dtype === 'int32',
    () => `forward: ids must be int32 but are ${ids.dtype} with shape [${ids.shape}]`,
  );
  const [batch = 0, seq = 0] = ids.shape;
  tf.util.assert(
    batch >= 1 && seq >= 1,
    () => `forward: ids have shape [${ids.shape}]: batch and seq must be at least 1`,
  );
  tf.util.assert(
    seq <= config.context_length,
    () => `forward: ids have shape [${ids.shape}] but ${config.name}'s context_length is ${config.context_length}`,
  );
}

/**
 * Logits (B, T, Vp) for ids (B, T), Vp the padded vocabulary. Runs inside tf.tidy, so every
 * intermediate is released, also when an assert or a kernel throws. Ids are not range-checked
 * (that would read them back, and a shape-only backend has no values): keep them in [0, V).
 */
export function forward(
  config: ModelConfig,
  weights: TransformerWeights,
  ids: tf.Tensor2D,
  parts: Partial<ModelParts> = {},
): tf.Tensor3D {
  const model: ModelParts = { ...defaultModelParts, ...parts };
  const architecture = architectureOf(config);
  const heads: AttentionHeads = { query: config.num_heads, keyValue: architecture.num_kv_heads };
  return tf.tidy(() => {
    assertIdsMatch(config, ids);
    assertWeightsMatch(config, weights);
    const [, seq] = ids.shape;
    const rope =
      architecture.positions === 'rope' ? ropeTables(seq, architecture.head_dim, architecture.rope_theta) : undefined;
    let x = scope(path.tokenEmbeddings, () => model.embedding(weights.token_embeddings, ids)); // (B, T, d)
    const positionTable = weights.position_embeddings;
    if (positionTable !== undefined) {
      x = scope(path.positionEmbeddings, () => model.positions(x, positionTable)); // (B, T, d)
    }
    weights.layers.forEach((layer, i) => {
      x = scope(path.layer(i), () => block(x, layer, architecture, heads, rope, model)); // (B, T, d)
    });
    const normed = scope(path.lnFinal, () => normOf(architecture, model)(x, weights.ln_final, weights.ln_final_bias));
    const lmHead = weights.lm_head;
    return scope(path.lmHead, () =>
      lmHead === undefined ? model.tiedLogits(normed, weights.token_embeddings) : model.linear(normed, lmHead),
    ); // (B, T, Vp)
  });
}
