/**
 * The local roofline: calibrate this backend's matmul rate, a streaming elementwise bandwidth and
 * the cost of an empty kernel, predict each kernel of a real forward pass from them (the larger of
 * FLOPs / rate and bytes / bandwidth, plus the launch cost), and set predicted beside measured
 * kernel time per module kind, with the median and worst error. Prints one JSON line last.
 *
 * Run by `npm run bench` (or alone after `npm run build`: node dist/scripts/bench_roofline.js);
 * writes docs/bench_roofline.md and .json. The machine is shared: every time is the median of
 * repeats, and the result is a loaded machine's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModelConfig } from '../src/config/index.js';
import { recordBytes } from '../src/core/byte_rules.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { layerIndexOf, rollUp, withinLayer } from '../src/core/module_paths.js';
import { packageRoot } from '../src/core/package_root.js';
import { renderReport } from '../src/render/render.js';
import { fixed, heading, paragraph, tableBlock, type Block } from '../src/render/table.js';
import { disposeWeights, forward, initWeights, tokenIds } from '../src/model/index.js';
import { useBackend } from '../src/runtime/backend.js';
import { median } from '../src/timing/statistics.js';
import { traceKernels } from '../src/trace/tracer.js';
import { BENCH_CONFIGS } from './bench_configs.js';

const REPEATS = 7;

/**
 * Median kernel time in seconds of the one kernel `fn` runs, read by the same kernel timers as the
 * forward pass's (traceKernels with timeKernels), so calibration and measurement see the same clock.
 */
function timed(fn: () => tf.Tensor): number {
  const times: number[] = [];
  for (let i = 0; i < REPEATS + 1; i++) {
    const trace = traceKernels(fn, { timeKernels: true });
    trace.result.dispose();
    const seconds =
      trace.records.reduce((total, record) => total + (record.nested ? 0 : (record.timeMs ?? 0)), 0) / 1000;
    if (i > 0) times.push(seconds);
  }
  return median(times);
}

interface Calibration {
  readonly matmulFlopsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly launchSeconds: number;
}

function calibrate(): Calibration {
  const n = 512;
  const [a, b] = [tf.randomUniform([n, n]), tf.randomUniform([n, n])];
  const matmul = timed(() => tf.matMul(a, b));
  const size = 4 * 1024 * 1024;
  const [x, y] = [tf.fill([size], 1), tf.fill([size], 2)];
  const stream = timed(() => tf.add(x, y));
  const [p, q] = [tf.fill([1], 1), tf.fill([1], 2)];
  const launch = timed(() => tf.add(p, q));
  for (const tensor of [a, b, x, y, p, q]) tensor.dispose();
  return {
    matmulFlopsPerSecond: (2 * n * n * n) / matmul,
    // two float32 inputs read, one written
    bytesPerSecond: (3 * 4 * size) / Math.max(stream - launch, 1e-9),
    launchSeconds: launch,
  };
}

/** Module kinds across layers, as `roofline --depth 1` groups them. */
function kindOf(path: string): string {
  if (layerIndexOf(path) === undefined) return path || '(outside modules)';
  const within = withinLayer(path);
  return within === '' ? 'layers.* (residual adds)' : `layers.*.${rollUp(within, 2)}`;
}

function predictedSeconds(record: KernelRecord, calibration: Calibration): number {
  const bytes = recordBytes(record);
  const moved = Number(bytes.readWeights + bytes.readActivations + bytes.written);
  const flops = Number(record.matmul?.flops ?? record.flops ?? 0n);
  const compute = flops / calibration.matmulFlopsPerSecond;
  return Math.max(compute, moved / calibration.bytesPerSecond) + calibration.launchSeconds;
}

interface ModuleRow {
  readonly module: string;
  readonly kernels: number;
  readonly predictedMs: number;
  readonly measuredMs: number;
  readonly error: number;
}

