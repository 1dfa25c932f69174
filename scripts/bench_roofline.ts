/**
 * The local roofline: this machine calibrated as a device, kernel class by kernel class
 * (src/timing/kernel_classes.ts, local_calibration.ts), then every kernel of real forward passes
 * of four configs predicted from that one calibration and set beside its measured time, per
 * module kind and per pass, with the errors. Prints one JSON line last.
 *
 * Calibration and measurement are interleaved: each round times every calibration kernel once,
 * then one traced forward pass of each config; the first round is a warm-up. Calibration points
 * and kernel times are medians over the rounds, so both see the same load on a shared machine.
 * Nothing is fitted to a config: the class lines come from bare kernels at fixed sizes.
 *
 * Run by `npm run bench` (or alone after `npm run build`: node dist/scripts/bench_roofline.js);
 * writes docs/bench_roofline.md and .json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelConfig } from '../src/config/index.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { moduleKindOf } from '../src/core/module_paths.js';
import { packageRoot } from '../src/core/package_root.js';
import { renderReport } from '../src/render/render.js';
import { fixed, heading, paragraph, tableBlock, type Block } from '../src/render/table.js';
import { disposeWeights, forward, initWeights, tokenIds, weightEntries } from '../src/model/index.js';
import { setUpRuns } from '../src/runtime/run_setup.js';
import { predictKernel, unitOf, type KernelClass } from '../src/timing/kernel_classes.js';
import {
  calibrationBenchmarks,
  calibrationRound,
  fitCalibration,
  type CalibrationSample,
  type ClassCalibration,
} from '../src/timing/local_calibration.js';
import { median } from '../src/timing/statistics.js';
import { traceKernels } from '../src/trace/tracer.js';
import { BENCH_CONFIGS } from './bench_configs.js';

/** Timed rounds after the warm-up round. */
const ROUNDS = 7;

/** A module counts in the error figures when it takes at least this share of its pass's measured time. */
const NON_TRIVIAL_SHARE = 0.02;

/** Module kinds across layers, as `roofline --depth 1` groups them. */
function kindOf(path: string): string {
  const kind = moduleKindOf(path);
  return kind === 'layers.*' ? 'layers.* (residual adds)' : kind || '(outside modules)';
}

interface ModuleRow {
  readonly module: string;
  readonly kernels: number;
  readonly predictedMs: number;
  readonly measuredMs: number;
  readonly error: number;
  readonly nonTrivial: boolean;
}

interface ClassRow {
  readonly kernelClass: KernelClass;
  readonly kernels: number;
  readonly work: number;
  readonly predictedMs: number;
  readonly measuredMs: number;
}

interface ConfigResult {
  readonly label: string;
  readonly predictedMs: number;
  readonly measuredMs: number;
  readonly passError: number;
  readonly nonTrivialModules: number;
  readonly withinQuarter: number;
  readonly medianModuleError: number;
  readonly worstModule: string;
  readonly worstModuleError: number;
  readonly unclassified: readonly string[];
  readonly modules: readonly ModuleRow[];
  readonly classes: readonly ClassRow[];
}

