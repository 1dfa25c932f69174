/**
 * Rotary position embedding (RoPE) as in CS336: the pair (x[2i], x[2i+1]) of a head vector at
 * position t is rotated by the angle t / theta^(2i/dk):
 *
 *   out[2i]   = x[2i] cos - x[2i+1] sin
 *   out[2i+1] = x[2i] sin + x[2i+1] cos
 *
 * Elementwise products only (no matmul against a rotation matrix), so the trace's matmuls are
 * exactly the model's projections and attention core.
 */

import * as tf from '@tensorflow/tfjs-core';

import { hostConstant } from './host_constant.js';

const ROPE_THETA = 10000;

/**
 * The angle tables for every (position, channel), each (T, dk), broadcast over (B, H, T, dk):
 *   cos[t, 2i] = cos[t, 2i+1] = cos(angle)
 *   sin[t, 2i] = -sin(angle),  sin[t, 2i+1] = +sin(angle)
 * so that rope(x) = x * cos + swapPairs(x) * sin, with swapPairs exchanging x[2i] and x[2i+1].
 */
export interface RopeTables {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/**
 * The angle tables for positions start..start+seq-1 (a decode step's new tokens start at the
 * cached length, not at 0), computed in float64 on the host and uploaded as
 * constants: no kernels run, so nothing here shows up in a trace, and the angles are exact
 * before the cast to float32 (t * inverse frequency in float32 is off by ~1e-3 rad at t = 16k).
 * A backend that keeps no values gets the shapes alone (host_constant.ts): the tables are
 * T * dk floats each, 512 MB apiece at a million tokens of a 128-wide head.
 */
export function ropeTables(seq: number, headDim: number, theta: number = ROPE_THETA, start = 0): RopeTables {
  tf.util.assert(headDim % 2 === 0, () => `rope: head dimension ${headDim} must be even to rotate pairs`);
  let tables: { cos: Float32Array; sin: Float32Array } | undefined;
  const computed = (): { cos: Float32Array; sin: Float32Array } => (tables ??= angleTables(seq, headDim, theta, start));
  return {
    cos: hostConstant<tf.Rank.R2>([seq, headDim], 'float32', () => computed().cos), // (T, dk)
    sin: hostConstant<tf.Rank.R2>([seq, headDim], 'float32', () => computed().sin), // (T, dk)
  };
}

/** cos and sin tables (T, dk) for positions start..start+T-1, row-major, as RopeTables describes them. */
function angleTables(
  seq: number,
  headDim: number,
  theta: number,
  start: number,
): { cos: Float32Array; sin: Float32Array } {
  const pairs = headDim / 2;
  const cos = new Float32Array(seq * headDim);
  const sin = new Float32Array(seq * headDim);
  for (let pair = 0; pair < pairs; pair++) {
    const inverseFrequency = theta ** ((-2 * pair) / headDim);
    for (let row = 0; row < seq; row++) {
      const angle = (start + row) * inverseFrequency;
      const even = row * headDim + 2 * pair;
      cos[even] = cos[even + 1] = Math.cos(angle);
      sin[even] = -Math.sin(angle);
      sin[even + 1] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** swapPairs(x): x[2i+1], x[2i] for every pair of the last axis of x (B, H, T, dk). */
function swapPairs(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, T, dk] = x.shape;
  // Rank 4, not (B, H, T, dk/2, 2): WebGL's Reverse takes at most four dimensions.
  const pairs = tf.reshape<tf.Rank.R4>(x, [B * H, T, dk / 2, 2]); // (B*H, T, dk/2, 2)
  return tf.reshape<tf.Rank.R4>(tf.reverse(pairs, 3), [B, H, T, dk]); // (B, H, T, dk): x[2i+1], x[2i]
}

/**
 * RoPE on one head-split activation x (B, H, T, dk) with tables for exactly T positions.
 * Written as x * cos + swapPairs(x) * sin, where swapPairs reverses each pair: four kernels
 * (Reverse, two Multiply, Add) instead of splitting and re-concatenating the pairs, which the
 * wasm backend does slowly (SplitV and Concat took most of a small model's kernel time).
 *
 * A rotation is linear in x, so its gradient needs no activation, only the tables (as the
 * saved-activation formula says): with swapPairs its own transpose,
 *   dx = dy * cos + swapPairs(dy * sin).
 * It is one custom gradient that keeps the tables alone (clones that share the storage of the one
 * pair a pass makes); tfjs's own gradients would keep x, swapPairs(x) and both products in every
 * layer as well.
 */
export function applyRope(x: tf.Tensor4D, tables: RopeTables): tf.Tensor4D {
  const [, , T, dk] = x.shape;
  tf.util.assert(dk % 2 === 0, () => `rope: x has shape [${x.shape}] whose last axis (dk) is odd`);
  tf.util.assert(
    tables.cos.shape[0] === T && tables.cos.shape[1] === dk,
    () => `rope: x has shape [${x.shape}] but the tables have [${tables.cos.shape}] (want [${T},${dk}])`,
  );
  const rotate = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = inputs as [tf.Tensor4D, tf.GradSaveFunc];
    // The tables' clones share their storage: every layer's save holds the one pair.
    save([tables.cos, tables.sin]);
    return {
      value: tf.add(tf.mul(input, tables.cos), tf.mul(swapPairs(input), tables.sin)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [cos, sin] = saved as [tf.Tensor2D, tf.Tensor2D];
        return tf.add(tf.mul(dy, cos), swapPairs(tf.mul<tf.Tensor4D>(dy, sin)));
      },
    };
  });
  return rotate(x) as tf.Tensor4D;
}
