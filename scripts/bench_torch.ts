/**
 * flopledger's forward time beside PyTorch's, on the same configs, in one interleaved run:
 *
 *   node dist/scripts/bench_torch.js [rounds]     docs/bench_torch.md and .json, and the Markdown on stdout
 *
 * Both sides run as long-lived workers that answer one request per line (flopledger's is this
 * script with `worker <threads>`, PyTorch's is scripts/torch_forward.py), so the runs alternate
 * pass by pass: round r times one flopledger pass and one PyTorch pass, in an order that swaps
 * every round, and the ratio is taken within the round. On a machine shared with other work the
 * load moves from minute to minute; two passes a few hundred ms apart see nearly the same load.
 *
 * The same work on both sides: each worker counts its forward pass's matmul FLOPs on its own
 * (flopledger from a traced pass, PyTorch from every product as it runs), and a config whose two
 * counts differ is reported as such and not timed. The runtimes' own speed is measured beside it:
 * every matmul shape of the pass, timed bare on both sides as a plain [m, k] x [k, n] product, and
 * summed with the pass's multiplicities ("bare matmul time"). The tool's own cost is the forward
 * ratio over that bare ratio.
 *
 * Threads: flopledger's wasm at 1 thread is the single-thread build, at 2 the threaded one
 * (FLOPLEDGER_WASM_THREADS). PyTorch gets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
 * MKL_NUM_THREADS at the same count (OpenBLAS would otherwise start a thread per core beside
 * torch's own), torch.set_num_threads, and OMP_WAIT_POLICY=PASSIVE: with the default active
 * policy its idle threads spin on the cores the next flopledger pass needs.
 *
 * PyTorch is Debian's python3-torch (`apt-get install python3-torch`); without it, the script
 * says so and how to install it, and writes nothing.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

import { loadModelConfig, type ConfigOverrides } from '../src/config/index.js';
import { packageRoot } from '../src/core/package_root.js';
import { disposeWeights, forward, initWeights, tokenIds } from '../src/model/index.js';
import { renderReport } from '../src/render/render.js';
import { heading, paragraph, tableBlock, type Block } from '../src/render/table.js';
import { useBackend } from '../src/runtime/backend.js';
import { dispatchDims, dispatchOfRecord } from '../src/timing/calibrate.js';
import { median } from '../src/timing/statistics.js';
import { traceKernels } from '../src/trace/tracer.js';

/** The configs of the comparison (batch 1; the seed architecture: RMSNorm, RoPE, SwiGLU, untied). */
export const TORCH_CONFIGS: readonly { label: string; overrides: ConfigOverrides; seq: number }[] = [
  {
    label: 'L4, d 256, T 256',
    overrides: { num_layers: 4, d_model: 256, num_heads: 4, d_ff: 1024 },
    seq: 256,
  },
  { label: 'L2, d 512, T 512', overrides: { num_layers: 2, d_model: 512, num_heads: 8, d_ff: 2048 }, seq: 512 },
  { label: 'GPT-2 small shape, T 128', overrides: {}, seq: 128 },
  {
    label: 'L4, d 1024, V 1000, T 512',
    overrides: { num_layers: 4, d_model: 1024, num_heads: 16, d_ff: 4096, vocab_size: 1000 },
    seq: 512,
  },
];

/** The tool may add at most this much beyond its runtime: forward ratio / bare ratio. */
const TOOL_OVERHEAD_LIMIT = 1.15;
const THREAD_COUNTS = [1, 2] as const;
/** The native backend's goal: at most this many times PyTorch's best forward time. */
const NATIVE_LIMIT = 2.0;
/** The six orders of the three workers (wasm, native, PyTorch) by index. */
const ORDERS = [
  [0, 1, 2],
  [2, 1, 0],
  [1, 2, 0],
  [0, 2, 1],
  [2, 0, 1],
  [1, 0, 2],
] as const;

/** One matmul shape of a pass and how many 2-D products of it the pass computes. */
interface MatmulShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly count: number;
}

type Request =
  | { op: 'setup'; config: Record<string, number>; overrides: ConfigOverrides; batch: number; seq: number }
  | { op: 'forward'; runs: number }
  | { op: 'matmul'; m: number; k: number; n: number; runs: number };