function predictConfig(
  label: string,
  records: readonly KernelRecord[],
  timesMs: readonly number[][],
  calibration: readonly ClassCalibration[],
): ConfigResult {
  const fits = Object.fromEntries(calibration.map((entry) => [entry.kernelClass, entry.fit]));
  const modules = new Map<string, { kernels: number; predicted: number; measured: number }>();
  const classes = new Map<KernelClass, { kernels: number; work: number; predicted: number; measured: number }>();
  const unclassified = new Set<string>();
  records.forEach((record, index) => {
    const prediction = predictKernel(record, fits);
    if (!prediction.classified) unclassified.add(record.kernel);
    const measured = median(timesMs[index] ?? [0]) / 1000;
    const module = modules.get(kindOf(record.path)) ?? { kernels: 0, predicted: 0, measured: 0 };
    module.kernels += 1;
    module.predicted += prediction.seconds;
    module.measured += measured;
    modules.set(kindOf(record.path), module);
    const byClass = classes.get(prediction.kernelClass) ?? { kernels: 0, work: 0, predicted: 0, measured: 0 };
    byClass.kernels += 1;
    byClass.work += prediction.work;
    byClass.predicted += prediction.seconds;
    byClass.measured += measured;
    classes.set(prediction.kernelClass, byClass);
  });
  const measuredPass = [...modules.values()].reduce((total, entry) => total + entry.measured, 0);
  const predictedPass = [...modules.values()].reduce((total, entry) => total + entry.predicted, 0);
  const rows: ModuleRow[] = [...modules].map(([module, entry]) => ({
    module,
    kernels: entry.kernels,
    predictedMs: entry.predicted * 1000,
    measuredMs: entry.measured * 1000,
    error: entry.predicted / entry.measured - 1,
    nonTrivial: entry.measured >= NON_TRIVIAL_SHARE * measuredPass,
  }));
  const counted = rows.filter((row) => row.nonTrivial);
  const errors = counted.map((row) => Math.abs(row.error));
  const worst = counted.reduce((a, b) => (Math.abs(b.error) > Math.abs(a.error) ? b : a));
  return {
    label,
    predictedMs: predictedPass * 1000,
    measuredMs: measuredPass * 1000,
    passError: predictedPass / measuredPass - 1,
    nonTrivialModules: counted.length,
    withinQuarter: errors.filter((error) => error <= 0.25).length,
    medianModuleError: median(errors),
    worstModule: worst.module,
    worstModuleError: worst.error,
    unclassified: [...unclassified],
    modules: rows,
    classes: [...classes].map(([kernelClass, entry]) => ({
      kernelClass,
      kernels: entry.kernels,
      work: entry.work,
      predictedMs: entry.predicted * 1000,
      measuredMs: entry.measured * 1000,
    })),
  };
}

async function main(): Promise<void> {
  const configs = BENCH_CONFIGS.map((bench) => ({ bench, config: loadModelConfig(bench.model, bench.overrides) }));
  // Every config's weights stay alive across the rounds (so each pass finds its packed weights
  // as a model in use would): the guard holds their sum, and the largest pass, to the budget.
  const { backend, seed } = await setUpRuns(
    { backend: 'wasm' },
    'timing',
    configs.map(({ bench, config }) => ({ config, run: bench.run })),
    'together',
  );
  const benchmarks = calibrationBenchmarks();
  const runs = configs.map(({ bench, config }) => {
    const weights = initWeights(config, { seed, init: 'random' });
    const ids = tokenIds(config, bench.run, { seed, init: 'random' });
    const weightTensors = weightEntries(weights).map((entry) => entry.tensor);
    return { bench, config, weights, weightTensors, ids, records: [] as KernelRecord[], timesMs: [] as number[][] };
  });
  const rounds: CalibrationSample[][] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const samples = calibrationRound(benchmarks);
    if (round > 0) rounds.push(samples);
    for (const run of runs) {
      // Weights marked, so a product reading one is told from one whose operand the pass made.
      const trace = traceKernels(() => forward(run.config, run.weights, run.ids), {
        timeKernels: true,
        weights: run.weightTensors,
      });
      trace.result.dispose();
      run.records = trace.records.filter((record) => !record.nested);
      if (round > 0) run.records.forEach((record, index) => (run.timesMs[index] ??= []).push(record.timeMs ?? 0));
    }
    process.stderr.write(`bench_roofline: round ${round} of ${ROUNDS} done\n`);
  }
  for (const run of runs) {
    run.ids.dispose();
    disposeWeights(run.weights);
  }
  const calibration = fitCalibration(benchmarks, rounds);
  const results = runs.map((run) => predictConfig(run.bench.label, run.records, run.timesMs, calibration));
  for (const result of results) {
    process.stderr.write(
      `bench_roofline: ${result.label}: predicted ${result.predictedMs.toFixed(3)} ms, measured ` +
        `${result.measuredMs.toFixed(3)} ms (${percent(result.passError)}); median |error| per module ` +
        `${percent(result.medianModuleError)}, worst ${result.worstModule} ${percent(result.worstModuleError)}\n`,
    );
  }
  const json = { generated: new Date().toISOString(), backend: backend.name, rounds: ROUNDS, calibration, results };
  const docs = join(packageRoot(), 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench_roofline.json'), JSON.stringify(json, jsonNumber, 2) + '\n');
  writeFileSync(join(docs, 'bench_roofline.md'), renderReport({ blocks: reportBlocks(json), json }, 'markdown'));
  process.stdout.write(`${JSON.stringify({ results: results.length })}\n`);
}

