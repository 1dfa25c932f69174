/**
 * The model's weights as explicit tensors, their initialisation and the one ordered list of
 * (module path, name, tensor) the rest of the code reads them through.
 *
 * Matrices are stored [d_in, d_out] and applied as x W (src/model/linear.ts says why: the fast
 * matmul path of the wasm backend, and a gradient tfjs gets right). This is the transpose of the
 * course's W [d_out, d_in]; the counts are the same. Initialisation (CS336, and for the variants
 * the same spirit):
 *   linear                 N(0, 2 / (d_in + d_out)) truncated at 3 sigma
 *   token embedding        N(0, 1) truncated at 3 sigma
 *   position table         N(0, 1) truncated at 3 sigma, like the token embedding it is added to
 *                          (GPT-2 itself draws it with std 0.02; the scale changes no shape or count)
 *   gains                  1 (0 when zero-centred: the model applies 1 + gain)
 *   biases (linear, LayerNorm)  0
 * 'fill' makes every tensor with tf.fill (a constant per tensor), so a shape-only backend never
 * needs a data buffer, and neither does the host: nothing is built in JavaScript first. 'random'
 * draws its values only on a backend that keeps them (host_constant.ts).
 *
 * Every architecture choice is read through architectureOf(config); the list of weights follows
 * the analytic parameterInventory row for row (same paths, names, shapes and order), which
 * test/model_variants.test.ts checks for random configs of every variant.
 */

import * as tf from '@tensorflow/tfjs-core';
import {
  architectureOf,
  isMoeLayer,
  type Architecture,
  type MlaArchitecture,
  type ModelConfig,
  type MoeArchitecture,
} from '../config/model_config.js';
import { path, type AttentionProjection, type FfnMatrix, type LatentProjection } from '../core/module_paths.js';
import type { AttentionWeights } from './attention.js';
import type { LatentAttentionWeights } from './latent_attention.js';
import { backendHeapIsShared, hostConstantFilled, hostConstantInSharedHeap } from './host_constant.js';
import { streamFor } from './seeded_random.js';
import { fillTruncatedNormal } from './truncated_normal.js';

/**
 * One transformer block's weights: attention's (q_proj ... output_proj, or qkv_proj, and the q
 * and k norms, declared with attention itself) and the norms' and the FFN's. A norm's gain and a
 * linear layer's weight keep the seed's field names (ln1, q_proj, w1, ...); a bias sits beside
 * its weight as `<field>_bias` and is absent when the architecture has none. w3 exists with a
 * gated FFN only; gate_up_proj replaces w1 and w3 when they are fused; the post-norms exist with
 * post_norms only. A latent-attention layer has the latent projections and norms in place of
 * k_proj and v_proj (and of q_proj when the query has its own latent).
 */
export interface LayerWeights extends AttentionWeights, Omit<LatentAttentionWeights, 'q_proj' | 'output_proj'> {
  ln1: tf.Tensor1D;
  ln1_bias?: tf.Tensor1D;
  post_attn_norm?: tf.Tensor1D;
  post_attn_norm_bias?: tf.Tensor1D;
  ln2: tf.Tensor1D;
  ln2_bias?: tf.Tensor1D;
  w1?: tf.Tensor2D;
  w1_bias?: tf.Tensor1D;
  /** [d, 2F]: W1 and W3 side by side, the gate's half first. */
  gate_up_proj?: tf.Tensor2D;
  gate_up_proj_bias?: tf.Tensor1D;
  /** Absent in a mixture-of-experts layer, whose FFN is `moe`. */
  w2?: tf.Tensor2D;
  w2_bias?: tf.Tensor1D;
  w3?: tf.Tensor2D;
  w3_bias?: tf.Tensor1D;
  post_ffn_norm?: tf.Tensor1D;
  post_ffn_norm_bias?: tf.Tensor1D;
  /** The router, experts and shared expert of a mixture-of-experts layer (config/moe.ts); absent in a dense layer. */
  moe?: MoeLayerWeights;
}

