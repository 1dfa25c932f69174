/**
 * Single-thread against threaded WebAssembly, to choose the default build. A process gets one
 * wasm module, and the threaded one cannot be swapped out once started, so each build runs in a
 * process of its own:
 *
 *   node dist/scripts/bench_wasm_threads.js single
 *   node dist/scripts/bench_wasm_threads.js threaded [threads]
 *
 * prints one JSON object: the thread count the backend reports, bare matmul rates at a few
 * shapes, `time tiny`'s passes (overhead-bound: the default `time` a user runs first) and the
 * median forward time of one matmul-bound config.
 *
 *   node dist/scripts/bench_wasm_threads.js interleaved [rounds]
 *
 * runs the two builds in turn, round after round (single first in even rounds, threaded first
 * in odd ones), and compares them round by round: on a machine shared with other work the load
 * changes from minute to minute, and the two processes of one round see nearly the same load, so
 * the median of the per-round ratios (threaded / single) says which build is faster where the
 * medians of each build alone would mostly say when each ran.
 *
 * Why the threaded build needs workarounds to start in Node, and what they are: src/runtime/wasm_threads.ts.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { startThreadedWasm } from '../src/runtime/wasm_threads.js';
import type { ActiveBackend } from '../src/runtime/backend.js';
import { loadModelConfig } from '../src/config/index.js';
import { calibrateMatmul, type MatmulDispatch } from '../src/timing/calibrate.js';
import { median } from '../src/timing/statistics.js';
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
  /** `time tiny` at its context (1 x 64 tokens): the passes of about 1.5 s of timing. */
  readonly tiny: { median_ms: number; min_ms: number; max_ms: number; runs: number };
  readonly forward: { label: string; median_ms: number; runs: number; gflops: number };
}

async function measure(mode: 'single' | 'threaded', requestedThreads: number): Promise<ThreadBenchResult> {
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
  const tinyConfig = loadModelConfig('tiny');
  const tiny = await timeForward(tinyConfig, { batch: 1, seq: tinyConfig.context_length }, backend, {
    targetMs: 1500,
  });
  const matmul = [];
  for (const { name, dispatch } of THREAD_BENCH_SHAPES) {
    const calibration = await calibrateMatmul(dispatch, { synchronous: true, minTimeMs: 500 });
    matmul.push({ name, label: calibration.label, gflops: calibration.gflops, median_ms: calibration.summary.median });
  }
  const { model, overrides, run, label } = BENCH_THREAD_CONFIG;
  const timing = await timeForward(loadModelConfig(model, overrides), run, backend, { targetMs: 2000 });
  return {
    mode,
    requestedThreads,
    threads,
    matmul,
    tiny: {
      median_ms: tiny.summary.median,
      min_ms: tiny.summary.min,
      max_ms: tiny.summary.max,
      runs: tiny.summary.count,
    },
    forward: { label, median_ms: timing.summary.median, runs: timing.summary.count, gflops: timing.achievedGflops },
  };
}

/** One build's result, measured in a fresh process of its own. */
function measureInChild(mode: 'single' | 'threaded', threads: number): ThreadBenchResult {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [script, mode, String(threads)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0) throw new Error(`the ${mode} build exited ${child.status ?? child.signal}: ${child.stderr}`);
  return JSON.parse(last) as ThreadBenchResult;
}

/** threaded / single of one measure, per round, and their median: below 1, the threaded build is faster. */
export interface BuildRatio {
  readonly measure: string;
  readonly perRound: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface InterleavedThreadBench {
  readonly rounds: number;
  readonly threads: number;
  /** os.loadavg() before and after: how busy the machine was while the builds ran. */
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly single: readonly ThreadBenchResult[];
  readonly threaded: readonly ThreadBenchResult[];
  readonly ratios: readonly BuildRatio[];
  /** Median over rounds of each build's own max/min of `time tiny`'s passes. */
  readonly tinySpread: { readonly single: number; readonly threaded: number };
}

/** Both builds, `rounds` times each, interleaved; the ratios are taken within each round. */
export function interleavedThreadBench(rounds: number, threads = os.availableParallelism()): InterleavedThreadBench {
  const loadBefore = os.loadavg();
  const single: ThreadBenchResult[] = [];
  const threaded: ThreadBenchResult[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternate which build goes first, so a trend in the load does not favour one of them.
    if (round % 2 === 0) {
      single.push(measureInChild('single', 1));
      threaded.push(measureInChild('threaded', threads));
    } else {
      threaded.push(measureInChild('threaded', threads));
      single.push(measureInChild('single', 1));
    }
    process.stderr.write(`bench: wasm builds, round ${round + 1} of ${rounds}\n`);
  }
  const ratio = (name: string, of: (result: ThreadBenchResult) => number): BuildRatio => {
    const perRound = single.map((s, i) => of(threaded[i]!) / of(s));
    return {
      measure: name,
      perRound,
      median: median(perRound),
      min: Math.min(...perRound),
      max: Math.max(...perRound),
    };
  };
  const tinyRange = (r: ThreadBenchResult) => r.tiny.max_ms / r.tiny.min_ms;
  return {
    rounds,
    threads,
    loadBefore,
    loadAfter: os.loadavg(),
    single,
    threaded,
    ratios: [
      ratio('time tiny, median ms', (r) => r.tiny.median_ms),
      ratio(`forward ${BENCH_THREAD_CONFIG.label}, median ms`, (r) => r.forward.median_ms),
      ...THREAD_BENCH_SHAPES.map(({ name }, index) =>
        ratio(`${name} matmul, median ms`, (r) => (r.matmul[index] as { median_ms: number }).median_ms),
      ),
    ],
    tinySpread: { single: median(single.map(tinyRange)), threaded: median(threaded.map(tinyRange)) },
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === 'interleaved') {
    const result = interleavedThreadBench(Number(process.argv[3] ?? 6));
    const text = [
      `wasm builds, ${result.rounds} interleaved rounds, ${result.threads} threads requested; ` +
        `load average ${result.loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ` +
        `${result.loadAfter.map((x) => x.toFixed(1)).join(' ')} after`,
      ...result.ratios.map(
        (r) =>
          `  threaded / single, ${r.measure}: median ${r.median.toFixed(2)} (rounds ${r.perRound.map((x) => x.toFixed(2)).join(', ')})`,
      ),
      `  time tiny, max/min of the passes (median over rounds): single ${result.tinySpread.single.toFixed(2)}, ` +
        `threaded ${result.tinySpread.threaded.toFixed(2)}`,
    ];
    process.stderr.write(text.join('\n') + '\n');
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const threaded = mode === 'threaded';
  const requested = threaded ? Number(process.argv[3] ?? os.availableParallelism()) : 1;
  process.stdout.write(JSON.stringify(await measure(threaded ? 'threaded' : 'single', requested)) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
