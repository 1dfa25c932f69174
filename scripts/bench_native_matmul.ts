/**
 * Bare matmuls on wasm (XNNPACK) against the native backend (ONNX Runtime's GEMM), interleaved:
 *
 *   node dist/scripts/bench_native_matmul.js [rounds]
 *
 * Each round times every shape on both backends in turn, the order alternating by round, and
 * the per-round ratio native / wasm rate is what to read: on a shared machine the load moves
 * between rounds, and the two timings of one round see nearly the same load. A shape's reps are
 * sized to about 2 GFLOP, so a 64x64x64 product measures the per-call overhead of each path.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/runtime/backend.js';
import { median } from '../src/timing/statistics.js';

interface Shape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeB: boolean;
}

const SHAPES: readonly Shape[] = [
  { m: 64, k: 64, n: 64, transposeB: false },
  { m: 128, k: 768, n: 768, transposeB: false },
  { m: 128, k: 768, n: 768, transposeB: true },
  { m: 512, k: 1024, n: 4096, transposeB: false },
  { m: 512, k: 1024, n: 50257, transposeB: false },
];

/** Seconds per product of `shape` on the active backend, the result read back each time. */
function secondsPerProduct(a: tf.Tensor, b: tf.Tensor, shape: Shape): number {
  const flops = 2 * shape.m * shape.k * shape.n;
  const reps = Math.max(1, Math.min(200, Math.round(2e9 / flops)));
  const once = () => {
    const product = tf.matMul(a, b, false, shape.transposeB);
    product.dataSync();
    product.dispose();
  };
  once();
  const start = performance.now();
  for (let rep = 0; rep < reps; rep++) once();
  return (performance.now() - start) / 1000 / reps;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const ratios = new Map<Shape, { wasm: number[]; native: number[]; ratio: number[] }>();
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
  for (let round = 0; round < rounds; round++) {
    for (const shape of SHAPES) {
      const rates: Record<string, number> = {};
      const order = round % 2 === 0 ? (['wasm', 'native'] as const) : (['native', 'wasm'] as const);
      for (const backend of order) {
        await useBackend(backend);
        const a = tf.randomNormal([shape.m, shape.k]);
        const b = tf.randomNormal(shape.transposeB ? [shape.n, shape.k] : [shape.k, shape.n]);
        rates[backend] = (2 * shape.m * shape.k * shape.n) / secondsPerProduct(a, b, shape) / 1e9;
        tf.dispose([a, b]);
      }
      const entry = ratios.get(shape) ?? { wasm: [], native: [], ratio: [] };
      entry.wasm.push(rates['wasm']!);
      entry.native.push(rates['native']!);
      entry.ratio.push(rates['native']! / rates['wasm']!);
      ratios.set(shape, entry);
    }
  }
  for (const [shape, entry] of ratios) {
    const name = `${shape.m}x${shape.k}x${shape.n}${shape.transposeB ? ' (b transposed)' : ''}`;
    console.log(
      `${name.padEnd(30)} wasm ${median(entry.wasm).toFixed(1).padStart(6)} GFLOP/s, native ` +
        `${median(entry.native).toFixed(1).padStart(6)} GFLOP/s, native/wasm ${median(entry.ratio).toFixed(2)}x`,
    );
  }
  console.log(
    `load average at end: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
}

await main();
