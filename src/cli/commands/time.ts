import { Option } from 'commander';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { parseBackendChoice, useBackend, type ActiveBackend } from '../../runtime/backend.js';
import { parseIntegerList, parsePositiveInteger } from '../../config/index.js';
import type { ModelConfig } from '../../config/model_config.js';
import { InputError } from '../../core/errors.js';
import { modelLabel } from '../../config/model_config.js';
import { calibrateLargestMatmul } from '../../timing/calibrate.js';
import { estimatePeak, readCpuInfo, simdWidthOf } from '../../timing/peak.js';
import { SILENT_PROGRESS, shouldShowProgress, startProgressBar, type ProgressBar } from '../../timing/progress.js';
import {
  assertEnoughPoints,
  parseSweepRequest,
  timeSweep,
  type SweepPointSpec,
  type SweepRequest,
} from '../../timing/sweep.js';
import { timeForward, type TimingPlan } from '../../timing/time_forward.js';
import { sweepTimingReport, timeReport } from '../../views/time_report.js';
import { exampleHelp, type CommandContext, type RegisterCommand } from '../command_context.js';
import { processIo } from '../io.js';
import {
  addFormatOption,
  addModelOverrideOptions,
  addRunShapeOptions,
  loadModel,
  MODEL_ARGUMENT_HELP,
  runShapeOf,
  writeReport,
  type FormatOptions,
  type ModelOverrideOptions,
  type RunShapeOptions,
} from '../options.js';

type TimeOptions = ModelOverrideOptions &
  FormatOptions &
  RunShapeOptions & {
    backend: string;
    runs?: string;
    warmup?: string;
    depth?: string;
    sweep?: string;
    seed?: string;
    calibrate: boolean;
    quiet?: boolean;
  };

/** Each bare-matmul calibration runs for at least this long. */
const CALIBRATION_MS = 1000;

export const registerTime: RegisterCommand = (program, context) => {
  const command = program
    .command('time')
    .description(
      'time forward passes: wall time, tokens/s, GFLOP/s against a calibrated matmul, time shares against FLOP shares',
    )
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger time tiny',
        'flopledger time gpt2-small --layers 2 --seq 128 --depth 3',
        'flopledger time tiny --sweep seq=16,32,64 --format json',
        'flopledger time tiny --sweep model=tiny,gpt2-small --seq 32',
      ),
    );
  addRunShapeOptions(command);
  command
    .option('--backend <name>', 'auto, wasm, cpu or tensorflow (meta computes nothing, so it cannot be timed)', 'auto')
    .option('--runs <n>', 'timed runs (default: as many as fill about 3 s, at least 3)')
    .option('--warmup <n>', 'untimed runs first (default: at least 2, and more until 0.5 s has passed)')
    .addOption(
      new Option('--depth <depth>', 'share of time per module path at this depth instead of per component').choices([
        '1',
        '2',
        '3',
        '4',
      ]),
    )
    .option(
      '--sweep <axis=values>',
      'time a series and fit time against FLOPs: seq=64,128,256 | batch=1,2,4 | model=tiny,gpt2-small (<model> is the first point)',
    )
    .option('--seed <n>', 'seed for weights and token ids (default 0)')
    .option('--no-calibrate', 'skip the bare-matmul calibration')
    .option('--quiet', 'no progress bar on stderr');
  addModelOverrideOptions(command);
  addFormatOption(command).action(async (model: string | undefined, options: TimeOptions) => {
    const integer = (raw: string | undefined, flag: string) =>
      raw === undefined ? undefined : parsePositiveInteger(raw, flag);
    const runs = integer(options.runs, '--runs');
    const warmup = integer(options.warmup, '--warmup');
    const seed = options.seed === undefined ? 0 : parseNonNegativeInteger(options.seed, '--seed');
    const depth = options.depth === undefined ? undefined : Number(options.depth);
    const forwardOptions = {
      ...(runs === undefined ? {} : { runs }),
      ...(warmup === undefined ? {} : { warmup }),
      seed,
    };
    const sweep = options.sweep === undefined ? undefined : parseSweepRequest(options.sweep);
    const specs = sweep === undefined ? undefined : sweepSpecs(model, sweep, options, context);
    const config = specs === undefined ? loadModel(model, options, context) : undefined;
    const run = config === undefined ? undefined : runShapeOf(config, options);

    const choice = parseBackendChoice(options.backend);
    if (choice === 'meta') {
      throw new InputError(
        '--backend meta: the meta backend keeps shapes only and computes nothing, so there is no time to measure; use --backend wasm',
      );
    }
    const backend = await useBackend(choice);
    const progress = new ProgressControl(context, options.quiet === true);
    try {
      if (specs !== undefined) {
        const result = await timeSweep(specs, backend, {
          ...forwardOptions,
          onPointStart: (index, spec) => progress.point(index, specs.length, spec.label),
          onPointPlan: (plan) => progress.planPoint(plan, specs.length),
        });
        progress.stop();
        writeReport(context, sweepTimingReport(result), options.format);
        return;
      }
      if (config === undefined || run === undefined) throw new Error('time: no model to time');
      const timing = await timeForward(config, run, backend, {
        ...forwardOptions,
        onPlan: (plan) => progress.plan(plan, options.calibrate ? 2 * CALIBRATION_MS : 0),
        onProgress: (phase, done) => progress.run(phase, done),
      });
      progress.calibrating();
      const calibration = options.calibrate
        ? await calibrateLargestMatmul(timing.records, {
            synchronous: backend.synchronousKernelTimes,
            minTimeMs: CALIBRATION_MS,
          })
        : undefined;
      progress.stop();
      writeReport(context, timeReport({ timing, calibration, peak: peakFor(backend), depth }), options.format);
    } finally {
      progress.stop();
    }
  });
};

