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

import * as tf from '@tensorflow/tfjs';

export const ROPE_THETA = 10000;

/** cos and sin of every (position, pair) angle, each (T, dk/2, 1) to broadcast over (B, H, T, dk/2, 1). */
export interface RopeTables {
  cos: tf.Tensor3D;
  sin: tf.Tensor3D;
}

/**
 * The angle tables for positions 0..seq-1, computed in float64 on the host and uploaded as
 * constants: no kernels run, so nothing here shows up in a trace, and the angles are exact
 * before the cast to float32 (t * inverse frequency in float32 is off by ~1e-3 rad at t = 16k).
 */
export function ropeTables(seq: number, headDim: number, theta: number = ROPE_THETA): RopeTables {
  tf.util.assert(headDim % 2 === 0, () => `rope: head dimension ${headDim} must be even to rotate pairs`);
  const pairs = headDim / 2;
  const cos = new Float32Array(seq * pairs);
  const sin = new Float32Array(seq * pairs);
  for (let pair = 0; pair < pairs; pair++) {
    const inverseFrequency = theta ** ((-2 * pair) / headDim);
    for (let position = 0; position < seq; position++) {
      const angle = position * inverseFrequency;
      cos[position * pairs + pair] = Math.cos(angle);
      sin[position * pairs + pair] = Math.sin(angle);
    }
  }
  return {
    cos: tf.tensor3d(cos, [seq, pairs, 1]), // (T, dk/2, 1)
    sin: tf.tensor3d(sin, [seq, pairs, 1]), // (T, dk/2, 1)
  };
}

/** RoPE on one head-split activation x (B, H, T, dk) with tables for exactly T positions. */
export function applyRope(x: tf.Tensor4D, tables: RopeTables): tf.Tensor4D {
  const [B, H, T, dk] = x.shape;
  tf.util.assert(dk % 2 === 0, () => `rope: x has shape [${x.shape}] whose last axis (dk) is odd`);
  tf.util.assert(
    tables.cos.shape[0] === T && tables.cos.shape[1] === dk / 2,
    () => `rope: x has shape [${x.shape}] but the tables have [${tables.cos.shape}] (want [${T},${dk / 2},1])`,
  );
  const pairs = tf.reshape<tf.Rank.R5>(x, [B, H, T, dk / 2, 2]); // (B, H, T, dk/2, 2)
  const [even, odd] = tf.split(pairs, 2, 4) as [tf.Tensor5D, tf.Tensor5D]; // each (B, H, T, dk/2, 1)
  const rotatedEven = tf.sub(tf.mul(even, tables.cos), tf.mul(odd, tables.sin));
  const rotatedOdd = tf.add(tf.mul(even, tables.sin), tf.mul(odd, tables.cos));
  const rotatedPairs = tf.concat([rotatedEven, rotatedOdd], 4); // (B, H, T, dk/2, 2)
  return tf.reshape<tf.Rank.R4>(rotatedPairs, [B, H, T, dk]); // (B, H, T, dk)
}