/** One expert's FFN: w1 [d, F], w2 [F, d], w3 [d, F] when gated, each with its bias under mlp_bias. */
export interface ExpertWeights {
  w1: tf.Tensor2D;
  w1_bias?: tf.Tensor1D;
  w2: tf.Tensor2D;
  w2_bias?: tf.Tensor1D;
  w3?: tf.Tensor2D;
  w3_bias?: tf.Tensor1D;
}

export interface MoeLayerWeights {
  /** [d, E]: the router's logits per expert. */
  router: tf.Tensor2D;
  router_bias?: tf.Tensor1D;
  /** [E]: added to the scores for the choice of experts only (router_score_bias, DeepSeek-V3's e_score_correction_bias). */
  score_bias?: tf.Tensor1D;
  /** E routed experts, each of width expert_d_ff. */
  experts: ExpertWeights[];
  /** The shared expert every token visits (width shared_d_ff). */
  shared?: ExpertWeights;
  /** [d, 1]: sigmoid(x ws) scales the shared expert (shared_expert_gate). */
  shared_gate?: tf.Tensor2D;
}

export interface TransformerWeights {
  /** [Vp, d]: the padded vocabulary's rows; also lm_head's matrix (as E^T) when embeddings are tied. */
  token_embeddings: tf.Tensor2D;
  /** [context_length, d]: learned positions only. */
  position_embeddings?: tf.Tensor2D;
  layers: LayerWeights[];
  ln_final: tf.Tensor1D;
  ln_final_bias?: tf.Tensor1D;
  /** [d, Vp]; absent when tied (lm_head then multiplies by token_embeddings transposed). */
  lm_head?: tf.Tensor2D;
}

export type WeightInit = 'random' | 'fill';

export interface InitOptions {
  seed: number;
  init: WeightInit;
  /**
   * Called after each tensor is made, with the tensors made and the total: making a large model's
   * random weights takes seconds, and a caller showing progress needs to hear from it meanwhile.
   */
  onTensor?: (made: number, total: number) => void;
  /**
   * Fills the random tensors together once all are made, where the backend's heap is shared
   * (the threaded wasm build's) and they hold at least `minValues` values; elsewhere each tensor
   * is filled as it is made. Node's runtime hands one that spreads them over threads
   * (src/runtime/parallel_fill.ts); the model itself stays free of threads.
   */
  truncatedNormalFiller?: TruncatedNormalFiller;
}

/** One tensor's draws: what fillTruncatedNormal(values, std, limitInStd, its stream) writes. */
export interface TruncatedNormalJob {
  /** The tensor's storage in the backend's shared heap. */
  values: Float32Array;
  std: number;
  limitInStd: number;
  /** The tensor's SFC32 state words (streamFor's), stepped in place by the fill. */
  state: Int32Array;
}

export interface TruncatedNormalFiller {
  /** The fewest values worth handing over: below it, starting threads costs more than it saves. */
  readonly minValues: number;
  /**
   * Fills every job bit for bit as fillTruncatedNormal would, in any order, and calls
   * `onFilled(jobsDone)` as jobs finish.
   */
  fill(jobs: readonly TruncatedNormalJob[], onFilled: (jobsDone: number) => void): void;
}

/** The analytic inventory's names: a matrix or table is a 'weight', a norm's scale its 'gain'. */
export type WeightName = 'weight' | 'gain' | 'bias' | 'score_bias';

export interface WeightEntry {
  path: string;
  name: WeightName;
  tensor: tf.Tensor;
}

/** How a tensor is initialised; `std` is the normal's standard deviation before truncation. */
type InitRule = { kind: 'constant'; value: number } | { kind: 'normal'; std: number; fillValue: number };

type TopField = Exclude<keyof TransformerWeights, 'layers'>;
type LayerField = Exclude<keyof LayerWeights, 'moe'>;

