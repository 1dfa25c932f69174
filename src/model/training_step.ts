/**
 * One training step of the real model: forward pass, mean cross-entropy loss, gradients of every
 * weight by reverse-mode autodiff (tf.valueAndGrads over the weights in weightEntries order),
 * then an AdamW update in place.
 *
 * Phases and paths, so a trace can tell the parts apart: the forward pass and the loss run in the
 * 'forward' phase (the loss under the `loss` scope), every gradient kernel in 'backward' at the
 * module path of the forward op it differentiates (backward_attribution.ts), the update in
 * 'optimizer' under the `optimizer` scope.
 *
 * Memory: each block of the forward pass frees its intermediates as it ends, keeping what the
 * gradients need; the backward pass frees each node's kept tensors, incoming gradient and
 * temporaries once the node is done (backward_release.ts); gradients are freed after the update.
 * So after a step, and after a step that throws, the live tensors are exactly those before it
 * (weights and optimizer state are updated in place), plus the returned loss.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { ModelConfig } from '../config/model_config.js';
import { forward, type ForwardOptions, type ModelParts, type TransformerWeights } from './index.js';
import { scope } from '../core/scope.js';
import { adamwUpdate, assertAdamWHyperparameters, type AdamWHyperparameters, type AdamWState } from './adamw.js';
import { attributeBackward } from './backward_attribution.js';
import { withRerunConstants } from './checkpoint.js';
import { meanCrossEntropy } from './cross_entropy.js';
import { withPhase } from '../core/phase.js';
import { parametersOf } from './trainable_weights.js';

/** Module path of the loss kernels. */
const LOSS_SCOPE = 'loss';
/** Module path of the optimizer kernels. */
const OPTIMIZER_SCOPE = 'optimizer';

export interface TrainingBatch {
  /** int32 (B, T) input ids. */
  readonly ids: tf.Tensor2D;
  /** int32 (B, T) ids each position should predict. */
  readonly targets: tf.Tensor2D;
}

/**
 * The loss and the gradient of every weight, as tf.valueAndGrads, except that a weight the loss
 * does not reach gets a zero gradient (one ZerosLike) where tf.valueAndGrads would throw: in a MoE
 * layer, an expert no token chose in this batch. AdamW then updates every parameter.
 */
function valueAndGradients(
  lossOf: () => tf.Scalar,
  variables: tf.Variable[],
): { value: tf.Scalar; grads: tf.Tensor[] } {
  // tfjs-core registers no kernel gradient; without them the step would fail kernels deep, at
  // the first op whose gradient is missing (src/runtime/gradients.ts loads them).
  if (tf.getGradient(tf.BatchMatMul) === undefined) {
    throw new Error(
      "trainingStep: tfjs's kernel gradients are not registered; import '@tensorflow/tfjs' (or call loadKernelGradients) before a training step",
    );
  }
  const { value, grads } = tf.engine().gradients(lossOf, variables, undefined, true);
  return { value, grads: grads.map((grad, index) => grad ?? tf.zerosLike(variables[index]!)) };
}

/**
 * One step on `batch`; updates `weights` (variables, see toTrainable) and `optimizer` in place and
 * returns the loss before the update, a scalar the caller disposes. `parts` plants modules as
 * forward() does.
 */
export function trainingStep(
  config: ModelConfig,
  weights: TransformerWeights,
  batch: TrainingBatch,
  optimizer: AdamWState,
  hyper: AdamWHyperparameters,
  parts: Partial<ModelParts> = {},
  options: ForwardOptions = {},
): tf.Scalar {
  assertAdamWHyperparameters(hyper);
  const parameters = parametersOf(weights);
  const lossOf = (): tf.Scalar =>
    withPhase('forward', () => {
      const logits = forward(config, weights, batch.ids, parts, options); // (B, T, V)
      return scope(LOSS_SCOPE, () => meanCrossEntropy(logits, batch.targets));
    });
  // The weights reach the loss through `weights` itself; tf.grads differentiates with respect to
  // these same tensor objects, so the function's own arguments are not needed. The outer tidy
  // frees the loss when the backward pass throws (tfjs would leave it alive).
  const variables = parameters.map((parameter) => parameter.variable);
  const { value, grads } = attributeBackward(
    () => withRerunConstants(() => withPhase('backward', () => tf.tidy(() => valueAndGradients(lossOf, variables)))),
    variables,
  );
  try {
    withPhase('optimizer', () => scope(OPTIMIZER_SCOPE, () => adamwUpdate(parameters, grads, optimizer, hyper)));
  } catch (error) {
    value.dispose();
    throw error;
  } finally {
    tf.dispose(grads);
  }
  return value;
}
