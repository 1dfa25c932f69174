/**
 * Activation checkpointing. Full, one block at a time: the forward pass keeps only the block's
 * input (the residual stream entering it) and frees everything the block made; the block's
 * backward pass first runs its forward again from that input, in the 'recompute' phase, and
 * takes the gradients of that rerun. Memory: L inputs of [B, T, d] stay from the forward pass to
 * their block's backward, and one block's saved tensors are alive at a time; work: one more
 * forward pass of every block (src/analytic/training/checkpointing.ts states both).
 *
 * Selective (Korthikanti et al. 2022, section 4.3), one attention core at a time: the core's
 * forward keeps only q, k and v (its mask is built from position ranges inside it, so the mask
 * needs nothing kept), and its backward reruns the scores, the mask, the softmax and the weighted
 * sum from them. Memory: no [B, H, T, T] tensor outlives its layer's forward; work: the core's
 * matmuls and non-matmul kernels once more per layer.
 *
 * In tfjs terms the block is one tf.customGrad over (x, the block's weights), the core one over
 * (q, k, v): inside its forward the tape is off, so no kernel in it saves anything, and the
 * forward's own tidy frees every intermediate. Its gradient runs a nested engine.gradients over the rerun. tfjs keeps one
 * tape per engine and a nested gradients call inside a backward pass would start a new one over
 * the outer tape (whose saved tensors the outer pass still has to free at its end), so the outer
 * tape is put back after the rerun.
 */
import * as tf from '@tensorflow/tfjs-core';

import { withPhase } from '../core/phase.js';

/** The engine members a nested gradients call needs: its tape and gradients itself (engine.ts). */
interface TapeEngine {
  state: { activeTape: unknown };
  gradients: (
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ) => { value: tf.Tensor; grads: (tf.Tensor | null)[] };
}

/** Constants the blocks read besides their input (the RoPE tables), held for the reruns; undefined outside a step. */
let heldForReruns: tf.Tensor[] | undefined;

/**
 * Run `fn` (a training step's forward and backward passes) so that the constants marked with
 * keepForReruns outlive the forward pass's tidy, and free them when `fn` returns or throws.
 */
export function withRerunConstants<T>(fn: () => T): T {
  if (heldForReruns !== undefined) throw new Error('withRerunConstants: a training step cannot run inside another');
  const held: tf.Tensor[] = [];
  heldForReruns = held;
  try {
    return fn();
  } finally {
    heldForReruns = undefined;
    tf.dispose(held);
  }
}

/**
 * Keep `tensor`, a constant every checkpointed block reads (made once per pass, outside the
 * blocks), until the step's backward pass is over: the reruns need it after the forward pass has
 * freed everything else. Outside withRerunConstants nothing will rerun, and it is left to its tidy.
 */
export function keepForReruns<T extends tf.Tensor>(tensor: T): T {
  if (heldForReruns !== undefined) heldForReruns.push(tf.keep(tensor));
  return tensor;
}

/** The tensors held by a layer's weights object, in field order (the customGrad's inputs after x). */
export function tensorsOf(holder: object): tf.Tensor[] {
  return Object.values(holder).filter((value): value is tf.Tensor => value instanceof tf.Tensor);
}

/**
 * `runBlock(x)` with full checkpointing. `weights` are every tensor `runBlock` reads besides x
 * (the block's weights); `runBlock` must be deterministic (the model has no dropout), so the
 * rerun computes the same tensors the forward pass did.
 */
export function checkpointed(
  runBlock: (x: tf.Tensor3D) => tf.Tensor3D,
  x: tf.Tensor3D,
  weights: readonly tf.Tensor[],
): tf.Tensor3D {
  // The only tensor a checkpointed block keeps: a clone of its input.
  return rerunInBackward(([input]) => runBlock(input as tf.Tensor3D), [x], weights);
}

/**
 * `run(kept)` such that its forward pass keeps only `kept` (clones of them: shared storage on cpu;
 * on wasm copies, while the forward pass's tidy frees the originals) and frees everything else it
 * made, and its backward pass first runs it again from those clones, in the 'recompute' phase, and
 * takes the gradients of that rerun with respect to `kept` and `closedOver` (tensors `run` reads
 * besides `kept`, such as weights). `run` must be deterministic (the model has no dropout), so the
 * rerun computes the same tensors the forward pass did. A full checkpoint is a block run this way
 * from its input; selective checkpointing, the attention core from q, k and v.
 */
export function rerunInBackward<R extends tf.Tensor>(
  run: (kept: readonly tf.Tensor[]) => R,
  kept: readonly tf.Tensor[],
  closedOver: readonly tf.Tensor[] = [],
): R {
  const count = kept.length;
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient.
  const rerunnable = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = inputs[inputs.length - 1] as tf.GradSaveFunc;
    const value = run(inputs.slice(0, count) as tf.Tensor[]);
    save(inputs.slice(0, count) as tf.Tensor[]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const engine = tf.engine() as unknown as TapeEngine;
      const outerTape = engine.state.activeTape;
      let rerun: { value: tf.Tensor; grads: (tf.Tensor | null)[] };
      try {
        rerun = engine.gradients(() => withPhase('recompute', () => run(saved)), [...saved, ...closedOver], dy, true);
      } finally {
        engine.state.activeTape = outerTape;
      }
      rerun.value.dispose();
      // The kept tensors are read by no other gradient: free them now, not when the pass ends.
      tf.dispose(saved);
      const all = [...kept, ...closedOver];
      return rerun.grads.map((grad, i) => grad ?? tf.zerosLike(all[i]!));
    };
    return { value, gradFunc };
  });
  return rerunnable(...kept, ...closedOver);
}