/** Where a tensor of a MoE layer goes: the router's, the gate's, or a matrix (or its bias) of an expert. */
type MoeField =
  | { part: 'router' | 'router_bias' | 'score_bias' | 'shared_gate' }
  | { part: 'expert'; expert: number | 'shared'; name: keyof ExpertWeights };

interface WeightSpec {
  path: string;
  name: WeightName;
  shape: [number] | [number, number];
  rule: InitRule;
  /** Where the tensor goes: a field of the model, or of layer `layer`, or of layer `layer`'s experts. */
  field:
    | { layer: number; name: LayerField; moe?: undefined }
    | { layer: number; moe: MoeField }
    | { layer: undefined; name: TopField };
}

/**
 * A weight's slot in one block, in inventory order. A bias names the field it is the bias of
 * (`of`): a norm's gain or a linear layer's weight. `group` says which switch gives a linear
 * layer its bias (qkv_bias, output_bias, mlp_bias).
 */
interface LayerSlot {
  field: LayerField;
  path: (layer: number) => string;
  name: WeightName;
  of?: LayerField;
  group?: BiasGroup;
}

type BiasGroup = 'qkv_bias' | 'output_bias' | 'mlp_bias';
type NormField =
  'ln1' | 'ln2' | 'q_norm' | 'k_norm' | 'q_latent_norm' | 'kv_latent_norm' | 'post_attn_norm' | 'post_ffn_norm';
const NORM_FIELDS: ReadonlySet<LayerField> = new Set<NormField>([
  'ln1',
  'ln2',
  'q_norm',
  'k_norm',
  'q_latent_norm',
  'kv_latent_norm',
  'post_attn_norm',
  'post_ffn_norm',
]);

const normSlots = (norm: NormField, modulePath: (i: number) => string): LayerSlot[] => [
  { field: norm, path: modulePath, name: 'gain' },
  { field: `${norm}_bias`, path: modulePath, name: 'bias', of: norm },
];
const linearSlots = (
  field: AttentionProjection | FfnMatrix | 'qkv_proj' | 'gate_up_proj',
  modulePath: (i: number) => string,
  group: BiasGroup,
): LayerSlot[] => [
  { field, path: modulePath, name: 'weight' },
  { field: `${field}_bias`, path: modulePath, name: 'bias', of: field, group },
];
const projectionSlots = (projection: AttentionProjection, group: BiasGroup): LayerSlot[] =>
  linearSlots(projection, (i) => path.attnProjection(i, projection), group);
const ffnSlots = (matrix: FfnMatrix): LayerSlot[] => linearSlots(matrix, (i) => path.ffnMatrix(i, matrix), 'mlp_bias');
// Latent attention refuses biases (config/latent_attention.ts): its projections have none.
const latentSlots = (projection: LatentProjection): LayerSlot[] => [
  { field: projection, path: (i) => path.latentProjection(i, projection), name: 'weight' },
];

/** Every field a block may hold, in the analytic inventory's order (absent fields are skipped). */
const LAYER_SLOTS: readonly LayerSlot[] = [
  ...normSlots('ln1', path.ln1),
  ...projectionSlots('q_proj', 'qkv_bias'),
  ...projectionSlots('k_proj', 'qkv_bias'),
  ...projectionSlots('v_proj', 'qkv_bias'),
  ...linearSlots('qkv_proj', path.qkvProj, 'qkv_bias'),
  ...latentSlots('q_down'),
  ...normSlots('q_latent_norm', path.qLatentNorm),
  ...latentSlots('q_up'),
  ...latentSlots('kv_down'),
  ...normSlots('kv_latent_norm', path.kvLatentNorm),
  ...latentSlots('kv_up'),
  ...normSlots('q_norm', path.qNorm),
  ...normSlots('k_norm', path.kNorm),
  ...projectionSlots('output_proj', 'output_bias'),
  ...normSlots('post_attn_norm', path.postAttnNorm),
  ...normSlots('ln2', path.ln2),
  ...linearSlots('gate_up_proj', path.gateUpProj, 'mlp_bias'),
  ...ffnSlots('w1'),
  ...ffnSlots('w2'),
  ...ffnSlots('w3'),
  ...normSlots('post_ffn_norm', path.postFfnNorm),
];

