/**
 * What the attention mask costs on a backend, built two ways from the same position ranges:
 *
 *   int32-compare   int32 ranges (1, C) and (R, 1) compared by Greater (and Less against each
 *                   query's earliest key), broadcast inside the comparison
 *   offset-float32  float32 ranges, their offset by a broadcast Sub, then Greater (Less) than a
 *                   scalar 0: how src/model/causal_softmax.ts (bandMask) builds it
 *
 * Both end in the same Select of -Infinity or 0 and give the same mask (checked each round).
 *
 *   node dist/scripts/bench_mask.js [wasm|cpu] [rounds]
 *
 * Each round times both forms once per size, in an order that alternates from round to round,
 * so a shared machine's load falls on both; the median of the per-round ratios says which is
 * faster. FLOPLEDGER_WASM_THREADS=1 gives the single-thread build.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { bandMask } from '../src/model/causal_softmax.js';
import { useBackend } from '../src/runtime/backend.js';
import { median } from '../src/timing/statistics.js';

type MaskForm = (size: number, window: number | undefined) => tf.Tensor2D;

/** The mask as the model built it before: comparisons of int32 positions, broadcast. */
function int32Compare(size: number, window: number | undefined): tf.Tensor2D {
  return tf.tidy(() => {
    const query = tf.reshape(tf.range(0, size, 1, 'int32'), [size, 1]); // (T, 1)
    const key = tf.reshape(tf.range(0, size, 1, 'int32'), [1, size]); // (1, T)
    let removed = tf.greater(key, query); // (T, T)
    if (window !== undefined) {
      const earliest = tf.reshape(tf.range(1 - window, size + 1 - window, 1, 'int32'), [size, 1]); // (T, 1)
      removed = tf.logicalOr(removed, tf.less(key, earliest)); // (T, T)
    }
    return tf.where(removed, tf.fill([size, size], -Infinity), tf.fill([size, size], 0));
  });
}

const FORMS: Record<string, MaskForm> = {
  'int32-compare': int32Compare,
  'offset-float32': (size, window) => tf.tidy(() => bandMask(0, size, 0, size, window)),
};

const SIZES = [128, 256, 512, 1024];

function timeOnce(form: MaskForm, size: number, window: number | undefined): number {
  const start = performance.now();
  const mask = form(size, window);
  mask.dataSync();
  const elapsed = performance.now() - start;
  mask.dispose();
  return elapsed;
}

function sameMask(size: number, window: number | undefined): boolean {
  const [a, b] = [int32Compare(size, window), FORMS['offset-float32']!(size, window)];
  const same = tf.tidy(() => tf.all(tf.equal(a, b)).dataSync()[0] === 1);
  tf.dispose([a, b]);
  return same;
}

async function main(): Promise<void> {
  const backend = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
  const rounds = Number(process.argv[3] ?? 7);
  const active = await useBackend(backend);
  const names = Object.keys(FORMS);
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`${active.description}; ${rounds} rounds; load average ${load()}`);
  console.log('| T | window | int32-compare ms | offset-float32 ms | offset / compare (median of rounds) |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    for (const window of [undefined, Math.max(1, size / 4)]) {
      if (!sameMask(size, window)) throw new Error(`the two masks differ at T ${size}, window ${window}`);
      for (const name of names) timeOnce(FORMS[name]!, size, window); // warm-up
      const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? names : [...names].reverse();
        for (const name of order) times[name]!.push(timeOnce(FORMS[name]!, size, window));
      }
      const ratios = times['offset-float32']!.map((time, round) => time / times['int32-compare']![round]!);
      console.log(
        `| ${size} | ${window ?? '-'} | ${median(times['int32-compare']!).toFixed(2)} | ` +
          `${median(times['offset-float32']!).toFixed(2)} | ${median(ratios).toFixed(3)} |`,
      );
    }
  }
  console.log(`load average at the end ${load()}`);
}

await main();
