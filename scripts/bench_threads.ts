/**
 * One thread against two on the wasm backend, on the configs timed beside PyTorch
 * (bench_torch.ts), to choose the default build:
 *
 *   node dist/scripts/bench_threads.js [rounds]    docs/bench_threads.md and .json, and the Markdown on stdout
 *
 * Two long-lived flopledger workers (bench_torch.ts's, one on the single-thread build, one on the
 * threaded build at two threads) each start their backend once, then answer requests; the parent
 * alternates them pass by pass, the order swapping every round, and takes the ratio within the
 * round: on a machine shared with other work the load moves from minute to minute, and two passes
 * a second apart see nearly the same load. Only one worker computes at a time, so the threaded
 * build has both cores to itself as far as this benchmark goes. Every matmul shape of the pass is
 * also timed bare in both workers ([m, k] x [k, n], summed with the pass's multiplicities): the
 * speed-up the runtime offers, against the one the forward pass gets.
 *
 * The load average is recorded before and after every config: two threads need two free cores,
 * and a load above one on two cores means another process holds one of them part of the time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/core/package_root.js';
import { renderReport } from '../src/render/render.js';
import { heading, paragraph, tableBlock } from '../src/render/table.js';
import { median } from '../src/timing/statistics.js';
import { TORCH_CONFIGS, bareMatmulTime, startToolWorker, type SetupAnswer, type Worker } from './bench_torch.js';
import { loadModelConfig } from '../src/config/index.js';

const THREADED = 2;

interface ThreadsConfigResult {
  readonly label: string;
  readonly matmul_flops: string;
  readonly rounds: number;
  readonly single_ms: number;
  readonly threaded_ms: number;
  /** Median over rounds of each round's single / threaded: above 1, two threads are faster. */
  readonly speedup: number;
  readonly speedup_range: readonly [number, number];
  readonly single_bare_ms: number;
  readonly threaded_bare_ms: number;
  readonly bare_speedup: number;
  /** Matmul FLOPs over the median pass, each build. */
  readonly single_gflops: number;
  readonly threaded_gflops: number;
  readonly load_before: readonly number[];
  readonly load_after: readonly number[];
}

async function forwardOnce(worker: Worker): Promise<number> {
  return (await worker.ask<{ ms: number[] }>({ op: 'forward', runs: 1 })).ms[0]!;
}

async function benchThreads(rounds = 15): Promise<ThreadsConfigResult[]> {
  const single = startToolWorker(1, 'flopledger, 1 thread');
  const threaded = startToolWorker(THREADED, `flopledger, ${THREADED} threads`);
  const results: ThreadsConfigResult[] = [];
  try {
    for (const spec of TORCH_CONFIGS) {
      const loadBefore = os.loadavg();
      const config = loadModelConfig('gpt2-small', spec.overrides);
      const setup = {
        op: 'setup' as const,
        config: { vocab_size: config.vocab_size, num_layers: config.num_layers, d_model: config.d_model },
        overrides: spec.overrides,
        batch: 1,
        seq: spec.seq,
      };
      const singleSetup = await single.ask<SetupAnswer>(setup);
      const threadedSetup = await threaded.ask<SetupAnswer>(setup);
      if (singleSetup.matmul_flops !== threadedSetup.matmul_flops) {
        throw new Error(
          `${spec.label}: the builds counted ${singleSetup.matmul_flops} and ${threadedSetup.matmul_flops} matmul FLOPs`,
        );
      }
      process.stderr.write(`bench: ${spec.label}, 1 against ${THREADED} threads\n`);
      for (let i = 0; i < 2; i++) {
        await forwardOnce(single);
        await forwardOnce(threaded);
      }
      const singleSamples: number[] = [];
      const threadedSamples: number[] = [];
      const speedups: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const singleFirst = round % 2 === 0;
        const a = await forwardOnce(singleFirst ? single : threaded);
        const b = await forwardOnce(singleFirst ? threaded : single);
        const [singleMs, threadedMs] = singleFirst ? [a, b] : [b, a];
        singleSamples.push(singleMs);
        threadedSamples.push(threadedMs);
        speedups.push(singleMs / threadedMs);
      }
      const bare = await bareMatmulTime(single, threaded, singleSetup.shapes ?? []);
      const flops = Number(singleSetup.matmul_flops);
      const singleMs = median(singleSamples);
      const threadedMs = median(threadedSamples);
      results.push({
        label: spec.label,
        matmul_flops: singleSetup.matmul_flops,
        rounds,
        single_ms: singleMs,
        threaded_ms: threadedMs,
        speedup: median(speedups),
        speedup_range: [Math.min(...speedups), Math.max(...speedups)],
        // bareMatmulTime names its two sides after bench_torch's: here "tool" is the first worker.
        single_bare_ms: bare.tool,
        threaded_bare_ms: bare.torch,
        bare_speedup: bare.tool / bare.torch,
        single_gflops: flops / singleMs / 1e6,
        threaded_gflops: flops / threadedMs / 1e6,
        load_before: loadBefore,
        load_after: os.loadavg(),
      });
    }
  } finally {
    single.close();
    threaded.close();
  }
  return results;
}