/** Truncation point of every normal init, in standard deviations. */
const INIT_TRUNCATION_STD = 3;

/** The value 'fill' puts in every matrix: small enough that activations stay finite and moderate. */
const FILL_VALUE = 0.02;

const GAIN: InitRule = { kind: 'constant', value: 1 };
const ZERO: InitRule = { kind: 'constant', value: 0 };
/**
 * The router's score bias: N(0, 0.1), so that it moves choices among sigmoid scores as a trained
 * one does (transformers starts it at zeros and DeepSeek's balancing moves it); 'fill' puts 0.
 */
const SCORE_BIAS: InitRule = { kind: 'normal', std: 0.1, fillValue: 0 };
/** Lookup tables (token and position embeddings): N(0, 1); 'fill' puts 1 in them. */
const TABLE: InitRule = { kind: 'normal', std: 1, fillValue: 1 };

function linearRule(dIn: number, dOut: number): InitRule {
  return { kind: 'normal', std: Math.sqrt(2 / (dIn + dOut)), fillValue: FILL_VALUE };
}

/** Every weight of `config` in model order, with its shape, init rule and field. */
function weightSpecs(config: ModelConfig): WeightSpec[] {
  const architecture = architectureOf(config);
  const { d_model: d, d_ff: F, num_layers: L } = config;
  const { padded_vocab_size: Vp, kv_dim: dkv } = architecture;
  const layerNorm = architecture.norm === 'layernorm';
  const top = (
    name: TopField,
    modulePath: string,
    weightName: WeightName,
    shape: WeightSpec['shape'],
    rule: InitRule,
  ): WeightSpec => ({
    path: modulePath,
    name: weightName,
    shape,
    rule,
    field: { layer: undefined, name },
  });

  const specs: WeightSpec[] = [top('token_embeddings', path.tokenEmbeddings, 'weight', [Vp, d], TABLE)]; // [Vp, d]: a lookup table
  if (architecture.positions === 'learned') {
    specs.push(top('position_embeddings', path.positionEmbeddings, 'weight', [config.context_length, d], TABLE)); // [ctx, d]
  }
  const { q_dim: dq, head_dim: dh, mla } = architecture;
  const fusedQkv = architecture.fused_qkv;
  const fusedGateUp = architecture.fused_gate_up;
  const matrixShapes: Partial<Record<LayerField, [number, number]>> = {
    ...(mla !== undefined
      ? latentShapes(d, config.num_heads, mla)
      : fusedQkv
        ? { qkv_proj: [d, dq + 2 * dkv] as [number, number], output_proj: [dq, d] as [number, number] }
        : {
            q_proj: [d, dq] as [number, number],
            k_proj: [d, dkv] as [number, number],
            v_proj: [d, dkv] as [number, number],
            output_proj: [dq, d] as [number, number],
          }),
    ...(fusedGateUp ? { gate_up_proj: [d, 2 * F] as [number, number] } : { w1: [d, F] as [number, number] }),
    w2: [F, d],
    ...(architecture.gated_ffn && !fusedGateUp ? { w3: [d, F] as [number, number] } : {}),
  };
  /** The width of each norm this architecture has. */
  const normWidths: Partial<Record<LayerField, number>> = {
    ln1: d,
    ln2: d,
    ...(architecture.qk_norm ? { q_norm: dh, k_norm: dh } : {}),
    ...(mla === undefined ? {} : { kv_latent_norm: mla.kv_lora_rank }),
    ...(mla?.q_lora_rank === undefined ? {} : { q_latent_norm: mla.q_lora_rank }),
    ...(architecture.post_norms ? { post_attn_norm: d, post_ffn_norm: d } : {}),
  };
  /** The shape of a slot's tensor under this architecture, or undefined when it has no such tensor. */
  const shapeOf = (slot: LayerSlot): WeightSpec['shape'] | undefined => {
    if (slot.name === 'gain') {
      const width = normWidths[slot.field];
      return width === undefined ? undefined : [width];
    }
    if (slot.name === 'weight') return matrixShapes[slot.field];
    if (slot.of !== undefined && NORM_FIELDS.has(slot.of)) {
      const width = normWidths[slot.of];
      return layerNorm && width !== undefined ? [width] : undefined; // LayerNorm's bias
    }
    const weight = slot.of === undefined ? undefined : matrixShapes[slot.of];
    const biased = slot.group !== undefined && architecture[slot.group];
    return biased && weight !== undefined ? [weight[1]] : undefined; // a linear bias [d_out]
  };
  // A zero-centred gain is applied as (1 + gain), so it starts at 0 to scale by 1.
  const gainRule = architecture.zero_centered_gain ? ZERO : GAIN;
  for (let i = 0; i < L; i++) {
    const moe = isMoeLayer(architecture, i) ? architecture.moe : undefined;
    for (const slot of LAYER_SLOTS) {
      // One spec per expert matrix: a spread of that many arguments can overflow the stack.
      if (slot.field === 'post_ffn_norm' && moe !== undefined) {
        for (const spec of moeSpecs(i, d, moe, architecture)) specs.push(spec);
      }
      // A MoE layer has experts in place of the dense FFN's matrices.
      if (moe !== undefined && DENSE_FFN_FIELDS.has(slot.field)) continue;
      const shape = shapeOf(slot);
      if (shape === undefined) continue;
      const rule = slot.name === 'gain' ? gainRule : slot.name === 'bias' ? ZERO : linearRule(shape[0], shape[1]!);
      specs.push({ path: slot.path(i), name: slot.name, shape, rule, field: { layer: i, name: slot.field } });
    }
  }
  specs.push(top('ln_final', path.lnFinal, 'gain', [d], gainRule));
  if (layerNorm) specs.push(top('ln_final_bias', path.lnFinal, 'bias', [d], ZERO));
  if (!architecture.tie_embeddings) specs.push(top('lm_head', path.lmHead, 'weight', [d, Vp], linearRule(d, Vp))); // [d, Vp]
  return specs;
}

