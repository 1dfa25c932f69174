/**
 * A real check's wall time, `flopledger verify gpt2-small --seq 32 --backend wasm` (issue 17's
 * bar: at most 2 s, peak RSS at most 1.2x the fp32 weights plus activations), on the default
 * threaded wasm build (kernels and the seeded fill on both cores) against the single-thread
 * build (FLOPLEDGER_WASM_THREADS=1: both on one), each run in a fresh process, interleaved with
 * the order swapping every round, medians and the median of the per-round ratios.
 *
 * `npm run bench` calls benchCheck; `node dist/scripts/bench_check.js [rounds]` runs it alone.
 * Writes docs/bench_check.md and docs/bench_check.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { loadModelConfig } from '../src/config/index.js';
import { packageRoot } from '../src/core/package_root.js';
import { renderReport } from '../src/render/render.js';
import { heading, paragraph, tableBlock } from '../src/render/table.js';
import { estimateRunMemory } from '../src/runtime/memory_guard.js';
import { summarize, type SampleSummary } from '../src/timing/statistics.js';
import { measureOnce, type Measurement } from './measure_meta.js';

const ARGS = ['verify', 'gpt2-small', '--seq', '32', '--backend', 'wasm', '--quiet'] as const;
const TARGET_SECONDS = 2;
const RSS_LIMIT = 1.2;

/**
 * A child process that grows a shared wasm memory by `bytes` and writes one word in each of its
 * 4 KiB pages, on the main thread alone or split with one worker thread, and prints the
 * milliseconds from the first write to the last (on one thread, then those of writing the same
 * words again). Any fill of the weights touches every page once before it draws a value; on a
 * virtual machine whose host backs guest memory on first touch, that alone is a floor under the
 * check, whatever the sampler does.
 */
const FIRST_TOUCH_SOURCE = `
const { Worker } = require('node:worker_threads');
const [bytes, threads] = [Number(process.argv[1]), Number(process.argv[2])];
const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
memory.grow(Math.ceil(bytes / 65536));
const words = new Int32Array(memory.buffer);
const touch = (from, to) => { for (let i = from; i < to; i += 1024) words[i] = 1; };
const half = Math.floor(words.length / 2048) * 1024;
if (threads === 1) {
  const start = performance.now();
  touch(0, words.length);
  const touched = performance.now();
  touch(0, words.length);
  console.log(touched - start, performance.now() - touched);
} else {
  const worker = new Worker(
    'const { workerData, parentPort } = require("node:worker_threads");' +
      'const words = new Int32Array(workerData.buffer);' +
      'parentPort.once("message", () => { for (let i = workerData.from; i < words.length; i += 1024) words[i] = 1; parentPort.postMessage(0); });',
    { eval: true, workerData: { buffer: memory.buffer, from: half } },
  );
  worker.once('online', () => {
    const start = performance.now();
    worker.postMessage(0);
    touch(0, half);
    worker.once('message', () => { console.log(performance.now() - start, 0); process.exit(0); });
  });
}
`;

/** [first touch, touch again] in milliseconds; the second is 0 on two threads (not measured). */
function firstTouchMs(bytes: bigint, threads: 1 | 2): [number, number] {
  const child = spawnSync(process.execPath, ['-e', FIRST_TOUCH_SOURCE, String(bytes), String(threads)], {
    encoding: 'utf8',
  });
  const [first, again] = child.stdout.trim().split(' ').map(Number);
  if (child.status !== 0 || first === undefined || again === undefined || !Number.isFinite(first + again)) {
    throw new Error(`bench_check: the first-touch probe exited ${String(child.status)}: ${child.stderr.trim()}`);
  }
  return [first, again];
}

interface BuildResult {
  readonly wall_ms: SampleSummary;
  readonly cpu_ms: SampleSummary;
  readonly max_rss_bytes: number;
  readonly verdict: string;
}

export interface CheckResult {
  readonly command: string;
  readonly rounds: number;
  readonly threaded: BuildResult;
  readonly single_thread: BuildResult;
  /** Median of each round's threaded / single-thread wall time. */
  readonly paired_ratio: number;
  /** fp32 weights plus the activations the memory guard estimates for the forward pass. */
  readonly weights_and_activations_bytes: number;
  /** The fp32 weights alone: the size of the fresh memory the first-touch probe writes. */
  readonly weights_bytes: number;
  /** Writing one word in each page of weights_bytes of fresh memory: one thread, two, and again. */
  readonly first_touch_ms: {
    readonly one_thread: SampleSummary;
    readonly two_threads: SampleSummary;
    readonly one_thread_again: SampleSummary;
  };
  readonly load_average_before: number[];
  readonly load_average_after: number[];
}

function build(runs: readonly Measurement[]): BuildResult {
  return {
    wall_ms: summarize(runs.map((run) => run.wallMs)),
    cpu_ms: summarize(runs.map((run) => run.cpuMs)),
    max_rss_bytes: Math.max(...runs.map((run) => run.maxRssBytes)),
    verdict: runs.at(-1)?.verdict ?? '',
  };
}

