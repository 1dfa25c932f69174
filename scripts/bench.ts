/**
 * `npm run bench`: the figures behind the timing claims, written to docs/bench.md and
 * docs/bench.json.
 *
 *  1. Tracing overhead: traced / untraced median forward time (and with kernel timers) on each
 *     config of bench_configs.ts, runs interleaved.
 *  2. Forward matmul GFLOP/s against the calibrated bare matmul (and the attention core's),
 *     per-component time shares, and where the time goes when the forward pass is below 80% of
 *     the calibrated rate.
 *  3. Shape-only (meta) traces of GPT-2 XL at 1,024 and 16,384 tokens: trace time and peak RSS,
 *     each in a child process so the peak is that trace's alone.
 *  4. Single-thread against threaded wasm (each in a child process).
 *  5. The local roofline (scripts/bench_roofline.ts): predicted against measured kernel time per
 *     module, written to docs/bench_roofline.md and .json.
 *  6. The web page (scripts/bench_web.ts): bundle size, and time to the first count and to the
 *     first verified webgl trace in headless Chromium, written to docs/bench_web.md and .json.
 *  7. flopledger's forward time beside PyTorch's on the same configs (scripts/bench_torch.ts),
 *     written to docs/bench_torch.md and .json; skipped, saying how to install it, without PyTorch.
 *  8. The SIMD ceiling of one core (scripts/bench_ceiling.ts: the clock timed under load, times
 *     128-bit multiply-add throughput), printed beside the forward and bare-matmul rates of 2.
 *  9. One wasm thread against two on the configs of 7, forward passes and bare matmuls
 *     interleaved (scripts/bench_threads.ts), written to docs/bench_threads.md and .json.
 *  9b. A real check, `verify gpt2-small --seq 32 --backend wasm`, threaded against one thread,
 *     interleaved (scripts/bench_check.ts), written to docs/bench_check.md and .json.
 * 10. The wall times of `npm test` and `npm run test:long`, run once each as child processes at
 *     the end, written to docs/bench_test.md and .json; `--no-test-time` leaves them out (they
 *     take minutes), `--test-time-only` runs this step alone.
 *
 * Run after `npm run build`; takes five to six minutes on two cores, about three of them for the
 * web page (building it, then twelve loads of it in Chromium), and then the test suite.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/runtime/backend.js';
import { packageRoot } from '../src/core/package_root.js';
import { formatBytesBinary, formatFlops, formatPercent } from '../src/core/format.js';
import { renderReport } from '../src/render/render.js';
import { heading, list, paragraph, tableBlock, type Block, type Report } from '../src/render/table.js';
import { EFFICIENCY_TARGET } from '../src/timing/diagnosis.js';
import { estimatePeak, readCpuInfo, simdWidthOf } from '../src/timing/peak.js';
import { BENCH_CONFIGS, BENCH_THREAD_CONFIG, META_POINTS } from './bench_configs.js';
import { benchForward, type ForwardBenchResult } from './bench_forward.js';
import type { MetaTraceResult } from './bench_meta_trace.js';
import { benchMetaScaling } from './measure_meta.js';
import { benchStartup } from './bench_startup.js';
import { benchCheck } from './bench_check.js';
import { benchWeb } from './bench_web.js';
import { measureSimdCeiling, type SimdCeiling } from './bench_ceiling.js';
import { writeBenchTorch } from './bench_torch.js';
import { writeBenchThreads } from './bench_threads.js';
import type { ThreadBenchResult } from './bench_wasm_threads.js';

/** The overhead the tracer may add: traced / untraced median forward time. */
const OVERHEAD_LIMIT = 1.05;
/** The attention core's matmul work (with its dispatch's data movement) against the calibrated rate, at d_model >= 512. */
const ATTENTION_CORE_TARGET = 0.7;