/**
 * A latent-attention layer's matrices (parameters.ts, latentAttentionRows), H heads:
 *   q_proj [d, H dqk] (full-rank query) or q_down [d, rq] and q_up [rq, H dqk]
 *   kv_down [d, r + dr], kv_up [r, H (dn + dv)], output_proj [H dv, d]
 */
function latentShapes(d: number, H: number, mla: MlaArchitecture): Partial<Record<LayerField, [number, number]>> {
  const rq = mla.q_lora_rank;
  return {
    ...(rq === undefined
      ? { q_proj: [d, H * mla.qk_head_dim] as [number, number] }
      : { q_down: [d, rq] as [number, number], q_up: [rq, H * mla.qk_head_dim] as [number, number] }),
    kv_down: [d, mla.kv_lora_rank + mla.qk_rope_head_dim],
    kv_up: [mla.kv_lora_rank, H * (mla.qk_nope_head_dim + mla.v_head_dim)],
    output_proj: [H * mla.v_head_dim, d],
  };
}

const DENSE_FFN_FIELDS: ReadonlySet<LayerField> = new Set<LayerField>([
  'w1',
  'w1_bias',
  'w2',
  'w2_bias',
  'w3',
  'w3_bias',
  'gate_up_proj',
  'gate_up_proj_bias',
]);

