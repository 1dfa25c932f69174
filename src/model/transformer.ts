/**
 * The whole model, top to bottom (design.md section 1 and its architecture variants):
 *
 *   logits[B,T,Vp] = cap( lm_head( ln_final( layers[L-1]( ... layers[0]( embed(ids) )))))
 *   embed(ids)  = token_embeddings[ids]  (* sqrt(d) when scaled; + position_embeddings[0:T] with learned positions)
 *   block(x):  x = x + post(attn(ln1(x)));  x = x + post(ffn(ln2(x)))       (pre-norm)
 *   post: post_attn_norm and post_ffn_norm with post_norms (Gemma 2), else nothing
 *   cap(z) = final_softcap * tanh(z / final_softcap) when the model caps its logits, else z
 *
 * Every choice comes from architectureOf(config): RMSNorm or LayerNorm; RoPE (theta = rope_theta)
 * or learned positions; multi-head, grouped-query or multi-query attention; the SwiGLU FFN or the
 * GELU MLP or GeGLU; fused q/k/v and gate/up projections; q/k norms; a head_dim of its own;
 * biases on any of q/k/v, the output and the FFN; norms that multiply by (1 + gain); lm_head
 * untied, or tied as x E^T; the vocabulary padded to a multiple (the embedding's rows and
 * lm_head's columns are Vp).
 *
 * Every module runs inside scope(path, fn) so each kernel carries its module path; the residual
 * adds sit at `layers.{i}`. A forward pass runs exactly expectedMatmulCount(config) matmul
 * kernels: per layer q, k, v (or qkv_proj), scores, weighted sum, output, then w1, w3, w2 (SwiGLU,
 * GeGLU; 9 per layer), gate_up_proj, w2 (fused) or w1, w2 (GELU MLP, 8 per layer); then lm_head.
 * With latent attention (latent_attention.ts) q_down and q_up (or q_proj), kv_down and kv_up stand
 * where q, k and v are.
 */

import * as tf from '@tensorflow/tfjs-core';
import { DENSE_ATTENTION, type AttentionSchedule } from '../config/attention_schedule.js';
import { architectureOf, type Architecture, type ModelConfig } from '../config/model_config.js';
import { layerWindow } from '../config/windows.js';
import { path } from '../core/module_paths.js';
import { scope } from '../core/scope.js';
import {
  attention,
  defaultAttentionParts,
  type AttentionCacheSlot,
  type AttentionCoreSpec,
  type AttentionHeads,
  type AttentionParts,
  type AttentionWeights,
  type HeadNorm,
} from './attention.js';
import { checkpointed, keepForReruns, tensorsOf } from './checkpoint.js';
import { fusedGatedFfn, geglu, type GateActivation } from './gated_ffn.js';
import { geluMlp } from './gelu_mlp.js';
import { mixtureOfExperts, topKExperts, type ChooseExperts, type ExpertFfn, type RoutingOptions } from './moe.js';
import { LAYER_NORM_EPS, layerNorm } from './layer_norm.js';
import { latentAttention, type LatentHeads } from './latent_attention.js';
import { addKeepingNothing, elementwiseKeeping, scaleKeepingNothing } from './lean_gradients.js';
import { addLearnedPositions } from './learned_positions.js';
import { RMS_NORM_EPS, rmsNorm } from './rms_norm.js';
import { ropeTables, type RopeTables } from './rope.js';
import { swiglu } from './swiglu.js';
import { tiedLogits } from './tied_logits.js';
import {
  assertWeightsMatch,
  moeWeightTensors,
  type ExpertWeights,
  type LayerWeights,
  type TransformerWeights,
} from './weights.js';

