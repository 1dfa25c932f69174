/**
 * The model's weights as explicit tensors, their CS336 initialisation and the one ordered list
 * of (module path, tensor) the rest of the code reads them through.
 *
 * Matrices are stored [d_in, d_out] and applied as x W (src/model/linear.ts says why: the fast
 * matmul path of the wasm backend, and a gradient tfjs gets right). This is the transpose of the
 * course's W [d_out, d_in]; the counts are the same. Initialisation (CS336):
 *   linear     N(0, 2 / (d_in + d_out)) truncated at 3 sigma
 *   embedding  N(0, 1) truncated at 3 sigma
 *   gains      1
 * 'fill' makes every tensor with tf.fill (a constant per tensor), so a shape-only backend never
 * needs a data buffer, and neither does the host: nothing is built in JavaScript first.
 */

import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { path, type AttentionProjection, type FfnMatrix } from '../module_paths.js';
import { streamFor } from './seeded_random.js';
import { truncatedNormalArray } from './truncated_normal.js';

export interface LayerWeights {
  ln1: tf.Tensor1D;
  q_proj: tf.Tensor2D;
  k_proj: tf.Tensor2D;
  v_proj: tf.Tensor2D;
  output_proj: tf.Tensor2D;
  ln2: tf.Tensor1D;
  w1: tf.Tensor2D;
  w2: tf.Tensor2D;
  w3: tf.Tensor2D;
}

export interface TransformerWeights {
  token_embeddings: tf.Tensor2D;
  layers: LayerWeights[];
  ln_final: tf.Tensor1D;
  lm_head: tf.Tensor2D;
}

export type WeightInit = 'random' | 'fill';

export interface InitOptions {
  seed: number;
  init: WeightInit;
}

export interface WeightEntry {
  path: string;
  name: 'weight' | 'gain';
  tensor: tf.Tensor;
}

/** How a tensor is initialised; `std` is the normal's standard deviation before truncation. */
type InitRule = { kind: 'gain' } | { kind: 'normal'; std: number };

interface WeightSpec {
  path: string;
  name: 'weight' | 'gain';
  shape: [number] | [number, number];
  rule: InitRule;
}

/** Truncation point of every normal init, in standard deviations. */
export const INIT_TRUNCATION_STD = 3;

/** The value 'fill' puts in every matrix: small enough that activations stay finite and moderate. */
const FILL_VALUE = 0.02;

function gainSpec(modulePath: string, size: number): WeightSpec {
  return { path: modulePath, name: 'gain', shape: [size], rule: { kind: 'gain' } };
}

function linearSpec(modulePath: string, dIn: number, dOut: number): WeightSpec {
  return {
    path: modulePath,
    name: 'weight',
    shape: [dIn, dOut], // [d_in, d_out]
    rule: { kind: 'normal', std: Math.sqrt(2 / (dIn + dOut)) },
  };
}

const LAYER_PROJECTIONS: readonly AttentionProjection[] = ['q_proj', 'k_proj', 'v_proj', 'output_proj'];

/** Every weight of `config` in model order, with its shape and init rule. */
function weightSpecs(config: ModelConfig): WeightSpec[] {
  const { vocab_size: V, d_model: d, d_ff: F, num_layers: L } = config;
  const specs: WeightSpec[] = [
    {
      path: path.tokenEmbeddings,
      name: 'weight',
      shape: [V, d], // [V, d]: a lookup table, not a projection
      rule: { kind: 'normal', std: 1 },
    },
  ];
  for (let i = 0; i < L; i++) {
    specs.push(gainSpec(path.ln1(i), d));
    for (const projection of LAYER_PROJECTIONS) {
      specs.push(linearSpec(path.attnProjection(i, projection), d, d));
    }
    specs.push(gainSpec(path.ln2(i), d));
    const ffnShapes: Record<FfnMatrix, [number, number]> = { w1: [d, F], w2: [F, d], w3: [d, F] };
    for (const matrix of ['w1', 'w2', 'w3'] as const) {
      const [dIn, dOut] = ffnShapes[matrix];
      specs.push(linearSpec(path.ffnMatrix(i, matrix), dIn, dOut));
    }
  }
  specs.push(gainSpec(path.lnFinal, d));
  specs.push(linearSpec(path.lmHead, d, V));
  return specs;
}