/** A MoE layer's weights in the analytic inventory's order (parameters.ts, moeRows). */
function moeSpecs(i: number, d: number, moe: MoeArchitecture, architecture: Architecture): WeightSpec[] {
  const spec = (modulePath: string, name: WeightName, shape: WeightSpec['shape'], field: MoeField): WeightSpec => ({
    path: modulePath,
    name,
    shape,
    rule: name === 'bias' ? ZERO : name === 'score_bias' ? SCORE_BIAS : linearRule(shape[0], shape[1]!),
    field: { layer: i, moe: field },
  });
  const E = moe.num_experts;
  const specs = [spec(path.router(i), 'weight', [d, E], { part: 'router' })]; // [d, E]
  if (moe.router_bias) specs.push(spec(path.router(i), 'bias', [E], { part: 'router_bias' }));
  if (moe.router_score_bias) specs.push(spec(path.router(i), 'score_bias', [E], { part: 'score_bias' })); // [E]
  const expertSpecs = (expert: number | 'shared', F: number, matrixPath: (name: FfnMatrix) => string) => {
    const shapes: [FfnMatrix, [number, number]][] = [
      ['w1', [d, F]],
      ['w2', [F, d]],
      ...(architecture.gated_ffn ? [['w3', [d, F]] as [FfnMatrix, [number, number]]] : []),
    ];
    for (const [name, shape] of shapes) {
      specs.push(spec(matrixPath(name), 'weight', shape, { part: 'expert', expert, name }));
      if (architecture.mlp_bias) {
        specs.push(spec(matrixPath(name), 'bias', [shape[1]], { part: 'expert', expert, name: `${name}_bias` }));
      }
    }
  };
  for (let e = 0; e < E; e++) expertSpecs(e, moe.expert_d_ff, (name) => path.expertMatrix(i, e, name));
  if (moe.shared_d_ff !== undefined) expertSpecs('shared', moe.shared_d_ff, (name) => path.sharedMatrix(i, name));
  if (moe.shared_expert_gate) specs.push(spec(path.sharedGate(i), 'weight', [d, 1], { part: 'shared_gate' })); // [d, 1]
  return specs;
}

function makeTensor(spec: WeightSpec, options: InitOptions): tf.Tensor {
  const { rule } = spec;
  if (rule.kind === 'constant') return tf.fill(spec.shape, rule.value);
  if (options.init === 'fill') return tf.fill(spec.shape, rule.fillValue);
  return hostConstantFilled(spec.shape, (values) =>
    fillTruncatedNormal(values, rule.std, INIT_TRUNCATION_STD, streamFor(options.seed, spec.path)),
  );
}

/** Builds the structured weights from the specs and their tensors, index for index. */
function assemble(
  config: ModelConfig,
  specs: readonly WeightSpec[],
  tensors: readonly tf.Tensor[],
): TransformerWeights {
  const top: Partial<Record<TopField, tf.Tensor>> = {};
  const layers: Partial<Record<LayerField, tf.Tensor>>[] = Array.from({ length: config.num_layers }, () => ({}));
  const moeLayers = new Map<number, MoeLayerWeights>();
  specs.forEach((spec, index) => {
    const tensor = tensors[index];
    if (tensor === undefined) throw new Error(`initWeights: no tensor for ${spec.path} ${spec.name}`);
    const field = spec.field;
    if (field.layer === undefined) top[field.name] = tensor;
    else if (field.moe === undefined) layers[field.layer]![field.name] = tensor;
    else {
      let moe = moeLayers.get(field.layer);
      if (moe === undefined) {
        // The router comes first in every MoE layer, so it is in place before anything is read.
        moe = { router: tensor as tf.Tensor2D, experts: [] };
        moeLayers.set(field.layer, moe);
      }
      placeMoeTensor(moe, field.moe, tensor);
    }
  });
  const assembled = layers as unknown as LayerWeights[];
  for (const [i, moe] of moeLayers) assembled[i]!.moe = moe;
  return { ...(top as Omit<TransformerWeights, 'layers'>), layers: assembled };
}