/** Applies one FFN matrix, with its bias when the architecture has one. */
export type Projection = (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D;

/**
 * The module functions the model is assembled from. forward() takes a partial override, so a
 * test can plant one wrong module (say an ffn that applies w3 twice) and keep the rest. A planted
 * `linear` reaches every projection, the ffn's included (and lm_head unless it is tied).
 */
export interface ModelParts extends AttentionParts {
  embedding: (table: tf.Tensor2D, ids: tf.Tensor2D) => tf.Tensor3D;
  /** Adds the learned position embeddings of positions start.. (0 unless a decode step's). */
  positions: (x: tf.Tensor3D, table: tf.Tensor2D, start?: number) => tf.Tensor3D;
  rmsNorm: (x: tf.Tensor3D, gain: tf.Tensor1D, eps: number) => tf.Tensor3D;
  layerNorm: (x: tf.Tensor3D, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number) => tf.Tensor3D;
  attention: (
    x: tf.Tensor3D,
    weights: AttentionWeights,
    heads: AttentionHeads,
    rope: RopeTables | undefined,
    parts: AttentionParts,
    core: AttentionCoreSpec,
    headNorm?: HeadNorm,
    cache?: AttentionCacheSlot,
  ) => tf.Tensor3D;
  /** Multi-head latent attention (latent_attention.ts). */
  latentAttention: typeof latentAttention;
  /** The SwiGLU FFN. */
  ffn: (x: tf.Tensor3D, w1: tf.Tensor2D, w2: tf.Tensor2D, w3: tf.Tensor2D, project: Projection) => tf.Tensor3D;
  /** The GeGLU FFN. */
  geglu: (x: tf.Tensor3D, w1: tf.Tensor2D, w2: tf.Tensor2D, w3: tf.Tensor2D, project: Projection) => tf.Tensor3D;
  /** A gated FFN (SwiGLU or GeGLU) whose W1 and W3 are one fused projection [d, 2F]. */
  fusedGatedFfn: (
    x: tf.Tensor3D,
    gateUp: tf.Tensor2D,
    w2: tf.Tensor2D,
    activation: GateActivation,
    project: Projection,
  ) => tf.Tensor3D;
  /** The GELU MLP. */
  geluMlp: (x: tf.Tensor3D, w1: tf.Tensor2D, w2: tf.Tensor2D, project: Projection) => tf.Tensor3D;
  /** The embeddings times sqrt(d_model) (Gemma). */
  scaleEmbeddings: (x: tf.Tensor3D) => tf.Tensor3D;
  /** cap * tanh(logits / cap) on the output logits (Gemma 2). */
  capLogits: (logits: tf.Tensor3D, cap: number) => tf.Tensor3D;
  /** lm_head with tied embeddings: x (B, T, d) times the table [Vp, d] transposed. */
  tiedLogits: (x: tf.Tensor3D, table: tf.Tensor2D) => tf.Tensor3D;
  /** A MoE layer's choice of each token's experts from the router's probabilities (moe.ts). */
  chooseExperts: ChooseExperts;
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

/** x * sqrt(d): Gemma's embedding scale, one Multiply by a scalar (no parameter). */
function scaleEmbeddings(x: tf.Tensor3D): tf.Tensor3D {
  return scaleKeepingNothing(x, Math.sqrt(x.shape[2]));
}

/**
 * cap * tanh(z / cap): Multiply, Tanh, Multiply. Its gradient keeps z alone and computes tanh again
 * (dz = dy (1 - tanh^2)): the loss keeps the capped logits, so keeping them for the cap too would
 * hold one [B, T, V] tensor where autodiff holds two (tanh's output and the loss's softmax).
 */
export function softcap<T extends tf.Tensor>(z: T, cap: number): T {
  return elementwiseKeeping(
    z,
    (input) => tf.mul(tf.tanh(tf.mul(input, 1 / cap)), cap),
    'input',
    (dy, input) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(tf.mul(input, 1 / cap))))),
  );
}

export const defaultModelParts: ModelParts = {
  ...defaultAttentionParts,
  embedding,
  positions: addLearnedPositions,
  rmsNorm,
  layerNorm,
  attention,
  latentAttention,
  ffn: swiglu,
  geglu,
  fusedGatedFfn,
  geluMlp,
  tiedLogits,
  scaleEmbeddings,
  capLogits: softcap,
  chooseExperts: topKExperts,
};

/** A norm of the model's kind over the last axis of x, with its gain [n] and (LayerNorm) bias [n]. */
type Norm = <T extends tf.Tensor>(x: T, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined) => T;

