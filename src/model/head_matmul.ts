/**
 * The attention core's two matmuls, q @ k^T and P @ v, over (B, heads) batches of matrices,
 * dispatched the way the backend runs fastest.
 *
 * Measured interleaved (scripts/bench_attention_forms.ts; batch 1, dh 64, H = d / 64 heads,
 * d 256-1024, T 128-512), on tfjs's single-thread wasm build one BatchMatMul over the heads ran
 * at 1-2 GFLOP/s whether k was transposed by the kernel or beforehand; the same work as one 2-D
 * matmul per head, with k transposed once for all heads first, took 0.29-0.75 of its time at
 * every shape (the 2-D products without a transposed operand reach XNNPACK's fast path). Cutting
 * the operands into heads is cheap only because wasm's Unpack reads its input in place
 * (src/runtime/wasm_heap_views.ts); with tfjs's own, which copies the whole input once per head,
 * the unstack of P took longer than the products after it. In whole forward passes
 * (scripts/bench_attention_core.ts, d 256-1024, T 128-512) the per-head core now takes 0.51-0.99
 * of the batched pass's time on one thread, over three runs. On the cpu backend the per-head form was no faster (0.98-1.9 of the batched time), and the shape-only
 * meta backend pays per kernel, not per FLOP: there, and on any other backend, one batched kernel.
 *
 * Only outside a gradient tape. Under one (a training step), the batched kernel stays: tfjs would
 * keep each head's slices for the gradient (copies on wasm and cpu, beside the tensors the step's
 * memory formulas count), and k's gradient through the pre-transposed form comes out as dK^T
 * ([dk, G*T] x [G*T, T]), not the dS^T q ([T, G*T] x [G*T, dk]) the backward inventory writes.
 *
 * The verifier matches a row computed per head by the sum of its kernels' FLOPs and the multiset
 * of their shapes (src/verify/matmul_check.ts): B * heads kernels of the row's (rows, k, n) / (B * heads).
 */
import * as tf from '@tensorflow/tfjs-core';

/** How the core is dispatched: by the rule above, or batched everywhere (to time the two side by side). */
export type AttentionCoreDispatch = 'measured' | 'batched';

let dispatch: AttentionCoreDispatch = 'measured';

/** Sets how the core is dispatched from now on; scripts/bench_attention_core.ts times both. */
export function setAttentionCoreDispatch(mode: AttentionCoreDispatch): void {
  dispatch = mode;
}

/** Whether the running backend gets per-head 2-D matmuls (see above): wasm, outside a gradient tape. */
export function perHeadDispatch(): boolean {
  return dispatch === 'measured' && tf.getBackend() === 'wasm' && tf.engine().state.gradientDepth === 0;
}

/**
 * One 2-D product per (b, head) of a (B, heads, M, K) and b (B, heads, K, N), stacked: (B, heads, M, N).
 * Each head's operands are sliced out just before its product and released just after it, so the
 * next head's slices land in the storage the last ones left, still in cache.
 */
function perHead(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  const [B, heads, M, K] = a.shape;
  const N = b.shape[3];
  return tf.tidy(() => {
    // Heads stacked along the rows, so each head's operand is a block of whole rows: a Slice
    // gives it as a matrix, with no reshape kernel per head.
    const as = tf.reshape<tf.Rank.R2>(a, [B * heads * M, K]); // (B*heads*M, K), head-major
    const bs = tf.reshape<tf.Rank.R2>(b, [B * heads * K, N]); // (B*heads*K, N)
    const products: tf.Tensor2D[] = [];
    for (let head = 0; head < B * heads; head++) {
      const ah = tf.slice(as, [head * M, 0], [M, K]); // (M, K)
      const bh = tf.slice(bs, [head * K, 0], [K, N]); // (K, N)
      products.push(tf.matMul(ah, bh)); // (M, N)
      tf.dispose([ah, bh]);
    }
    return tf.reshape<tf.Rank.R4>(tf.stack(products), [B, heads, M, N]); // (B, heads, M, N)
  });
}

/** q (B, heads, M, dk) @ k (B, heads, C, dk)^T: (B, heads, M, C). */
export function headScores(q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
  if (!perHeadDispatch()) return tf.matMul<tf.Tensor4D>(q, k, false, true); // (B, heads, M, C)
  return tf.tidy(() => perHead(q, tf.transpose(k, [0, 1, 3, 2]))); // k^T (B, heads, dk, C), once for all heads
}

/** P (B, heads, M, C) @ v (B, heads, C, dv): (B, heads, M, dv). */
export function headWeightedSum(probabilities: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  if (!perHeadDispatch()) return tf.matMul<tf.Tensor4D>(probabilities, v); // (B, heads, M, dv)
  return perHead(probabilities, v);
}