export interface SetupAnswer {
  readonly matmul_flops: string;
  readonly shapes?: MatmulShape[];
  readonly torch?: string;
  readonly blas?: string;
}

// ---------------------------------------------------------------- flopledger's worker

async function serve(threads: number, backendName: ToolBackend): Promise<void> {
  // Also ONNX Runtime's thread count on the native backend.
  process.env['FLOPLEDGER_WASM_THREADS'] = String(threads);
  const backend = await useBackend(backendName);
  // A count the backend did not take would label single-thread times as threaded ones.
  const running = backend.description.includes(`${threads} threads`) ? threads : 1;
  if (running !== threads) throw new Error(`asked for ${threads} threads, the backend runs ${backend.description}`);
  let state: { weights: ReturnType<typeof initWeights>; ids: tf.Tensor2D; run: () => void } | undefined;
  const answer = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const request = JSON.parse(line) as Request;
    if (request.op === 'setup') {
      if (state !== undefined) {
        disposeWeights(state.weights);
        state.ids.dispose();
      }
      const config = loadModelConfig('gpt2-small', request.overrides);
      const run = { batch: request.batch, seq: request.seq };
      const weights = initWeights(config, { seed: 0, init: 'random' });
      const ids = tokenIds(config, run, { seed: 0, init: 'random' });
      state = { weights, ids, run: () => forward(config, weights, ids).dispose() };
      const { records, result } = traceKernels(() => forward(config, weights, ids));
      result.dispose();
      let flops = 0n;
      const shapes = new Map<string, MatmulShape>();
      for (const record of records) {
        if (record.nested || record.matmul === undefined) continue;
        flops += record.matmul.flops;
        const { batch, m, k, n } = dispatchDims(dispatchOfRecord(record));
        const key = `${m}x${k}x${n}`;
        const seen = shapes.get(key);
        shapes.set(key, { m, k, n, count: (seen?.count ?? 0) + batch });
      }
      answer({ matmul_flops: flops.toString(), shapes: [...shapes.values()] });
    } else if (request.op === 'forward') {
      const ms: number[] = [];
      for (let i = 0; i < request.runs; i++) {
        const start = performance.now();
        state?.run();
        ms.push(performance.now() - start);
      }
      answer({ ms });
    } else {
      const a = tf.fill([request.m, request.k], 0.01);
      const b = tf.fill([request.k, request.n], 0.01);
      tf.matMul(a, b).dispose();
      const ms: number[] = [];
      for (let i = 0; i < request.runs; i++) {
        const start = performance.now();
        tf.matMul(a, b).dispose();
        ms.push(performance.now() - start);
      }
      a.dispose();
      b.dispose();
      answer({ ms });
    }
  }
}

// ---------------------------------------------------------------- the parent

/** A worker process answering one JSON line per request. */
export class Worker {
  private readonly lines: AsyncIterator<string>;
  constructor(
    readonly name: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', () => undefined);
  }

  async ask<T>(request: Request): Promise<T> {
    this.child.stdin.write(JSON.stringify(request) + '\n');
    for (;;) {
      const next = await this.lines.next();
      if (next.done === true) throw new Error(`${this.name} exited (${this.child.exitCode ?? 'signal'})`);
      // Anything a library prints on stdout is not an answer.
      if (next.value.startsWith('{')) return JSON.parse(next.value) as T;
    }
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

function pythonWithTorch(): { python: string; version: string } | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
  }
  return undefined;
}

/** The backends flopledger is timed on: wasm alone, and wasm with its matmuls on ONNX Runtime. */
type ToolBackend = 'wasm' | 'native';

/** flopledger's worker on `backend` (wasm by default) with `threads` threads. */
export function startToolWorker(threads: number, name = 'flopledger', backend: ToolBackend = 'wasm'): Worker {
  return new Worker(
    name,
    spawn(process.execPath, [fileURLToPath(import.meta.url), 'worker', String(threads), backend]),
  );
}