function makeTensor(spec: WeightSpec, options: InitOptions): tf.Tensor {
  const size = spec.shape.reduce((total, dim) => total * dim, 1);
  if (spec.rule.kind === 'gain') return tf.fill(spec.shape, 1);
  if (options.init === 'fill') {
    return tf.fill(spec.shape, spec.path === path.tokenEmbeddings ? 1 : FILL_VALUE);
  }
  const values = truncatedNormalArray(size, spec.rule.std, INIT_TRUNCATION_STD, streamFor(options.seed, spec.path));
  return tf.tensor(values, spec.shape, 'float32');
}

/** Builds the structured weights from tensors listed in weightSpecs order. */
function assemble(config: ModelConfig, tensors: tf.Tensor[]): TransformerWeights {
  let next = 0;
  const take = <T extends tf.Tensor>(): T => {
    const tensor = tensors[next++];
    if (tensor === undefined) throw new Error(`initWeights: ran out of tensors at index ${next - 1}`);
    return tensor as T;
  };
  const token_embeddings = take<tf.Tensor2D>();
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.num_layers; i++) {
    layers.push({
      ln1: take(),
      q_proj: take(),
      k_proj: take(),
      v_proj: take(),
      output_proj: take(),
      ln2: take(),
      w1: take(),
      w2: take(),
      w3: take(),
    });
  }
  const ln_final = take<tf.Tensor1D>();
  const lm_head = take<tf.Tensor2D>();
  return { token_embeddings, layers, ln_final, lm_head };
}

/**
 * Fresh weights for `config`. 'random' is seeded: each tensor draws from its own stream keyed by
 * the seed and its module path, so the same seed always gives the same weights.
 */
export function initWeights(config: ModelConfig, options: InitOptions): TransformerWeights {
  const tensors: tf.Tensor[] = [];
  try {
    for (const spec of weightSpecs(config)) tensors.push(makeTensor(spec, options));
  } catch (error) {
    for (const tensor of tensors) tensor.dispose();
    throw error;
  }
  return assemble(config, tensors);
}

/** Every weight in model order with its module path (the analytic inventory's row names). */
export function weightEntries(weights: TransformerWeights): WeightEntry[] {
  const entries: WeightEntry[] = [{ path: path.tokenEmbeddings, name: 'weight', tensor: weights.token_embeddings }];
  weights.layers.forEach((layer, i) => {
    entries.push({ path: path.ln1(i), name: 'gain', tensor: layer.ln1 });
    for (const projection of LAYER_PROJECTIONS) {
      entries.push({ path: path.attnProjection(i, projection), name: 'weight', tensor: layer[projection] });
    }
    entries.push({ path: path.ln2(i), name: 'gain', tensor: layer.ln2 });
    for (const matrix of ['w1', 'w2', 'w3'] as const) {
      entries.push({ path: path.ffnMatrix(i, matrix), name: 'weight', tensor: layer[matrix] });
    }
  });
  entries.push({ path: path.lnFinal, name: 'gain', tensor: weights.ln_final });
  entries.push({ path: path.lmHead, name: 'weight', tensor: weights.lm_head });
  return entries;
}

export function disposeWeights(weights: TransformerWeights): void {
  for (const entry of weightEntries(weights)) entry.tensor.dispose();
}

/** Throws when a weight's shape or the layer count disagrees with `config`, naming the path and both shapes. */
export function assertWeightsMatch(config: ModelConfig, weights: TransformerWeights): void {
  tf.util.assert(
    weights.layers.length === config.num_layers,
    () => `forward: weights have ${weights.layers.length} layers but ${config.name} has num_layers ${config.num_layers}`,
  );
  const specs = weightSpecs(config);
  const entries = weightEntries(weights);
  specs.forEach((spec, index) => {
    const entry = entries[index];
    tf.util.assert(
      entry !== undefined && tf.util.arraysEqual(entry.tensor.shape, spec.shape),
      () => `forward: weight ${spec.path} has shape [${entry?.tensor.shape}] but ${config.name} needs [${spec.shape}]`,
    );
  });
}
