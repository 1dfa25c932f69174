/**
 * Which formulation of the attention core's two matmuls runs fastest on a backend, at the
 * benchmark's shapes (batch 1, dh 64, H = d / 64 heads, causal square T x T):
 *
 *   batched      q @ k^T and P @ v as one BatchMatMul each over (B, H), k transposed by the kernel
 *   batched-kT   the same with k transposed first (a Transpose, then a plain BatchMatMul)
 *   per-head     q, k, P and v unstacked into H 2-D slices, one 2-D matmul per head (k^T by the
 *                kernel), the H results stacked
 *   per-head-kT  per-head, with k transposed once, batched, before the unstack
 *
 *   node dist/scripts/bench_attention_forms.js [wasm|cpu] [rounds]
 *
 * Each round times every formulation once per shape, in an order that rotates from round to
 * round, so the load a shared machine puts on one formulation falls on the others too; the
 * median of the per-round ratios to `batched` says which is faster. FLOPLEDGER_WASM_THREADS=1
 * (the default) gives the single-thread build.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/runtime/backend.js';
import { median } from '../src/timing/statistics.js';

type Form = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, p: tf.Tensor3D) => tf.Tensor[];

/** q, k, v (H, T, dh) and P (H, T, T): the scores and the weighted sums, each formulation's way. */
const FORMS: Record<string, Form> = {
  batched: (q, k, v, p) => [tf.matMul(q, k, false, true), tf.matMul(p, v)],
  'batched-kT': (q, k, v, p) => [tf.matMul(q, tf.transpose(k, [0, 2, 1])), tf.matMul(p, v)],
  'per-head': (q, k, v, p) => {
    const [qs, ks, vs, ps] = [tf.unstack(q), tf.unstack(k), tf.unstack(v), tf.unstack(p)];
    const scores = qs.map((qh, h) => tf.matMul(qh as tf.Tensor2D, ks[h] as tf.Tensor2D, false, true));
    const sums = ps.map((ph, h) => tf.matMul(ph as tf.Tensor2D, vs[h] as tf.Tensor2D));
    return [tf.stack(scores), tf.stack(sums)];
  },
  'per-head-kT': (q, k, v, p) => {
    const [qs, ks, vs, ps] = [tf.unstack(q), tf.unstack(tf.transpose(k, [0, 2, 1])), tf.unstack(v), tf.unstack(p)];
    const scores = qs.map((qh, h) => tf.matMul(qh as tf.Tensor2D, ks[h] as tf.Tensor2D));
    const sums = ps.map((ph, h) => tf.matMul(ph as tf.Tensor2D, vs[h] as tf.Tensor2D));
    return [tf.stack(scores), tf.stack(sums)];
  },
};

const SHAPES = [
  { d: 256, T: 128 },
  { d: 256, T: 256 },
  { d: 512, T: 256 },
  { d: 512, T: 512 },
  { d: 768, T: 128 },
  { d: 1024, T: 512 },
];
const HEAD_DIM = 64;

function timeOnce(form: Form, operands: [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]): number {
  const start = performance.now();
  const outputs = tf.tidy(() => form(...operands));
  for (const output of outputs) output.dataSync();
  const elapsed = performance.now() - start;
  tf.dispose(outputs);
  return elapsed;
}

async function main(): Promise<void> {
  const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
  const rounds = Number(process.argv[3] ?? 7);
  const active = await useBackend(backend);
  const names = Object.keys(FORMS);
  console.log(
    `${active.description}; ${rounds} rounds; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  for (const { d, T } of SHAPES) {
    const H = d / HEAD_DIM;
    const operands = [
      tf.randomNormal<tf.Rank.R3>([H, T, HEAD_DIM]),
      tf.randomNormal<tf.Rank.R3>([H, T, HEAD_DIM]),
      tf.randomNormal<tf.Rank.R3>([H, T, HEAD_DIM]),
      tf.randomUniform<tf.Rank.R3>([H, T, T]),
    ] as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    // Two matmuls of 2 * T * T * dh FLOPs per head.
    const flops = 2 * 2 * H * T * T * HEAD_DIM;
    for (const name of names) timeOnce(FORMS[name]!, operands); // warm-up
    const times = new Map<string, number[]>(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round += 1) {
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const name of order) times.get(name)!.push(timeOnce(FORMS[name]!, operands));
    }
    const base = times.get('batched')!;
    const cells = names.map((name) => {
      const samples = times.get(name)!;
      const ms = median(samples);
      const ratio = median(samples.map((t, i) => t / base[i]!));
      return `${name} ${ms.toFixed(2)} ms ${(flops / ms / 1e6).toFixed(1)} GFLOP/s (x${ratio.toFixed(2)})`;
    });
    console.log(`d ${d} (H ${H}), T ${T}: ${cells.join(' | ')}`);
    tf.dispose(operands);
  }
}

await main();