/**
 * The normalisation of `architecture`: RMSNorm (gain) or LayerNorm (gain and bias). A zero-centred
 * gain (Gemma) is stored as g and applied as 1 + g: one Add over the gain each time the norm runs.
 */
function normOf(architecture: Architecture, parts: ModelParts): Norm {
  const gainOf = (gain: tf.Tensor1D): tf.Tensor1D =>
    architecture.zero_centered_gain ? addKeepingNothing<tf.Tensor1D>(gain, tf.scalar(1)) : gain; // (n)
  if (architecture.norm === 'rmsnorm') {
    return <T extends tf.Tensor>(x: T, gain: tf.Tensor1D) =>
      parts.rmsNorm(x as unknown as tf.Tensor3D, gainOf(gain), RMS_NORM_EPS) as unknown as T;
  }
  return <T extends tf.Tensor>(x: T, gain: tf.Tensor1D, bias: tf.Tensor1D | undefined) => {
    if (bias === undefined) throw new Error('forward: a LayerNorm has no bias');
    return parts.layerNorm(x as unknown as tf.Tensor3D, gainOf(gain), bias, LAYER_NORM_EPS) as unknown as T;
  };
}

/** A Projection that adds each FFN matrix's bias (found by the matrix itself) after its matmul. */
function ffnProjection(layer: LayerWeights, parts: ModelParts): Projection {
  const biases = new Map<tf.Tensor | undefined, tf.Tensor1D | undefined>([
    [layer.w1, layer.w1_bias],
    [layer.w2, layer.w2_bias],
    [layer.w3, layer.w3_bias],
    [layer.gate_up_proj, layer.gate_up_proj_bias],
  ]);
  return (x, weight) => parts.linear(x, weight, biases.get(weight));
}

/** The FFN of `architecture` on x (B, T, d): the GELU MLP, SwiGLU or GeGLU, with W1 and W3 fused or not. */
function feedForward(
  x: tf.Tensor3D,
  layer: LayerWeights | ExpertWeights,
  architecture: Architecture,
  parts: ModelParts,
  project: Projection,
): tf.Tensor3D {
  const { w1, w2, w3 } = layer;
  const gateUp = 'gate_up_proj' in layer ? layer.gate_up_proj : undefined;
  if (w2 === undefined) throw new Error('forward: an FFN layer has no w2');
  if (architecture.ffn === 'gelu') {
    if (w1 === undefined) throw new Error('forward: a GELU MLP layer has no w1');
    return parts.geluMlp(x, w1, w2, project);
  }
  const activation: GateActivation = architecture.ffn === 'geglu' ? 'gelu' : 'silu';
  if (gateUp !== undefined) return parts.fusedGatedFfn(x, gateUp, w2, activation, project);
  if (w1 === undefined || w3 === undefined) throw new Error('forward: a gated FFN layer has no w1 or w3');
  return architecture.ffn === 'geglu' ? parts.geglu(x, w1, w2, w3, project) : parts.ffn(x, w1, w2, w3, project);
}

/** One expert's FFN (routed or shared) of the model's kind, each matrix with its bias under mlp_bias. */
function expertFeedForward(architecture: Architecture, parts: ModelParts): ExpertFfn {
  return (x, expert) => {
    const biases = new Map<tf.Tensor | undefined, tf.Tensor1D | undefined>([
      [expert.w1, expert.w1_bias],
      [expert.w2, expert.w2_bias],
      [expert.w3, expert.w3_bias],
    ]);
    const project: Projection = (input, weight) => parts.linear(input, weight, biases.get(weight));
    return feedForward(x, expert, architecture, parts, project);
  };
}

/** `y` through the post-norm at `leaf` when the layer has one (Gemma 2), else as it is. */
function postNorm(
  y: tf.Tensor3D,
  leaf: string,
  gain: tf.Tensor1D | undefined,
  bias: tf.Tensor1D | undefined,
  norm: Norm,
) {
  return gain === undefined ? y : scope(leaf, () => norm(y, gain, bias)); // (B, T, d)
}