/** Run a compiled helper script next to this one; its last stdout line is its JSON result. */
function runChild<T>(script: string, args: readonly string[]): { result: T } | { error: string } {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = spawnSync(process.execPath, [path, ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const lines = child.stdout.trim().split('\n');
  if (child.status === 0) {
    try {
      return { result: JSON.parse(lines[lines.length - 1] ?? '') as T };
    } catch {
      // fall through: report what the child said
    }
  }
  const stderr = child.stderr.split('\n').filter((line) => line.trim() !== '' && !line.includes('sourceMappingURL'));
  return { error: `exit ${child.status ?? child.signal}: ${stderr.slice(0, 6).join(' | ').slice(0, 600)}` };
}

function step(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  if (process.argv.includes('--test-time-only')) {
    timeTestSuite(join(packageRoot(), 'docs'));
    return;
  }
  const started = performance.now();
  const cpu = readCpuInfo();
  const loadBefore = os.loadavg();
  const machine = {
    cpu_model: cpu.model,
    nproc: os.availableParallelism(),
    physical_cores: cpu.physicalCores ?? null,
    clock_mhz: cpu.clockMHz ?? null,
    clock_source: cpu.clockSource,
    simd_flags: cpu.flags.filter((flag) => ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f'].includes(flag)),
    node: process.version,
    tfjs: tf.version_core,
    platform: `${os.platform()} ${os.release()}`,
    load_average_before: loadBefore,
  };

  step('SIMD ceiling: the clock under load and 128-bit multiply-add throughput');
  const ceiling = await measureSimdCeiling(cpu.clockMHz ?? null);

  step('meta traces (child processes)');
  const meta = META_POINTS.map(({ model, seq }) => ({
    model,
    seq,
    outcome: runChild<MetaTraceResult>('./bench_meta_trace.js', [model, String(seq)]),
  }));

  step('wasm single-thread and threaded builds (child processes)');
  const threads = os.availableParallelism();
  const builds = {
    single: runChild<ThreadBenchResult>('./bench_wasm_threads.js', ['single']),
    threaded: runChild<ThreadBenchResult>('./bench_wasm_threads.js', ['threaded', String(threads)]),
  };

  // The forward-pass sections compare traced with untraced runs and with a calibrated matmul on
  // the single-thread build, whose figures are stable on a shared machine; the two builds are
  // compared against each other above.
  process.env['FLOPLEDGER_WASM_THREADS'] = '1';
  const backend = await useBackend('wasm');
  const forwards: ForwardBenchResult[] = [];
  for (const config of BENCH_CONFIGS) {
    step(`forward passes: ${config.label}`);
    forwards.push(await benchForward(config, backend));
  }
  const peak = estimatePeak(cpu, simdWidthOf('wasm', cpu), 1);
  const loadAfter = os.loadavg();
  const elapsedS = (performance.now() - started) / 1000;

  const overheadOk = forwards.every((f) => f.overhead.traced <= OVERHEAD_LIMIT);
  const matmulBound = forwards.filter((f) => f.d_model >= 512);
  const efficiencyOk = matmulBound.every((f) => f.efficiency >= EFFICIENCY_TARGET);
  const attentionCoreOk = matmulBound.every((f) => f.attention_core.of_calibrated >= ATTENTION_CORE_TARGET);
  const json = {
    generated: new Date().toISOString(),
    elapsed_s: elapsedS,
    machine: { ...machine, load_average_after: loadAfter },
    backend: {
      name: backend.name,
      description: backend.description,
      synchronous_kernel_times: backend.synchronousKernelTimes,
    },
    peak_estimate:
      peak === undefined
        ? null
        : { derivation: peak.derivation, per_core_gflops: peak.perCoreGflops, machine_gflops: peak.machineGflops },
    simd_ceiling: ceiling,
    checks: {
      overhead_limit: OVERHEAD_LIMIT,
      overhead_ok: overheadOk,
      efficiency_target: EFFICIENCY_TARGET,
      efficiency_ok_on_d_model_512_plus: efficiencyOk,
      attention_core_target: ATTENTION_CORE_TARGET,
      attention_core_ok_on_d_model_512_plus: attentionCoreOk,
    },
    forward: forwards,
    meta_trace: meta.map(({ model, seq, outcome }) => ({
      model,
      seq,
      ...('result' in outcome ? outcome.result : outcome),
    })),
    wasm_builds: {
      single: 'result' in builds.single ? builds.single.result : builds.single,
      threaded: 'result' in builds.threaded ? builds.threaded.result : builds.threaded,
    },
  };

  const docs = join(packageRoot(), 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(
    join(docs, 'bench.md'),
    renderReport(benchReport(json, forwards, meta, builds, threads, ceiling), 'markdown'),
  );
  await benchMetaScaling(docs);
  benchStartup(docs);
  await benchCheck(docs, 7);
  step('local roofline: predicted against measured kernel time (child process)');
  const roofline = runChild<{ results: number }>('./bench_roofline.js', []);
  if ('error' in roofline) step(`local roofline failed: ${roofline.error}`);
  await benchWeb(docs);
  step('wasm, 1 thread against 2 on the configs beside PyTorch, interleaved (child processes)');
  await writeBenchThreads(docs);
  step('beside PyTorch: flopledger and PyTorch workers, interleaved (child processes)');
  const torch = await writeBenchTorch(docs);
  if (!torch) step('beside PyTorch: skipped, see above');
  step(`wrote docs/bench.md and docs/bench.json in ${elapsedS.toFixed(0)} s`);
  if (process.argv.includes('--no-test-time')) step('npm test: not timed (--no-test-time)');
  else timeTestSuite(docs);
}

/** One timed run of an npm script, with vitest's closing summary lines. */
interface SuiteTiming {
  readonly command: string;
  readonly wall_s: number;
  readonly exit_code: number | null;
  readonly summary: string[];
}

function timeNpm(args: readonly string[]): SuiteTiming {
  const start = performance.now();
  const child = spawnSync('npm', args, { cwd: packageRoot(), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wallS = (performance.now() - start) / 1000;
  // vitest's closing summary: "Test Files  102 passed (102)", "Tests  1444 passed | 1 skipped (1445)".
  const summary = (child.stdout + child.stderr)
    .split('\n')
    .map((line) => stripVTControlCharacters(line).trim())
    .filter((line) => /^(Test Files|Tests)\s/.test(line));
  return { command: `npm ${args.join(' ')}`, wall_s: wallS, exit_code: child.status, summary };
}

/**
 * Runs `npm test` (the quick files) and then `npm run test:long` once each and writes their wall
 * times to docs/bench_test.md and .json.
 */
function timeTestSuite(docs: string): void {
  step('npm test and npm run test:long, once each, timed (child processes; --no-test-time skips them)');
  const loadBefore = os.loadavg();
  const quick = timeNpm(['test']);
  const long = timeNpm(['run', 'test:long']);
  const loadAfter = os.loadavg();
  const json = {
    generated: new Date().toISOString(),
    ...quick,
    long,
    load_average_before: loadBefore,
    load_average_after: loadAfter,
    cores: os.availableParallelism(),
  };
  writeFileSync(join(docs, 'bench_test.json'), JSON.stringify(json, null, 2) + '\n');
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  const sentence = (run: SuiteTiming) =>
    `\`${run.command}\` took ${run.wall_s.toFixed(1)} s of wall time (exit code ${String(run.exit_code)}; ${run.summary.join('; ') || 'no vitest summary'}).`;
  const report: Report = {
    blocks: [
      heading('npm test', 2),
      paragraph(
        `${sentence(quick)} ${sentence(long)} Run once each, one after the other, by \`npm run bench\` on ${json.cores} cores ` +
          `at a load average (1/5/15 min) of ${load(loadBefore)} before and ${load(loadAfter)} after.`,
      ),
    ],
    json: null,
  };
  writeFileSync(join(docs, 'bench_test.md'), renderReport(report, 'markdown'));
  step(
    `npm test: ${quick.wall_s.toFixed(1)} s, exit ${String(quick.exit_code)}; npm run test:long: ${long.wall_s.toFixed(1)} s, exit ${String(long.exit_code)}; wrote docs/bench_test.md and .json`,
  );
}

type Outcome<T> = { result: T } | { error: string };

function benchReport(
  json: {
    generated: string;
    elapsed_s: number;
    machine: Record<string, unknown> & {
      cpu_model: string;
      nproc: number;
      load_average_before: number[];
      load_average_after: number[];
    };
    peak_estimate: { derivation: string } | null;
    checks: {
      overhead_ok: boolean;
      efficiency_ok_on_d_model_512_plus: boolean;
      attention_core_ok_on_d_model_512_plus: boolean;
    };
  },
  forwards: readonly ForwardBenchResult[],
  meta: readonly { model: string; seq: number; outcome: Outcome<MetaTraceResult> }[],
  builds: { single: Outcome<ThreadBenchResult>; threaded: Outcome<ThreadBenchResult> },
  threads: number,
  ceiling: SimdCeiling,
): Report {
  const m = json.machine;
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  const blocks: Block[] = [
    heading('flopledger benchmark', 1),
    paragraph(
      `Generated ${json.generated} by \`npm run bench\` in ${json.elapsed_s.toFixed(0)} s on: ${m.cpu_model}, ` +
        `nproc ${m.nproc}, ${m['clock_mhz'] === undefined ? '?' : JSON.stringify(m['clock_mhz'])} MHz (${String(m['clock_source'])}), SIMD flags ` +
        `${(m['simd_flags'] as string[]).join(' ')}; Node ${String(m['node'])}, tfjs ${String(m['tfjs'])}, ${String(m['platform'])}. ` +
        `Load average (1/5/15 min) ${load(m.load_average_before)} before and ${load(m.load_average_after)} after: ` +
        'the machine is shared, so absolute times carry that noise; ratios of interleaved runs carry less.',
    ),
    heading('Tracing overhead', 2),
    tableBlock({
      columns: [
        { header: 'config' },
        { header: 'matmul FLOPs', align: 'right' },
        { header: 'rounds', align: 'right' },
        { header: 'records read', align: 'right' },
        { header: 'untraced ms', align: 'right' },
        { header: 'traced ms', align: 'right' },
        { header: 'traced / untraced', align: 'right' },
        { header: 'with kernel timers ms', align: 'right' },
        { header: 'timers / untraced', align: 'right' },
        { header: 'median of per-round traced / untraced', align: 'right' },
        { header: 'fastest traced / fastest untraced', align: 'right' },
      ],
      rows: forwards.map((f) => [
        f.label,
        formatFlops(BigInt(f.matmul_flops)),
        f.rounds,
        f.records_read,
        fixed(f.median_ms.untraced),
        fixed(f.median_ms.traced),
        fixed(f.overhead.traced, 3),
        fixed(f.median_ms.timed),
        fixed(f.overhead.timed, 3),
        fixed(f.paired_overhead.traced, 3),
        fixed(f.min_ms.traced / f.min_ms.untraced, 3),
      ]),
      notes: [
        "Medians over rounds of one untraced, one traced and one traced-with-kernel-timers forward pass each, the order rotating every round; no GC forced. A traced run reads its records and their totals inside the clock, as a user's trace does.",
        "The ratio of median wall times is the measure. Beside it, for a shared machine: the median of each round's own ratio (a round's runs are adjacent in time, so load changes between rounds cancel) and the ratio of the fastest runs (other work only ever adds time). docs/bench.json also has the process CPU-time ratios.",
        `Traced / untraced is at most ${OVERHEAD_LIMIT} on every config: ${json.checks.overhead_ok ? 'yes' : 'NO'}.`,
      ],
    }),
    heading('Forward matmul rate against the calibrated bare matmul (wasm, single thread)', 2),
    tableBlock({
      columns: [
        { header: 'config' },
        { header: 'forward GFLOP/s', align: 'right' },
        { header: 'bare matmul as dispatched', align: 'right' },
        { header: 'bare matmul, fast path', align: 'right' },
        { header: 'efficiency', align: 'right' },
        { header: 'attention core GFLOP/s', align: 'right' },
        { header: 'attention core / calibrated', align: 'right' },
        { header: "core's shapes bare, GFLOP/s", align: 'right' },
        { header: "core's shapes bare, right operand fresh", align: 'right' },
        { header: 'attention core / fresh bare', align: 'right' },
        { header: 'forward / SIMD ceiling', align: 'right' },
        { header: 'bare matmul / SIMD ceiling', align: 'right' },
      ],
      rows: forwards.map((f) => [
        f.label,
        fixed(f.forward_gflops),
        f.calibration === null
          ? 'n/a'
          : `${fixed(f.calibration.dispatched.gflops)} (${f.calibration.dispatched.label})`,
        f.calibration?.fast_path == null
          ? 'same'
          : `${fixed(f.calibration.fast_path.gflops)} (${f.calibration.fast_path.label})`,
        formatPercent(f.efficiency),
        fixed(f.attention_core.gflops),
        formatPercent(f.attention_core.of_calibrated),
        f.attention_core_bare === null
          ? 'n/a'
          : `${fixed(f.attention_core_bare.gflops)} (${f.attention_core_bare.shapes.join(', ')})`,
        f.attention_core_bare === null ? 'n/a' : fixed(f.attention_core_bare.fresh_gflops),
        f.attention_core_bare === null ? 'n/a' : formatPercent(f.attention_core_bare.core_of_fresh),
        formatPercent(f.forward_gflops / ceiling.ceiling_gflops),
        f.calibration === null ? 'n/a' : formatPercent(f.calibration.calibrated_gflops / ceiling.ceiling_gflops),
      ]),
      notes: [
        "Forward GFLOP/s is matmul FLOPs over the untraced median; the bare matmuls are the config's largest matmul timed alone, as the model dispatches it and as one batch-1 untransposed product.",
        'Efficiency is forward GFLOP/s over the higher bare-matmul rate.',
        "The attention core's rate is its matmul FLOPs (q k^T and P v) over the kernel time of those matmuls and of the kernels that only move their operands (k's transpose, the per-head slices and the stack), from the last kernel-timed run; the scale, mask and softmax are not in it. Beside it, the core's own matmul shapes each timed alone and weighted by how often the pass runs them: once with one right operand kept, as the calibration keeps a weight, and once with a new right operand for every product, as the core's per-head slices of k^T and v are. tfjs's wasm matmul has one fast path, XNNPACK's fully-connected operator, which packs its right operand on the first product and keeps the packed copy with that tensor: a fresh operand pays the packing on every product, and the slow path (transposed or batched operands) runs at a few GFLOP/s. The fresh rate is the most the runtime gives the core's products.",
        `SIMD ceiling of one core, measured: ${ceiling.derivation}. The same f32x4.mul + f32x4.add pair XNNPACK's wasm kernels issue, timed over 12 independent accumulators with no memory traffic, ran at ${fixed(ceiling.measured_mul_add_gflops, 1)} GFLOP/s (${formatPercent(ceiling.measured_mul_add_gflops / ceiling.ceiling_gflops)} of the ceiling).`,
        `Theoretical peak from the reported clock: ${json.peak_estimate?.derivation ?? 'not available (clock unknown)'}`,
        `Configs with d_model >= 512 reach ${formatPercent(EFFICIENCY_TARGET, 0)}: ${json.checks.efficiency_ok_on_d_model_512_plus ? 'yes' : 'NO (see where the time goes)'}.`,
        `Their attention core reaches ${formatPercent(ATTENTION_CORE_TARGET, 0)}: ${json.checks.attention_core_ok_on_d_model_512_plus ? 'yes' : 'NO'}. The core's products on fresh right operands, timed bare, reach ${forwards
          .filter((f) => f.d_model >= 512 && f.attention_core_bare !== null && f.calibration !== null)
          .map(
            (f) =>
              `${formatPercent(f.attention_core_bare!.fresh_gflops / f.calibration!.calibrated_gflops)} of calibrated at d ${f.d_model}, T ${f.run.seq}`,
          )
          .join(' and ')}: the most the runtime allows the core before any slice, stack or transpose.`,
      ],
    }),
    heading('Share of kernel time / share of FLOPs per component', 2),
    tableBlock({
      columns: [
        { header: 'config' },
        ...['attention_projections', 'attention_core', 'ffn', 'lm_head', 'non_matmul'].map((key) => ({
          header: key.replace('_', ' '),
          align: 'right' as const,
        })),
      ],
      rows: forwards.map((f) => [
        f.label,
        ...['attention_projections', 'attention_core', 'ffn', 'lm_head', 'non_matmul'].map((key) => {
          const row = f.shares.find((share) => share.key === key);
          return row === undefined ? '-' : `${formatPercent(row.time_share)} / ${formatPercent(row.flop_share)}`;
        }),
      ]),
      notes: [
        'From the last traced run with kernel timers of each config; kernel time only (time between kernels is not in it).',
      ],
    }),
  ];
  for (const f of forwards) {
    if (f.where_time_goes.length <= 1) continue;
    blocks.push(
      heading(`Where the time goes: ${f.label}`, 3),
      paragraph(f.where_time_goes[0]!),
      list(f.where_time_goes.slice(1)),
    );
  }

  blocks.push(
    heading('Shape-only traces of GPT-2 XL (meta backend)', 2),
    tableBlock({
      columns: [
        { header: 'model' },
        { header: 'tokens', align: 'right' },
        { header: 'trace ms', align: 'right' },
        { header: 'weights ms', align: 'right' },
        { header: 'kernels', align: 'right' },
        { header: 'matmul FLOPs', align: 'right' },
        { header: 'peak RSS', align: 'right' },
        { header: 'RSS after imports', align: 'right' },
      ],
      rows: meta.map(({ model, seq, outcome }) =>
        'result' in outcome
          ? [
              model,
              seq,
              fixed(outcome.result.trace_ms, 1),
              fixed(outcome.result.init_ms, 1),
              outcome.result.kernels,
              formatFlops(BigInt(outcome.result.matmul_flops)),
              formatBytesBinary(BigInt(outcome.result.max_rss_bytes)),
              formatBytesBinary(BigInt(outcome.result.rss_after_imports_bytes)),
            ]
          : [model, seq, `failed: ${outcome.error}`, '', '', '', '', ''],
      ),
      notes: [
        'Each trace runs in a child process; peak RSS is process.resourceUsage().maxRSS of that process (Node and tfjs included).',
      ],
    }),
  );

  const buildRow = (name: string, outcome: Outcome<ThreadBenchResult>) => {
    if (!('result' in outcome)) return [name, 'n/a', `failed: ${outcome.error}`, '', '', '', ''];
    const r = outcome.result;
    const rate = (shape: string) => fixed(r.matmul.find((entry) => entry.name === shape)?.gflops ?? NaN);
    return [
      name,
      r.threads,
      rate('fast path 512'),
      rate('fast path 1024'),
      rate('transposed b 512'),
      rate('attention scores'),
      `${fixed(r.forward.median_ms, 1)} (${fixed(r.forward.gflops)} GFLOP/s)`,
    ];
  };
  const single = 'result' in builds.single ? builds.single.result : undefined;
  const threaded = 'result' in builds.threaded ? builds.threaded.result : undefined;
  const verdict =
    single === undefined || threaded === undefined
      ? 'One of the builds did not run; see the table.'
      : threaded.forward.median_ms < single.forward.median_ms
        ? `The threaded build is faster here: the forward pass takes ${formatPercent(threaded.forward.median_ms / single.forward.median_ms)} of the single-thread time.`
        : `The single-thread build is as fast or faster here: the threaded forward pass takes ${formatPercent(threaded.forward.median_ms / single.forward.median_ms)} of its time.`;
  blocks.push(
    heading('WebAssembly: single thread against the threaded SIMD build', 2),
    tableBlock({
      columns: [
        { header: 'build' },
        { header: 'threads', align: 'right' },
        { header: '[512,512] x [512,512]', align: 'right' },
        { header: '[1024,1024] x [1024,1024]', align: 'right' },
        { header: '[512,512] x [512,512]^T', align: 'right' },
        { header: '[8,256,64] x [8,256,64]^T', align: 'right' },
        { header: `forward ms, ${BENCH_THREAD_CONFIG.label}`, align: 'right' },
      ],
      rows: [
        buildRow('SIMD, single thread', builds.single),
        buildRow(`threaded SIMD (${threads} requested)`, builds.threaded),
      ],
      notes: ['Bare matmul columns in GFLOP/s; each build runs in a child process of its own.'],
    }),
    paragraph(verdict),
    paragraph(
      'tfjs-backend-wasm 4.22 does not start its threaded build in Node. WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false ' +
        "there; forced on, Emscripten starts its pthread workers from blob: URLs, which Node's Worker refuses " +
        '(ERR_WORKER_PATH: "The worker script or module filename must be an absolute path or a relative path starting with ' +
        "'./' or '../'\"), so setBackend resolves false. Past that, each worker loads the factory's source from a Blob and " +
        'fails on the Node bundle\'s module-scope names ("ReferenceError: require$$0 is not defined"); past that, the C++ side ' +
        'caps the pool at os.cpus().length / 2 threads (1 on two vCPUs); and the workers keep the process alive. ' +
        "scripts/bench_wasm_threads.ts works around all four (blob URLs become eval'd source, the main script a temp file with " +
        "those names defined, os.cpus() reports twice the CPUs while the module starts, the workers are unref'd).",
    ),
  );
  return { blocks, json: null };
}

await main();