function startWorkers(python: string, threads: number): { tool: Worker; native: Worker; torch: Worker } {
  const tool = startToolWorker(threads);
  const native = startToolWorker(threads, 'flopledger native', 'native');
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
    OMP_WAIT_POLICY: 'PASSIVE',
  };
  const script = join(packageRoot(), 'scripts', 'torch_forward.py');
  const torch = new Worker('PyTorch', spawn(python, [script], { env }));
  return { tool, native, torch };
}

interface ThreadResult {
  readonly threads: number;
  readonly tool_ms: number;
  readonly native_ms: number;
  readonly torch_ms: number;
  /** Median over rounds of each round's flopledger (wasm) / PyTorch. */
  readonly forward_ratio: number;
  /** Median over rounds of each round's flopledger (native) / PyTorch. */
  readonly native_ratio: number;
  readonly tool_bare_ms: number;
  readonly torch_bare_ms: number;
  readonly bare_ratio: number;
  /** forward_ratio / bare_ratio: what the tool adds beyond its runtime. */
  readonly tool_overhead: number;
  readonly tool_gflops: number;
  readonly native_gflops: number;
  readonly torch_gflops: number;
  readonly rounds: number;
}

interface ConfigResult {
  readonly label: string;
  readonly matmul_flops: string;
  /** Set when the two sides counted different work: nothing was timed. */
  readonly mismatch?: string;
  readonly by_threads: ThreadResult[];
}

async function forwardOnce(worker: Worker): Promise<number> {
  return (await worker.ask<{ ms: number[] }>({ op: 'forward', runs: 1 })).ms[0]!;
}

/** Every shape of the pass, bare on both sides, interleaved; each side's sum of count x median. */
export async function bareMatmulTime(
  tool: Worker,
  torch: Worker,
  shapes: readonly MatmulShape[],
): Promise<{ tool: number; torch: number }> {
  let toolMs = 0;
  let torchMs = 0;
  for (const shape of shapes) {
    const runs = Math.max(3, Math.min(50, Math.round(2e8 / (shape.m * shape.k * shape.n))));
    const request = { op: 'matmul' as const, m: shape.m, k: shape.k, n: shape.n, runs };
    const toolSamples: number[] = [];
    const torchSamples: number[] = [];
    for (let round = 0; round < 3; round++) {
      const first = round % 2 === 0 ? tool : torch;
      const second = first === tool ? torch : tool;
      for (const worker of [first, second]) {
        const { ms } = await worker.ask<{ ms: number[] }>(request);
        (worker === tool ? toolSamples : torchSamples).push(...ms);
      }
    }
    toolMs += shape.count * median(toolSamples);
    torchMs += shape.count * median(torchSamples);
  }
  return { tool: toolMs, torch: torchMs };
}

