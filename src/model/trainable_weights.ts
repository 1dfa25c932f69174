/**
 * The model's weights as tf.Variables, so an optimizer can update them in place (assign) and a
 * training step never holds two copies of the model. A variable takes over its tensor's storage
 * (no copy); the plain tensors are released.
 */
import * as tf from '@tensorflow/tfjs-core';

import { weightEntries, type TransformerWeights } from './index.js';
import type { Parameter } from './adamw.js';

/** `holder` with every tensor field replaced by `convert(tensor)`; other fields kept as they are. */
function withTensorsConverted<T extends object>(holder: T, convert: (tensor: tf.Tensor) => tf.Tensor): T {
  return Object.fromEntries(
    Object.entries(holder as Record<string, unknown>).map(([name, value]) => [
      name,
      value instanceof tf.Tensor ? convert(value as tf.Tensor) : value,
    ]),
  ) as T;
}

/**
 * Converts every weight to a trainable variable; `weights` must not be used afterwards. Every
 * tensor field converts, whatever the layer holds, and a tensor held in two places (a tied table)
 * becomes one variable.
 */
export function toTrainable(weights: TransformerWeights): TransformerWeights {
  const converted = new Map<tf.Tensor, tf.Variable>();
  const asVariable = (tensor: tf.Tensor): tf.Tensor => {
    if (tensor instanceof tf.Variable) return tensor;
    let variable = converted.get(tensor);
    if (variable === undefined) {
      variable = tf.variable(tensor, true);
      converted.set(tensor, variable);
    }
    return variable;
  };
  const trainable: TransformerWeights = {
    ...withTensorsConverted(weights, asVariable),
    layers: weights.layers.map((layer) => {
      const converted = withTensorsConverted(layer, asVariable);
      const moe = layer.moe;
      if (moe === undefined) return converted;
      // A MoE layer holds its router and experts one level down.
      const shared = moe.shared === undefined ? {} : { shared: withTensorsConverted(moe.shared, asVariable) };
      converted.moe = {
        ...withTensorsConverted(moe, asVariable),
        experts: moe.experts.map((expert) => withTensorsConverted(expert, asVariable)),
        ...shared,
      };
      return converted;
    }),
  };
  for (const tensor of converted.keys()) tensor.dispose();
  return trainable;
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