function block(
  x: tf.Tensor3D,
  layer: LayerWeights,
  architecture: Architecture,
  heads: AttentionHeads,
  rope: RopeTables | undefined,
  parts: ModelParts,
  core: AttentionCoreSpec,
  cache: AttentionCacheSlot | undefined,
  layerIndex: number,
  routing: RoutingOptions,
): tf.Tensor3D {
  const norm = normOf(architecture, parts);
  const attentionInput = scope('ln1', () => norm(x, layer.ln1, layer.ln1_bias));
  const headNorm: HeadNorm = (heads4d, gain, bias) => norm(heads4d, gain, bias);
  const mla = architecture.mla;
  const attended = scope('attn', () => {
    if (mla !== undefined) {
      if (rope === undefined) throw new Error('forward: latent attention needs rope tables');
      const latentHeads: LatentHeads = {
        heads: heads.query,
        nope: mla.qk_nope_head_dim,
        rope: mla.qk_rope_head_dim,
        value: mla.v_head_dim,
      };
      return parts.latentAttention(attentionInput, layer, latentHeads, rope, parts, core, norm, cache);
    }
    return cache === undefined
      ? parts.attention(attentionInput, layer, heads, rope, parts, core, headNorm)
      : parts.attention(attentionInput, layer, heads, rope, parts, core, headNorm, cache);
  });
  const attendedOut = postNorm(attended, 'post_attn_norm', layer.post_attn_norm, layer.post_attn_norm_bias, norm);
  const afterAttention = addKeepingNothing<tf.Tensor3D>(x, attendedOut); // (B, T, d)
  const ffnInput = scope('ln2', () => norm(afterAttention, layer.ln2, layer.ln2_bias));
  const experts = layer.moe;
  const moe = architecture.moe;
  const transformed =
    experts === undefined || moe === undefined
      ? scope('ffn', () => feedForward(ffnInput, layer, architecture, parts, ffnProjection(layer, parts)))
      : scope('moe', () =>
          mixtureOfExperts(
            ffnInput,
            experts,
            moe,
            layerIndex,
            expertFeedForward(architecture, parts),
            parts.chooseExperts,
            parts.linear,
            routing,
          ),
        );
  const transformedOut = postNorm(transformed, 'post_ffn_norm', layer.post_ffn_norm, layer.post_ffn_norm_bias, norm);
  return addKeepingNothing<tf.Tensor3D>(afterAttention, transformedOut); // (B, T, d)
}

/** How a forward pass computes attention (the run's choice, not the model's). */
export interface ForwardOptions {
  /** Dense (default) or blocked; src/config/attention_schedule.ts. */
  readonly attention?: AttentionSchedule;
  /** Activation checkpointing, selective or full (src/model/checkpoint.ts); none by default. */
  readonly checkpoint?: BlockCheckpointing;
  /** How MoE layers choose their experts, and who hears the routing taken (moe.ts). */
  readonly routing?: RoutingOptions;
}

/**
 * The checkpointing the real training step runs: none; selective (every attention core rerun in
 * its layer's backward); or full (every block rerun in its backward).
 */
export type BlockCheckpointing = 'none' | 'selective' | 'full';

/**
 * Layer i's attention core: its window (from the config's window and window_layers), the run's
 * schedule, the cap, and whether it is rerun in the backward pass (selective checkpointing).
 */
function attentionCoreOf(
  config: ModelConfig,
  i: number,
  schedule: AttentionSchedule,
  recompute: boolean,
): AttentionCoreSpec {
  const cap = architectureOf(config).attn_softcap;
  return {
    window: layerWindow(config, i),
    schedule,
    ...(cap === undefined ? {} : { softcap: cap }),
    ...(recompute ? { recompute } : {}),
  };
}

/** Throws unless ids is int32 [B, T] with B >= 1, T >= 1 and start + T <= context_length. */
function assertIdsMatch(config: ModelConfig, ids: tf.Tensor, start: number): void {
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
  tf.util.assert(start + seq <= config.context_length, () =>
    start === 0
      ? `forward: ids have shape [${ids.shape}] but ${config.name}'s context_length is ${config.context_length}`
      : `decode: ids have shape [${ids.shape}] at position ${start}, past ${config.name}'s context_length of ${config.context_length}`,
  );
}