function placeMoeTensor(moe: MoeLayerWeights, field: MoeField, tensor: tf.Tensor): void {
  if (field.part === 'router') moe.router = tensor as tf.Tensor2D;
  else if (field.part === 'router_bias') moe.router_bias = tensor as tf.Tensor1D;
  else if (field.part === 'score_bias') moe.score_bias = tensor as tf.Tensor1D;
  else if (field.part === 'shared_gate') moe.shared_gate = tensor as tf.Tensor2D;
  else if (field.part === 'expert') {
    const expert =
      field.expert === 'shared'
        ? (moe.shared ??= {} as ExpertWeights)
        : (moe.experts[field.expert] ??= {} as ExpertWeights);
    (expert as unknown as Record<string, tf.Tensor>)[field.name] = tensor;
  }
}

/** A MoE layer's tensors in the analytic inventory's order: router (and bias), each expert's w1, w2, w3 (and biases), the shared expert, its gate. */
function moeEntries(i: number, moe: MoeLayerWeights): WeightEntry[] {
  const entries: WeightEntry[] = [{ path: path.router(i), name: 'weight', tensor: moe.router }];
  if (moe.router_bias !== undefined) entries.push({ path: path.router(i), name: 'bias', tensor: moe.router_bias });
  if (moe.score_bias !== undefined) entries.push({ path: path.router(i), name: 'score_bias', tensor: moe.score_bias });
  const expertEntries = (expert: ExpertWeights, matrixPath: (name: FfnMatrix) => string): WeightEntry[] =>
    (['w1', 'w2', 'w3'] as const).flatMap((name) => {
      const weight = expert[name];
      const bias = expert[`${name}_bias`];
      if (weight === undefined) return [];
      const rows: WeightEntry[] = [{ path: matrixPath(name), name: 'weight', tensor: weight }];
      if (bias !== undefined) rows.push({ path: matrixPath(name), name: 'bias', tensor: bias });
      return rows;
    });
  moe.experts.forEach((expert, e) => entries.push(...expertEntries(expert, (name) => path.expertMatrix(i, e, name))));
  if (moe.shared !== undefined) entries.push(...expertEntries(moe.shared, (name) => path.sharedMatrix(i, name)));
  if (moe.shared_gate !== undefined)
    entries.push({ path: path.sharedGate(i), name: 'weight', tensor: moe.shared_gate });
  return entries;
}

/** Every tensor of a MoE layer's weights (router, experts, shared expert and gate), in entry order. */
export function moeWeightTensors(moe: MoeLayerWeights): tf.Tensor[] {
  return moeEntries(0, moe).map((entry) => entry.tensor);
}

/**
 * Fresh weights for `config`. 'random' is seeded: each tensor draws from its own stream keyed by
 * the seed and its module path, so the same seed always gives the same weights.
 */
export function initWeights(config: ModelConfig, options: InitOptions): TransformerWeights {
  const specs = weightSpecs(config);
  const filler = options.truncatedNormalFiller;
  if (options.init === 'random' && filler !== undefined && backendHeapIsShared()) {
    const randomValues = specs.reduce(
      (sum, spec) => (spec.rule.kind === 'normal' ? sum + tf.util.sizeFromShape(spec.shape) : sum),
      0,
    );
    if (randomValues >= filler.minValues) return assemble(config, specs, makeThenFill(specs, options, filler));
  }
  const tensors: tf.Tensor[] = [];
  try {
    for (const spec of specs) {
      tensors.push(makeTensor(spec, options));
      options.onTensor?.(tensors.length, specs.length);
    }
  } catch (error) {
    for (const tensor of tensors) tensor.dispose();
    throw error;
  }
  return assemble(config, specs, tensors);
}

/**
 * Every tensor made first, in the shared heap, then the random ones filled together by `filler`.
 * Making them all before filling any keeps each view valid: a later allocation may grow the
 * heap, which a shared memory does in place. onTensor counts a constant as it is made and a
 * random tensor as it is filled.
 */