export async function measureCheck(rounds = 5): Promise<CheckResult> {
  const config = loadModelConfig('gpt2-small');
  const forward = estimateRunMemory(config, { batch: 1, seq: 32 }, 'forward', 'wasm');
  const activations = forward.parts.filter((part) => part.label === 'activations').reduce((t, p) => t + p.bytes, 0n);
  const weights = 4n * summarizeParameters(config).total;
  const single = { FLOPLEDGER_WASM_THREADS: '1' };
  const loadBefore = os.loadavg();
  const failed = (run: Measurement) => run.exitCode !== 0;
  // One unmeasured run of each first, so neither pays for a cold file cache.
  for (const run of [await measureOnce(ARGS), await measureOnce(ARGS, undefined, single)]) {
    if (failed(run)) throw new Error(`bench_check: ${ARGS.join(' ')} exited ${run.exitCode}: ${run.verdict}`);
  }
  const threaded: Measurement[] = [];
  const singleThread: Measurement[] = [];
  const touchOne: [number, number][] = [];
  const touchTwo: number[] = [];
  for (let round = 0; round < rounds; round++) {
    touchOne.push(firstTouchMs(weights, 1));
    touchTwo.push(firstTouchMs(weights, 2)[0]);
    if (round % 2 === 0) {
      threaded.push(await measureOnce(ARGS));
      singleThread.push(await measureOnce(ARGS, undefined, single));
    } else {
      singleThread.push(await measureOnce(ARGS, undefined, single));
      threaded.push(await measureOnce(ARGS));
    }
  }
  const bad = [...threaded, ...singleThread].find(failed);
  if (bad !== undefined) throw new Error(`bench_check: a run exited ${bad.exitCode}: ${bad.verdict}`);
  return {
    command: `flopledger ${ARGS.join(' ')}`,
    rounds,
    threaded: build(threaded),
    single_thread: build(singleThread),
    paired_ratio: summarize(threaded.map((run, round) => run.wallMs / singleThread[round]!.wallMs)).median,
    weights_and_activations_bytes: Number(weights + activations),
    weights_bytes: Number(weights),
    first_touch_ms: {
      one_thread: summarize(touchOne.map(([first]) => first)),
      two_threads: summarize(touchTwo),
      one_thread_again: summarize(touchOne.map(([, again]) => again)),
    },
    load_average_before: loadBefore,
    load_average_after: os.loadavg(),
  };
}

function checkReport(result: CheckResult) {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const row = (label: string, build: BuildResult) => [
    label,
    s(build.wall_ms.min),
    s(build.wall_ms.median),
    s(build.cpu_ms.median),
    mib(build.max_rss_bytes),
    (build.max_rss_bytes / result.weights_and_activations_bytes).toFixed(2),
  ];
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  const median = result.threaded.wall_ms.median / 1000;
  return {
    blocks: [
      heading('A real check: verify gpt2-small at 32 tokens on wasm', 2),
      tableBlock({
        columns: [
          { header: 'wasm build' },
          { header: 'min wall s', align: 'right' as const },
          { header: 'median wall s', align: 'right' as const },
          { header: 'median CPU s', align: 'right' as const },
          { header: 'peak RSS MiB (max)', align: 'right' as const },
          { header: 'RSS / (weights + activations)', align: 'right' as const },
        ],
        rows: [
          row('threaded (default): kernels and seeded fill on 2 cores', result.threaded),
          row('single thread (FLOPLEDGER_WASM_THREADS=1)', result.single_thread),
        ],
        notes: [
          `${result.rounds} rounds of one run each in a fresh process, the order swapping every round. ` +
            `Threaded over single-thread, the median of the per-round ratios: ${result.paired_ratio.toFixed(3)}.`,
          `At most ${TARGET_SECONDS} s: ${median <= TARGET_SECONDS ? 'yes' : 'NO'} (median ${median.toFixed(2)} s). ` +
            `Peak RSS at most ${RSS_LIMIT}x the fp32 weights plus the guard's activations ` +
            `(${mib(result.weights_and_activations_bytes)} MiB): ` +
            `${result.threaded.max_rss_bytes <= RSS_LIMIT * result.weights_and_activations_bytes ? 'yes' : 'NO'}.`,
          `Verdict: ${result.threaded.verdict}`,
        ],
      }),
      paragraph(
        `The floor under it on this machine: writing one word in each 4 KiB page of ${mib(result.weights_bytes)} MiB ` +
          `of fresh shared wasm memory, the fp32 weights' size, took ${s(result.first_touch_ms.one_thread.median)} s on one thread ` +
          `and ${s(result.first_touch_ms.two_threads.median)} s on two (medians, a fresh process each round, before the round's checks). ` +
          'Every fill of the weights touches each page once before it draws a value, so this time is spent whatever the sampler does; ' +
          `the same words written again, to pages already touched, took ${result.first_touch_ms.one_thread_again.median.toFixed(1)} ms.`,
      ),
      paragraph(
        `Load average (1/5/15 min) ${load(result.load_average_before)} before and ${load(result.load_average_after)} after.`,
      ),
    ],
    json: null,
  };
}

/** Measure, write bench_check.{md,json} into `docs`, and say the figure on stderr. */
export async function benchCheck(docs: string = join(packageRoot(), 'docs'), rounds = 5): Promise<CheckResult> {
  process.stderr.write(
    'bench: a real check, verify gpt2-small on wasm, threaded against one thread (child processes)\n',
  );
  const result = await measureCheck(rounds);
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench_check.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(docs, 'bench_check.md'), renderReport(checkReport(result), 'markdown'));
  process.stderr.write(
    `bench: ${result.command}: median ${(result.threaded.wall_ms.median / 1000).toFixed(2)} s threaded, ` +
      `${(result.single_thread.wall_ms.median / 1000).toFixed(2)} s single-thread (ratio ${result.paired_ratio.toFixed(3)})\n`,
  );
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchCheck(undefined, process.argv[2] === undefined ? undefined : Number(process.argv[2]));
}