/**
 * Where a pass over some tokens sits in its sequence: `start` positions come before them, and
 * `layers` holds each layer's cache slot (absent: a plain forward pass, nothing cached).
 */
export interface CachePosition {
  readonly start: number;
  readonly layers: readonly AttentionCacheSlot[];
}

/**
 * Logits (B, T, Vp) for ids (B, T) at positions start..start+T-1, the model top to bottom. With
 * cache slots, each layer's attention reads and refills its slot. Not tidied: the callers are.
 */
export function logitsAt(
  config: ModelConfig,
  weights: TransformerWeights,
  ids: tf.Tensor2D,
  model: ModelParts,
  schedule: AttentionSchedule,
  cache: CachePosition | undefined,
  checkpoint: BlockCheckpointing = 'none',
  routing: RoutingOptions = {},
): tf.Tensor3D {
  const architecture = architectureOf(config);
  const heads: AttentionHeads = { query: config.num_heads, keyValue: architecture.num_kv_heads };
  const start = cache?.start ?? 0;
  assertIdsMatch(config, ids, start);
  assertWeightsMatch(config, weights);
  const [, seq] = ids.shape;
  // Latent attention rotates only the last qk_rope_head_dim features of each head.
  const rotated = architecture.mla?.qk_rope_head_dim ?? architecture.head_dim;
  const rope = architecture.positions === 'rope' ? ropeTables(seq, rotated, architecture.rope_theta, start) : undefined;
  if (checkpoint === 'full' && rope !== undefined) {
    keepForReruns(rope.cos);
    keepForReruns(rope.sin);
  }
  let x = scope(path.tokenEmbeddings, () => model.embedding(weights.token_embeddings, ids)); // (B, T, d)
  if (architecture.scale_embeddings) x = scope(path.embeddingScale, () => model.scaleEmbeddings(x)); // (B, T, d)
  const positionTable = weights.position_embeddings;
  if (positionTable !== undefined) {
    x = scope(path.positionEmbeddings, () =>
      start === 0 ? model.positions(x, positionTable) : model.positions(x, positionTable, start),
    ); // (B, T, d)
  }
  weights.layers.forEach((layer, i) => {
    // A pass with a cache is inference: nothing to rerun.
    const core = attentionCoreOf(config, i, schedule, checkpoint === 'selective' && cache === undefined);
    const slot = cache?.layers[i];
    const runBlock = (input: tf.Tensor3D) =>
      block(input, layer, architecture, heads, rope, model, core, slot, i, routing); // (B, T, d)
    const input = x;
    // Nothing needs a block's intermediates once its output exists: each block's are released as
    // it ends, not when the pass does. Under a gradient tape too: a gradient reads only what its
    // node kept (clones, which the tidy leaves alone), and the tape reads the rest by id and shape.
    x = scope(path.layer(i), () =>
      checkpoint === 'full'
        ? // A MoE layer's weights sit in a nested object: its router and experts are the block's weights too.
          checkpointed(runBlock, input, [
            ...tensorsOf(layer),
            ...(layer.moe === undefined ? [] : moeWeightTensors(layer.moe)),
          ])
        : tf.tidy(() => runBlock(input)),
    ); // (B, T, d)
  });
  const normed = scope(path.lnFinal, () => normOf(architecture, model)(x, weights.ln_final, weights.ln_final_bias));
  const lmHead = weights.lm_head;
  const logits = scope(path.lmHead, () =>
    lmHead === undefined ? model.tiedLogits(normed, weights.token_embeddings) : model.linear(normed, lmHead),
  ); // (B, T, Vp)
  const cap = architecture.final_softcap;
  return cap === undefined ? logits : scope(path.finalSoftcap, () => model.capLogits(logits, cap)); // (B, T, Vp)
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
  options: ForwardOptions = {},
): tf.Tensor3D {
  const model: ModelParts = { ...defaultModelParts, ...parts };
  return tf.tidy(() =>
    logitsAt(
      config,
      weights,
      ids,
      model,
      options.attention ?? DENSE_ATTENTION,
      undefined,
      options.checkpoint,
      options.routing,
    ),
  );
}