function makeThenFill(specs: readonly WeightSpec[], options: InitOptions, filler: TruncatedNormalFiller): tf.Tensor[] {
  const tensors: tf.Tensor[] = [];
  const jobs: TruncatedNormalJob[] = [];
  try {
    for (const spec of specs) {
      const { rule } = spec;
      if (rule.kind === 'constant') {
        tensors.push(makeTensor(spec, options));
        options.onTensor?.(tensors.length - jobs.length, specs.length);
        continue;
      }
      const { tensor, values } = hostConstantInSharedHeap(spec.shape);
      tensors.push(tensor);
      const state = Int32Array.from(streamFor(options.seed, spec.path).state());
      jobs.push({ values, std: rule.std, limitInStd: INIT_TRUNCATION_STD, state });
    }
    const constants = tensors.length - jobs.length;
    filler.fill(jobs, (jobsDone) => options.onTensor?.(constants + jobsDone, specs.length));
  } catch (error) {
    for (const tensor of tensors) tensor.dispose();
    throw error;
  }
  return tensors;
}

/**
 * Every weight in model order with its module path and name: the analytic parameterInventory's
 * rows, one for one. A tied model lists its shared table once, as token_embeddings.
 */
export function weightEntries(weights: TransformerWeights): WeightEntry[] {
  const entries: WeightEntry[] = [{ path: path.tokenEmbeddings, name: 'weight', tensor: weights.token_embeddings }];
  if (weights.position_embeddings !== undefined) {
    entries.push({ path: path.positionEmbeddings, name: 'weight', tensor: weights.position_embeddings });
  }
  weights.layers.forEach((layer, i) => {
    for (const slot of LAYER_SLOTS) {
      // A MoE layer's experts sit where the dense FFN would, before the post-FFN norm.
      if (slot.field === 'post_ffn_norm' && layer.moe !== undefined) {
        for (const entry of moeEntries(i, layer.moe)) entries.push(entry);
      }
      const tensor = layer[slot.field];
      if (tensor !== undefined) entries.push({ path: slot.path(i), name: slot.name, tensor });
    }
  });
  entries.push({ path: path.lnFinal, name: 'gain', tensor: weights.ln_final });
  if (weights.ln_final_bias !== undefined)
    entries.push({ path: path.lnFinal, name: 'bias', tensor: weights.ln_final_bias });
  if (weights.lm_head !== undefined) entries.push({ path: path.lmHead, name: 'weight', tensor: weights.lm_head });
  return entries;
}

export function disposeWeights(weights: TransformerWeights): void {
  for (const entry of weightEntries(weights)) entry.tensor.dispose();
}

/**
 * Throws when the weights do not have exactly the tensors `config` needs (a missing or extra
 * weight, a wrong shape, a different layer count), naming the path, the name and both shapes.
 */
export function assertWeightsMatch(config: ModelConfig, weights: TransformerWeights): void {
  tf.util.assert(
    weights.layers.length === config.num_layers,
    () =>
      `forward: weights have ${weights.layers.length} layers but ${config.name} has num_layers ${config.num_layers}`,
  );
  const specs = weightSpecs(config);
  const entries = weightEntries(weights);
  const label = (entry: { path: string; name: WeightName }): string =>
    entry.name === 'weight' ? entry.path : `${entry.path} ${entry.name}`;
  const count = Math.max(specs.length, entries.length);
  for (let index = 0; index < count; index++) {
    const spec = specs[index];
    const entry = entries[index];
    tf.util.assert(spec !== undefined && spec.path === entry?.path && spec.name === entry.name, () =>
      spec === undefined
        ? `forward: weights hold ${label(entry!)} [${entry!.tensor.shape}], which ${config.name} does not have`
        : `forward: weights lack ${label(spec)} [${spec.shape}] that ${config.name} needs` +
          (entry === undefined ? '' : ` (found ${label(entry)} in its place)`),
    );
    tf.util.assert(
      tf.util.arraysEqual(entry!.tensor.shape, spec!.shape),
      () =>
        `forward: weight ${label(spec!)} has shape [${entry!.tensor.shape}] but ${config.name} needs [${spec!.shape}]`,
    );
  }
}