/** JSON has no Infinity: a class whose time did not grow with work writes its rate as null. */
function jsonNumber(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

const ms = (value: number) => fixed(BigInt(Math.round(value * 1000)), 1000n, 3);
const percent = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;

function rateText(entry: ClassCalibration): string {
  if (!Number.isFinite(entry.fit.rate)) return 'flat';
  return unitOf(entry.kernelClass) === 'FLOP'
    ? `${(entry.fit.rate / 1e9).toFixed(2)} GFLOP/s`
    : `${(entry.fit.rate / 1e9).toFixed(2)} GB/s`;
}

function reportBlocks(json: {
  backend: string;
  rounds: number;
  calibration: readonly ClassCalibration[];
  results: readonly ConfigResult[];
}): Block[] {
  const worstPass = Math.max(...json.results.map((result) => Math.abs(result.passError)));
  const counted = json.results.reduce((total, result) => total + result.nonTrivialModules, 0);
  const within = json.results.reduce((total, result) => total + result.withinQuarter, 0);
  return [
    heading('The local roofline: predicted against measured kernel time'),
    paragraph(
      `This machine calibrated as a device on ${json.backend} (single thread): bare kernels of each class at three ` +
        "fixed sizes, timed by the tracer's kernel timers, and a line time = launch + work / rate fitted per class " +
        '(work: FLOPs for matmuls, bytes read and written for the rest, by src/core/byte_rules.ts). Every kernel of ' +
        "a real forward pass of each config is predicted from its class line; measured is each kernel's median over " +
        `${json.rounds} traced passes. Calibration and passes ran interleaved, round by round, on a shared and ` +
        'loaded machine: absolute times are not comparable across runs, only predicted against measured within one.',
    ),
    paragraph(
      `Result: every pass within ${(worstPass * 100).toFixed(1)}% of its measured time; ${within} of ${counted} ` +
        `modules with at least ${NON_TRIVIAL_SHARE * 100}% of their pass's time within 25%.`,
    ),
    tableBlock({
      title: 'Calibration: one line per kernel class',
      columns: [
        { header: 'class' },
        { header: 'launch us', align: 'right' },
        { header: 'rate', align: 'right' },
        { header: 'calibrated on' },
      ],
      rows: json.calibration.map((entry) => [
        entry.kernelClass,
        (entry.fit.launchSeconds * 1e6).toFixed(1),
        rateText(entry),
        entry.points.map((point) => `${point.label}: ${(point.seconds * 1e3).toFixed(3)} ms`).join('; '),
      ]),
    }),
    tableBlock({
      title: 'Per pass',
      columns: [
        { header: 'config' },
        { header: 'predicted ms', align: 'right' },
        { header: 'measured ms', align: 'right' },
        { header: 'error', align: 'right' },
        { header: 'modules within 25%', align: 'right' },
        { header: 'median |error| per module', align: 'right' },
        { header: 'worst module' },
      ],
      rows: json.results.map((result) => [
        result.label,
        ms(result.predictedMs),
        ms(result.measuredMs),
        percent(result.passError),
        `${result.withinQuarter} of ${result.nonTrivialModules}`,
        percent(result.medianModuleError).replace('+', ''),
        `${result.worstModule} ${percent(result.worstModuleError)}`,
      ]),
      notes: [
        `Module errors count modules with at least ${NON_TRIVIAL_SHARE * 100}% of their pass's measured time.` +
          (json.results.some((result) => result.unclassified.length > 0)
            ? ` Kernels no class covers, predicted as elementwise: ${[...new Set(json.results.flatMap((result) => result.unclassified))].join(', ')}.`
            : ' Every kernel fell in a calibrated class.'),
      ],
    }),
    ...json.results.flatMap((result) => [
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
          row.nonTrivial ? row.module : `${row.module} (under ${NON_TRIVIAL_SHARE * 100}%)`,
          BigInt(row.kernels),
          ms(row.predictedMs),
          ms(row.measuredMs),
          percent(row.error),
        ]),
      }),
      tableBlock({
        title: `${result.label}, by kernel class`,
        columns: [
          { header: 'class' },
          { header: 'kernels', align: 'right' },
          { header: 'predicted ms', align: 'right' },
          { header: 'measured ms', align: 'right' },
          { header: 'error', align: 'right' },
        ],
        rows: result.classes.map((row) => [
          row.kernelClass,
          BigInt(row.kernels),
          ms(row.predictedMs),
          ms(row.measuredMs),
          percent(row.predictedMs / row.measuredMs - 1),
        ]),
      }),
    ]),
  ];
}

await main();