async function benchTorch(rounds = 7): Promise<{ results: ConfigResult[]; torch: string; blas: string } | undefined> {
  const found = pythonWithTorch();
  if (found === undefined) {
    process.stderr.write(
      "bench: PyTorch is not installed, so flopledger is not timed beside it; install Debian's (apt-get install python3-torch) and run again\n",
    );
    return undefined;
  }
  let blas = 'unknown';
  const results: ConfigResult[] = TORCH_CONFIGS.map(({ label }) => ({ label, matmul_flops: '', by_threads: [] }));
  for (const threads of THREAD_COUNTS) {
    const { tool, native, torch } = startWorkers(found.python, threads);
    try {
      for (const [index, spec] of TORCH_CONFIGS.entries()) {
        const config = loadModelConfig('gpt2-small', spec.overrides);
        const shape = {
          vocab_size: config.vocab_size,
          num_layers: config.num_layers,
          d_model: config.d_model,
          num_heads: config.num_heads,
          d_ff: config.d_ff,
        };
        const setup = { op: 'setup' as const, config: shape, overrides: spec.overrides, batch: 1, seq: spec.seq };
        const toolSetup = await tool.ask<SetupAnswer>(setup);
        const nativeSetup = await native.ask<SetupAnswer>(setup);
        const torchSetup = await torch.ask<SetupAnswer>(setup);
        blas = torchSetup.blas ?? 'unknown';
        if (!/openblas|mkl/i.test(blas)) {
          throw new Error(
            `PyTorch loaded ${blas}, not an optimised BLAS, and would run about 100x slower than it can; ` +
              'install OpenBLAS (apt-get install libopenblas0-pthread) and run again',
          );
        }
        const slot = results[index]!;
        const matmulFlops = toolSetup.matmul_flops;
        if (toolSetup.matmul_flops !== torchSetup.matmul_flops || nativeSetup.matmul_flops !== matmulFlops) {
          results[index] = {
            ...slot,
            matmul_flops: matmulFlops,
            mismatch:
              `flopledger counts ${toolSetup.matmul_flops} matmul FLOPs on wasm, ${nativeSetup.matmul_flops} ` +
              `on native, PyTorch ${torchSetup.matmul_flops}`,
          };
          continue;
        }
        process.stderr.write(`bench: ${spec.label} at ${threads} thread(s)\n`);
        const workers = [tool, native, torch];
        for (let i = 0; i < 2; i++) for (const worker of workers) await forwardOnce(worker);
        const toolSamples: number[] = [];
        const nativeSamples: number[] = [];
        const torchSamples: number[] = [];
        const ratios: number[] = [];
        const nativeRatios: number[] = [];
        for (let round = 0; round < rounds; round++) {
          // Each of the six orders in turn, so no side always runs first or right after another.
          const order = ORDERS[round % ORDERS.length]!.map((i) => workers[i]!);
          const passMs = new Map<Worker, number>();
          for (const worker of order) passMs.set(worker, await forwardOnce(worker));
          const [toolMs, nativeMs, torchMs] = workers.map((worker) => passMs.get(worker)!) as [number, number, number];
          toolSamples.push(toolMs);
          nativeSamples.push(nativeMs);
          torchSamples.push(torchMs);
          ratios.push(toolMs / torchMs);
          nativeRatios.push(nativeMs / torchMs);
        }
        const bare = await bareMatmulTime(tool, torch, toolSetup.shapes ?? []);
        const toolMs = median(toolSamples);
        const nativeMs = median(nativeSamples);
        const torchMs = median(torchSamples);
        const forwardRatio = median(ratios);
        const bareRatio = bare.tool / bare.torch;
        const flops = Number(matmulFlops);
        slot.by_threads.push({
          threads,
          tool_ms: toolMs,
          native_ms: nativeMs,
          torch_ms: torchMs,
          forward_ratio: forwardRatio,
          native_ratio: median(nativeRatios),
          tool_bare_ms: bare.tool,
          torch_bare_ms: bare.torch,
          bare_ratio: bareRatio,
          tool_overhead: forwardRatio / bareRatio,
          tool_gflops: flops / toolMs / 1e6,
          native_gflops: flops / nativeMs / 1e6,
          torch_gflops: flops / torchMs / 1e6,
          rounds,
        });
        results[index] = { ...slot, matmul_flops: matmulFlops };
      }
    } finally {
      tool.close();
      native.close();
      torch.close();
    }
  }
  return { results, torch: found.version, blas };
}

const ms = (value: number) => `${value.toFixed(value < 100 ? 1 : 0)} ms`;
const times = (value: number) => `${value.toFixed(2)}x`;