async function main(): Promise<void> {
  const backend = await useBackend('wasm');
  const calibration = calibrate();
  const results = [];
  for (const bench of BENCH_CONFIGS) {
    const config = loadModelConfig(bench.model, bench.overrides);
    const weights = initWeights(config, { seed: 0, init: 'random' });
    const ids = tokenIds(config, bench.run, { seed: 0, init: 'random' });
    // Each kernel's time: the median over repeated traced passes, the first (warm-up) dropped.
    const perKernel: number[][] = [];
    let records: KernelRecord[] = [];
    for (let i = 0; i < REPEATS + 1; i++) {
      const trace = traceKernels(() => forward(config, weights, ids), { timeKernels: true });
      trace.result.dispose();
      records = trace.records.filter((record) => !record.nested);
      if (i === 0) continue;
      records.forEach((record, index) => (perKernel[index] ??= []).push(record.timeMs ?? 0));
    }
    ids.dispose();
    disposeWeights(weights);
    const modules = new Map<string, { kernels: number; predicted: number; measured: number }>();
    records.forEach((record, index) => {
      const module = kindOf(record.path);
      const entry = modules.get(module) ?? { kernels: 0, predicted: 0, measured: 0 };
      entry.kernels += 1;
      entry.predicted += predictedSeconds(record, calibration);
      entry.measured += median(perKernel[index] ?? [0]) / 1000;
      modules.set(module, entry);
    });
    const rows: ModuleRow[] = [...modules].map(([module, entry]) => ({
      module,
      kernels: entry.kernels,
      predictedMs: entry.predicted * 1000,
      measuredMs: entry.measured * 1000,
      error: entry.predicted / entry.measured - 1,
    }));
    const errors = rows.map((row) => Math.abs(row.error));
    const worst = rows.reduce((a, b) => (Math.abs(b.error) > Math.abs(a.error) ? b : a));
    const predicted = rows.reduce((total, row) => total + row.predictedMs, 0);
    const measured = rows.reduce((total, row) => total + row.measuredMs, 0);
    results.push({
      label: bench.label,
      predictedMs: predicted,
      measuredMs: measured,
      totalError: predicted / measured - 1,
      medianModuleError: median(errors),
      worstModule: worst.module,
      worstModuleError: worst.error,
      modules: rows,
    });
    process.stderr.write(
      `bench_roofline: ${bench.label}: predicted ${predicted.toFixed(3)} ms, measured ${measured.toFixed(3)} ms; ` +
        `median |error| per module ${(median(errors) * 100).toFixed(1)}%, worst ${worst.module} ` +
        `${(worst.error * 100).toFixed(1)}%\n`,
    );
  }
  const json = { generated: new Date().toISOString(), backend: backend.name, calibration, results };
  const docs = join(packageRoot(), 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench_roofline.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(docs, 'bench_roofline.md'), renderReport({ blocks: reportBlocks(json), json }, 'markdown'));
  process.stdout.write(`${JSON.stringify({ results: results.length })}\n`);
}

const ms = (value: number) => fixed(BigInt(Math.round(value * 1000)), 1000n, 3);
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

function reportBlocks(json: {
  backend: string;
  calibration: Calibration;
  results: {
    label: string;
    predictedMs: number;
    measuredMs: number;
    totalError: number;
    medianModuleError: number;
    worstModule: string;
    worstModuleError: number;
    modules: ModuleRow[];
  }[];
}): Block[] {
  const { calibration } = json;
  return [
    heading('The local roofline: predicted against measured kernel time'),
    paragraph(
      `Calibrated on ${json.backend} (single thread), by the tracer's kernel timers: a 512 x 512 x 512 matmul at ` +
        `${(calibration.matmulFlopsPerSecond / 1e9).toFixed(2)} GFLOP/s, a streaming Add of 4 Mi float32 values at ` +
        `${(calibration.bytesPerSecond / 1e9).toFixed(2)} GB/s (its empty-kernel time taken off), and an Add of one ` +
        `value at ${(calibration.launchSeconds * 1e6).toFixed(1)} us (the launch cost). Each kernel of a real ` +
        'forward pass is predicted as max(FLOPs / matmul rate, bytes / bandwidth) + launch, bytes by src/core/byte_rules.ts; ' +
        'measured is the median of 7 traced passes. The machine was shared and loaded: absolute times are not ' +
        'comparable across runs.',
    ),
    tableBlock({
      columns: [
        { header: 'config' },
        { header: 'predicted ms', align: 'right' },
        { header: 'measured ms', align: 'right' },
        { header: 'error', align: 'right' },
        { header: 'median |error| per module', align: 'right' },
        { header: 'worst module' },
      ],
      rows: json.results.map((result) => [
        result.label,
        ms(result.predictedMs),
        ms(result.measuredMs),
        percent(result.totalError),
        percent(result.medianModuleError),
        `${result.worstModule} ${percent(result.worstModuleError)}`,
      ]),
    }),
    ...json.results.map((result) =>
      tableBlock({
        title: result.label,
        columns: [
          { header: 'module' },
          { header: 'kernels', align: 'right' },
          { header: 'predicted ms', align: 'right' },
          { header: 'measured ms', align: 'right' },
          { header: 'error', align: 'right' },
        ],
        rows: result.modules.map((row) => [
          row.module,
          BigInt(row.kernels),
          ms(row.predictedMs),
          ms(row.measuredMs),
          percent(row.error),
        ]),
      }),
    ),
    paragraph(
      "What the model misses: one matmul rate for every shape (the calibrated square matmul is the backend's fast " +
        'path; batched, transposed attention matmuls and thin projections run slower on wasm), a bandwidth from one ' +
        'streaming Add applied to reductions, softmax and gathers, which run below it, and a launch cost that is a ' +
        'large part of every kernel of a small model.',
    ),
  ];
}

await main();
