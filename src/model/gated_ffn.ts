/**
 * The gated FFNs: h = act(W1 x) * (W3 x), then W2 h. SwiGLU gates with SiLU (swiglu.ts), GeGLU with
 * GELU in its tanh form (Gemma's gelu_pytorch_tanh, the same function as GPT-2's gelu_new). W1 and
 * W3 may be one fused projection [d, 2F] (Phi-3's gate_up_proj), whose output is split into the
 * gate's half and the up half after one matmul.
 *
 * Called inside the `ffn` scope; runs w1, w3 (or gate_up_proj), the activation (silu or gelu),
 * gate (the product) and w2 in leaf scopes.
 */

import * as tf from '@tensorflow/tfjs-core';
import { scope } from '../core/scope.js';
import { gelu } from './gelu_mlp.js';
import { elementwiseKeeping } from './lean_gradients.js';
import { linear } from './linear.js';

/**
 * SiLU(z) = z * sigmoid(z) (tfjs has no SiLU op; two kernels, Sigmoid and Multiply). Its gradient
 * keeps z alone, as PyTorch's SiLU does, and computes sigmoid again: with s = sigmoid(z),
 * dz = dy s (1 + z (1 - s)). tfjs's Multiply gradient would keep sigmoid(z) as well.
 */
export function silu<T extends tf.Tensor>(z: T): T {
  return elementwiseKeeping(
    z,
    (input) => tf.mul(input, tf.sigmoid(input)),
    'input',
    (dy, input) => {
      const s = tf.sigmoid(input);
      return tf.mul(tf.mul(dy, s), tf.add(1, tf.mul(input, tf.sub(1, s))));
    },
  );
}

/** The gate's activation and the leaf its kernels run in. */
export type GateActivation = 'silu' | 'gelu';
const ACTIVATIONS: Readonly<Record<GateActivation, <T extends tf.Tensor>(z: T) => T>> = { silu, gelu };

/** act(W1 x) * (W3 x), then W2: the part every gated FFN shares once W1 x and W3 x (B, T, F) exist. */
export function gatedOutput(
  w1x: tf.Tensor3D,
  w3x: tf.Tensor3D,
  w2: tf.Tensor2D,
  activation: GateActivation,
  project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D = linear,
): tf.Tensor3D {
  const activated = scope(activation, () => ACTIVATIONS[activation](w1x)); // (B, T, F)
  const gated = scope('gate', () => tf.mul<tf.Tensor3D>(activated, w3x)); // (B, T, F)
  return scope('w2', () => project(gated, w2)); // (B, T, d)
}

/** Throws unless W1 and W3 are [d, F] and W2 is [F, d]. */
function assertGatedShapes(w1: tf.Tensor2D, w2: tf.Tensor2D, w3: tf.Tensor2D): void {
  tf.util.assert(
    tf.util.arraysEqual(w1.shape, w3.shape) && w2.shape[0] === w1.shape[1] && w2.shape[1] === w1.shape[0],
    () => `ffn: w1 [${w1.shape}], w3 [${w3.shape}] must be [d, F] and w2 [${w2.shape}] must be [F, d]`,
  );
}

/** GeGLU: x (B, T, d), W1 and W3 [d, F], W2 [F, d] -> W2( GELU(W1 x) * (W3 x) ), (B, T, d). */
export function geglu(
  x: tf.Tensor3D,
  w1: tf.Tensor2D,
  w2: tf.Tensor2D,
  w3: tf.Tensor2D,
  project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D = linear,
): tf.Tensor3D {
  assertGatedShapes(w1, w2, w3);
  const w1x = scope('w1', () => project(x, w1)); // (B, T, F)
  const w3x = scope('w3', () => project(x, w3)); // (B, T, F)
  return gatedOutput(w1x, w3x, w2, 'gelu', project);
}

/**
 * W1 x and W3 x from one fused projection x [W1 | W3]: one matmul (B, T, 2F), then a split
 * along the features (SplitV, data movement) into the gate's half and the up half.
 */
function gateUp(
  x: tf.Tensor3D,
  fused: tf.Tensor2D,
  project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D = linear,
): [tf.Tensor3D, tf.Tensor3D] {
  const [, twoF] = fused.shape;
  tf.util.assert(twoF % 2 === 0, () => `ffn: gate_up_proj [${fused.shape}] must be [d, 2F]`);
  const joined = project(x, fused); // (B, T, 2F)
  return tf.split<tf.Tensor3D>(joined, 2, -1) as [tf.Tensor3D, tf.Tensor3D]; // (B, T, F) each: gate, up
}

/** A gated FFN with W1 and W3 fused: x (B, T, d), [W1 | W3] [d, 2F], W2 [F, d] -> (B, T, d). */
export function fusedGatedFfn(
  x: tf.Tensor3D,
  fused: tf.Tensor2D,
  w2: tf.Tensor2D,
  activation: GateActivation,
  project: (x: tf.Tensor3D, weight: tf.Tensor2D) => tf.Tensor3D = linear,
): tf.Tensor3D {
  tf.util.assert(
    fused.shape[1] === 2 * w2.shape[0] && fused.shape[0] === w2.shape[1],
    () => `ffn: gate_up_proj [${fused.shape}] must be [d, 2F] for w2 [${w2.shape}] [F, d]`,
  );
  const [w1x, w3x] = scope('gate_up_proj', () => gateUp(x, fused, project)); // (B, T, F) each
  return gatedOutput(w1x, w3x, w2, activation, project);
}