function torchReport(
  results: readonly ConfigResult[],
  torch: { version: string; blas: string },
  load: readonly number[][],
): Block[] {
  const rows = results.flatMap((result) =>
    result.mismatch !== undefined
      ? [[result.label, 'not timed', result.mismatch, '', '', '', '', '', '', '']]
      : result.by_threads.map((t) => [
          result.label,
          String(t.threads),
          ms(t.tool_ms),
          ms(t.native_ms),
          ms(t.torch_ms),
          times(t.forward_ratio),
          times(t.native_ratio),
          times(t.bare_ratio),
          times(t.tool_overhead),
          t.tool_overhead <= TOOL_OVERHEAD_LIMIT ? 'yes' : 'no',
        ]),
  );
  const best = results
    .filter((result) => result.mismatch === undefined && result.by_threads.length > 0)
    .map((result) => {
      const toolBest = Math.min(...result.by_threads.map((t) => t.tool_ms));
      const nativeBest = Math.min(...result.by_threads.map((t) => t.native_ms));
      const torchBest = Math.min(...result.by_threads.map((t) => t.torch_ms));
      return [
        result.label,
        ms(toolBest),
        ms(nativeBest),
        ms(torchBest),
        times(toolBest / torchBest),
        times(nativeBest / torchBest),
        nativeBest / torchBest <= NATIVE_LIMIT ? 'yes' : 'no',
      ];
    });
  return [
    heading('Beside PyTorch', 2),
    paragraph(
      `flopledger's forward pass on wasm (SIMD; the single-thread build at 1 thread, the threaded one at 2), ` +
        `on native (the same wasm kernels with the matmuls on ONNX Runtime's GEMM at the same thread count) ` +
        `and PyTorch ${torch.version}'s (CPU, fp32, inference mode, BLAS ${torch.blas.split(', ').at(-1)}) on the same seed-architecture model, batch 1, ` +
        `V 50,257 unless stated; all three counted the same matmul FLOPs before they were timed. ` +
        `Medians over interleaved rounds (the three passes of a round in each of the six orders in turn), ` +
        `each ratio taken within its round. Bare: every matmul shape of the pass ` +
        `timed alone on wasm and PyTorch and summed with its multiplicity. Tool overhead: wasm's forward ratio over bare ratio ` +
        `(at most ${TOOL_OVERHEAD_LIMIT}: the tool adds at most ${Math.round((TOOL_OVERHEAD_LIMIT - 1) * 100)}% ` +
        `beyond its runtime).`,
    ),
    tableBlock({
      columns: [
        { header: 'config' },
        { header: 'threads', align: 'right' },
        { header: 'flopledger wasm', align: 'right' },
        { header: 'flopledger native', align: 'right' },
        { header: 'PyTorch', align: 'right' },
        { header: 'wasm / PyTorch', align: 'right' },
        { header: 'native / PyTorch', align: 'right' },
        { header: 'bare matmul ratio', align: 'right' },
        { header: 'tool overhead', align: 'right' },
        { header: `<= ${TOOL_OVERHEAD_LIMIT}` },
      ],
      rows,
    }),
    tableBlock({
      columns: [
        { header: 'config' },
        { header: 'wasm best', align: 'right' },
        { header: 'native best', align: 'right' },
        { header: 'PyTorch best', align: 'right' },
        { header: 'wasm / PyTorch', align: 'right' },
        { header: 'native / PyTorch', align: 'right' },
        { header: `native <= ${NATIVE_LIMIT.toFixed(1)}x` },
      ],
      rows: best,
    }),
    paragraph(
      `Load average (1/5/15 min) ${load[0]!.map((v) => v.toFixed(2)).join(' / ')} before and ` +
        `${load[1]!.map((v) => v.toFixed(2)).join(' / ')} after, on ${os.availableParallelism()} cores.`,
    ),
  ];
}

/** Runs the comparison and writes docs/bench_torch.md and .json; false when PyTorch is missing. */
export async function writeBenchTorch(docs: string = join(packageRoot(), 'docs'), rounds?: number): Promise<boolean> {
  const before = os.loadavg();
  const measured = await benchTorch(rounds);
  if (measured === undefined) return false;
  const after = os.loadavg();
  const blocks = torchReport(measured.results, { version: measured.torch, blas: measured.blas }, [before, after]);
  mkdirSync(docs, { recursive: true });
  const markdown = renderReport({ blocks, json: null }, 'markdown');
  writeFileSync(join(docs, 'bench_torch.md'), markdown);
  writeFileSync(
    join(docs, 'bench_torch.json'),
    JSON.stringify(
      { torch: measured.torch, blas: measured.blas, load_before: before, load_after: after, configs: measured.results },
      null,
      2,
    ) + '\n',
  );
  process.stdout.write(markdown);
  return true;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'worker') {
    await serve(Number(process.argv[3] ?? '1'), process.argv[4] === 'native' ? 'native' : 'wasm');
    return;
  }
  await writeBenchTorch(undefined, process.argv[2] === undefined ? undefined : Number(process.argv[2]));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench_torch: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