/** "--seed 0" is a valid seed, unlike the positive-only dimension flags. */
function parseNonNegativeInteger(raw: string, flag: string): number {
  if (raw.trim() === '0') return 0;
  return parsePositiveInteger(raw, flag);
}

function peakFor(backend: ActiveBackend) {
  const cpu = readCpuInfo();
  return estimatePeak(
    cpu,
    simdWidthOf(backend.name, cpu),
    computeThreads(backend, cpu.physicalCores ?? cpu.logicalCpus),
  );
}

/** Threads the backend computes on: XNNPACK's pool on wasm, every core for libtensorflow, one for cpu. */
function computeThreads(backend: ActiveBackend, cores: number): number {
  if (backend.name === 'tensorflow') return cores;
  if (backend.name !== 'wasm') return 1;
  try {
    return Math.max(1, getThreadsCount());
  } catch {
    return 1;
  }
}

/** The points of a sweep: one config per model, or one run shape per seq or batch value. */
function sweepSpecs(
  model: string | undefined,
  sweep: SweepRequest,
  options: TimeOptions,
  context: CommandContext,
): SweepPointSpec[] {
  if (sweep.axis === 'model') {
    const models = [...new Set([model, ...sweep.values])];
    assertEnoughPoints(sweep, models.length);
    return models.map((nameOrPath) => {
      const config: ModelConfig = loadModel(nameOrPath, options, context);
      return { label: modelLabel(config), config, run: runShapeOf(config, options) };
    });
  }
  const config = loadModel(model, options, context);
  const values = [...new Set(parseIntegerList(sweep.values.join(','), `--sweep ${sweep.axis}`))];
  assertEnoughPoints(sweep, values.length);
  return values.map((value) => {
    const shape = sweep.axis === 'seq' ? { ...options, seq: String(value) } : { ...options, batch: String(value) };
    return { label: `${sweep.axis}=${value}`, config, run: runShapeOf(config, shape) };
  });
}

/**
 * The progress bar's life: it starts once the warm-up says how long the rest will take, and only
 * when that is over the threshold on a terminal without --quiet.
 */
class ProgressControl {
  private bar: ProgressBar = SILENT_PROGRESS;
  private started = false;
  private total = 0;
  private readonly isTTY: boolean;

  constructor(
    context: CommandContext,
    private readonly quiet: boolean,
  ) {
    this.isTTY = context.io === processIo && process.stderr.isTTY === true;
  }

  private start(title: string, total: number, expectedMs: number): void {
    if (this.started) return;
    this.started = true;
    this.total = total;
    if (shouldShowProgress({ isTTY: this.isTTY, quiet: this.quiet, expectedMs })) {
      this.bar = startProgressBar(process.stderr, title, total);
    }
  }

  /** One forward pass: timed runs, the traced run, then the calibration as one more step. */
  plan(plan: TimingPlan, calibrationMs: number): void {
    this.start('timing', plan.timedRuns + 2, plan.expectedMs + calibrationMs);
  }

  run(phase: string, done: number): void {
    if (phase === 'timed') this.bar.update(done, this.total, 'timed runs');
    if (phase === 'traced') this.bar.update(this.total - 1, this.total, 'traced run');
  }

  calibrating(): void {
    this.bar.update(this.total - 1, this.total, 'calibrating matmul');
  }

  /** A sweep counts points; its duration is judged from the first point's plan. */
  planPoint(plan: TimingPlan, points: number): void {
    this.start('sweep', points, plan.expectedMs * points);
  }

  point(index: number, points: number, label: string): void {
    this.bar.update(index, points, label);
  }

  stop(): void {
    this.bar.stop();
  }
}
