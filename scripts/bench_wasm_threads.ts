/**
 * Single-thread against threaded WebAssembly, each in a process of its own (a process gets one
 * wasm module, and the threaded one cannot be swapped out once started).
 *
 *   node dist/scripts/bench_wasm_threads.js single
 *   node dist/scripts/bench_wasm_threads.js threaded [threads]
 *
 * prints one JSON object: the thread count the backend reports, bare matmul rates at a few
 * shapes, and the median forward time of one config.
 *
 * Why the threaded build needs workarounds to start in Node, and what they are: src/runtime/wasm_threads.ts.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { startThreadedWasm } from '../src/runtime/wasm_threads.js';
import type { ActiveBackend } from '../src/runtime/backend.js';
import { loadModelConfig } from '../src/config/index.js';
import { calibrateMatmul, type MatmulDispatch } from '../src/timing/calibrate.js';
import { timeForward } from '../src/timing/time_forward.js';
import { BENCH_THREAD_CONFIG } from './bench_configs.js';

/** Shapes timed in both builds: the fast path, a transposed operand, and the attention core's batched form. */
export const THREAD_BENCH_SHAPES: readonly { name: string; dispatch: MatmulDispatch }[] = [
  { name: 'fast path 512', dispatch: { aShape: [512, 512], bShape: [512, 512], transposeA: false, transposeB: false } },
  {
    name: 'fast path 1024',
    dispatch: { aShape: [1024, 1024], bShape: [1024, 1024], transposeA: false, transposeB: false },
  },
  {
    name: 'transposed b 512',
    dispatch: { aShape: [512, 512], bShape: [512, 512], transposeA: false, transposeB: true },
  },
  {
    name: 'attention scores',
    dispatch: { aShape: [8, 256, 64], bShape: [8, 256, 64], transposeA: false, transposeB: true },
  },
];

export interface ThreadBenchResult {
  readonly mode: 'single' | 'threaded';
  readonly requestedThreads: number;
  readonly threads: number;
  readonly matmul: { name: string; label: string; gflops: number; median_ms: number }[];
  readonly forward: { label: string; median_ms: number; runs: number; gflops: number };
}

async function main(): Promise<void> {
  const mode = process.argv[2] === 'threaded' ? 'threaded' : 'single';
  const requestedThreads = mode === 'threaded' ? Number(process.argv[3] ?? os.cpus().length) : 1;
  let threads = 1;
  if (mode === 'threaded') {
    threads = await startThreadedWasm(requestedThreads);
  } else {
    tf.enableProdMode();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  }
  const backend: ActiveBackend = {
    name: 'wasm',
    description: `WebAssembly (SIMD, ${threads} ${threads === 1 ? 'thread' : 'threads'})`,
    synchronousKernelTimes: true,
  };
  const matmul = [];
  for (const { name, dispatch } of THREAD_BENCH_SHAPES) {
    const calibration = await calibrateMatmul(dispatch, { synchronous: true, minTimeMs: 800 });
    matmul.push({ name, label: calibration.label, gflops: calibration.gflops, median_ms: calibration.summary.median });
  }
  const { model, overrides, run, label } = BENCH_THREAD_CONFIG;
  const config = loadModelConfig(model, overrides);
  const timing = await timeForward(config, run, backend, { targetMs: 3000 });
  const result: ThreadBenchResult = {
    mode,
    requestedThreads,
    threads,
    matmul,
    forward: { label, median_ms: timing.summary.median, runs: timing.summary.count, gflops: timing.achievedGflops },
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
