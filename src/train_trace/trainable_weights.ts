/**
 * The model's weights as tf.Variables, so an optimizer can update them in place (assign) and a
 * training step never holds two copies of the model. A variable takes over its tensor's storage
 * (no copy); the plain tensors are released.
 */
import * as tf from '@tensorflow/tfjs';

import { weightEntries, type LayerWeights, type TransformerWeights } from '../model/index.js';
import type { Parameter } from './adamw.js';

/** Converts every weight to a trainable variable; `weights` must not be used afterwards. */
export function toTrainable(weights: TransformerWeights): TransformerWeights {
  const asVariable = <T extends tf.Tensor>(tensor: T): T => {
    if (tensor instanceof tf.Variable) return tensor;
    const variable = tf.variable(tensor, true);
    tensor.dispose();
    return variable as unknown as T;
  };
  const layers: LayerWeights[] = weights.layers.map((layer) => ({
    ln1: asVariable(layer.ln1),
    q_proj: asVariable(layer.q_proj),
    k_proj: asVariable(layer.k_proj),
    v_proj: asVariable(layer.v_proj),
    output_proj: asVariable(layer.output_proj),
    ln2: asVariable(layer.ln2),
    w1: asVariable(layer.w1),
    w2: asVariable(layer.w2),
    w3: asVariable(layer.w3),
  }));
  return {
    token_embeddings: asVariable(weights.token_embeddings),
    layers,
    ln_final: asVariable(weights.ln_final),
    lm_head: asVariable(weights.lm_head),
  };
}

/** Every weight with its module path, in weightEntries order; throws unless each is a variable. */
export function parametersOf(weights: TransformerWeights): Parameter[] {
  return weightEntries(weights).map(({ path, tensor }) => {
    if (!(tensor instanceof tf.Variable)) {
      throw new Error(`training: weight ${path} is a plain tensor; pass the weights through toTrainable first`);
    }
    return { path, variable: tensor };
  });
}