const ms = (value: number) => `${value.toFixed(value < 100 ? 1 : 0)} ms`;
const times = (value: number) => `${value.toFixed(2)}x`;
const load = (values: readonly number[]) => values.map((value) => value.toFixed(1)).join(' ');

/** Runs the comparison and writes docs/bench_threads.md and .json. */
export async function writeBenchThreads(docs: string = join(packageRoot(), 'docs'), rounds?: number): Promise<void> {
  const results = await benchThreads(rounds);
  const blocks = [
    heading(`wasm: 1 thread against ${THREADED}`, 2),
    paragraph(
      `flopledger's forward pass on the single-thread SIMD build and on the threaded SIMD build at ${THREADED} threads, ` +
        `each in a long-lived worker that started its backend once, passes alternating one for one; batch 1, ` +
        `V 50,257 unless stated. Speed-up: the median over rounds of each round's 1-thread / ${THREADED}-thread time ` +
        `(range in brackets). Bare: every matmul shape of the pass timed alone in each worker as [m, k] x [k, n] ` +
        `and summed with its multiplicity. Load average (1/5/15 min) before and after each config, on ` +
        `${os.availableParallelism()} cores.`,
    ),
    tableBlock({
      columns: [
        { header: 'config' },
        { header: '1 thread', align: 'right' },
        { header: `${THREADED} threads`, align: 'right' },
        { header: 'forward speed-up', align: 'right' },
        { header: 'GFLOP/s, 1 / 2', align: 'right' },
        { header: 'bare, 1 thread', align: 'right' },
        { header: `bare, ${THREADED} threads`, align: 'right' },
        { header: 'bare speed-up', align: 'right' },
        { header: 'load before / after' },
      ],
      rows: results.map((r) => [
        r.label,
        ms(r.single_ms),
        ms(r.threaded_ms),
        `${times(r.speedup)} (${r.speedup_range.map((x) => x.toFixed(2)).join('-')})`,
        `${r.single_gflops.toFixed(1)} / ${r.threaded_gflops.toFixed(1)}`,
        ms(r.single_bare_ms),
        ms(r.threaded_bare_ms),
        times(r.bare_speedup),
        `${load(r.load_before)} / ${load(r.load_after)}`,
      ]),
    }),
  ];
  const markdown = renderReport({ blocks, json: null }, 'markdown');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench_threads.md'), markdown);
  writeFileSync(
    join(docs, 'bench_threads.json'),
    JSON.stringify({ generated: new Date().toISOString(), threads: THREADED, configs: results }, null, 2) + '\n',
  );
  process.stdout.write(markdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeBenchThreads(undefined, process.argv[2] === undefined ? undefined : Number(process.argv[2])).catch(
    (error: unknown) => {
      process.stderr.write(`bench_threads: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
