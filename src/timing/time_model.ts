/**
 * Timing a model the way every other real-compute run starts: through setUpRun (the run
 * checked, the backend started, the memory guard holding the whole timing run, calibration
 * included, to the budget before a tensor exists), with progress on stderr when it runs long.
 * Then warm-up, timed and traced passes (time_forward.ts), the bare-matmul calibration of the
 * largest matmul (calibrate.ts) and the machine's theoretical peak (peak.ts): data the views
 * turn into the `time` report.
 */
import { modelLabel, type ModelConfig, type RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import type { ActiveBackend } from '../runtime/backend.js';
import { RunProgress } from '../runtime/progress.js';
import type { ModelRunOptions, RunOptions } from '../runtime/run_options.js';
import { setUpRuns } from '../runtime/run_setup.js';
import { nonMatmulTimeFraction } from './attribution.js';
import { calibrateLargestMatmul, type ForwardCalibration } from './calibrate.js';
import { peakOfBackend, type PeakEstimate } from './peak.js';
import { fitTimeAgainstFlops, type SweepPointSpec, type TimedPoint, type TimingSweep } from './sweep.js';
import { timeForward, type ForwardTiming, type TimeForwardOptions, type TimingPlan } from './time_forward.js';

/** Each bare-matmul calibration runs for at least this long (two shapes at most). */
const CALIBRATION_MS = 1000;

/** How forward passes are timed, beyond how any run is carried out. */
export interface TimingOptions extends RunOptions {
  /** Timed runs (default: as many as fill about 3 s, at least 3). */
  readonly runs?: number;
  /** Untimed runs first (default: at least 2, and more until 0.5 s has passed). */
  readonly warmup?: number;
  /** How long the timed runs take by default, in ms (default 3000). */
  readonly targetMs?: number;
  /** Time the largest matmul alone too, for an efficiency (default true). */
  readonly calibrate?: boolean;
}

export interface ModelTimingOptions extends TimingOptions, ModelRunOptions {}

/** One model timed: its passes, its largest matmul alone, and the machine's theoretical peak. */
export interface ModelTiming {
  readonly timing: ForwardTiming;
  /** Undefined when calibration was not asked for or the trace has no matmul. */
  readonly calibration: ForwardCalibration | undefined;
  /** Undefined when the CPU clock cannot be read. */
  readonly peak: PeakEstimate | undefined;
}

/** The meta backend computes nothing: there is no time to measure, so it is refused before it starts. */
function refuseMeta(options: RunOptions): void {
  if (options.backend !== 'meta') return;
  throw new InputError(
    '--backend meta: the meta backend keeps shapes only and computes nothing, so there is no time to measure; ' +
      'use --backend wasm',
  );
}

function title(config: ModelConfig, run: RunShape, backend: ActiveBackend): string {
  return `timing ${modelLabel(config)} (batch ${run.batch} x ${run.seq} tokens) on ${backend.name}`;
}

function forwardOptions(options: TimingOptions, seed: number): TimeForwardOptions {
  return {
    seed,
    init: 'random',
    ...(options.runs === undefined ? {} : { runs: options.runs }),
    ...(options.warmup === undefined ? {} : { warmup: options.warmup }),
    ...(options.targetMs === undefined ? {} : { targetMs: options.targetMs }),
  };
}

/** Time forward passes of one model, calibrate its largest matmul and estimate the peak. */
export async function timeModel(options: ModelTimingOptions): Promise<ModelTiming> {
  refuseMeta(options);
  const { config, run } = options;
  const { backend, seed } = await setUpRuns(options, 'timing', [options]);
  const calibrate = options.calibrate !== false;
  const progress = new RunProgress(options.progress, title(config, run, backend));
  try {
    // Steps: the timed runs, the traced run, the calibration.
    let steps = 1;
    const timing = await timeForward(config, run, backend, {
      ...forwardOptions(options, seed),
      onPlan: (plan: TimingPlan) => {
        steps = plan.timedRuns + 2;
        // The calibration's length is unknown until its matmul has run; it counts as a step.
        progress.expect(plan.expectedMs);
      },
      onWeightTensor: progress.makingWeights(steps),
      onProgress: (phase, done, total) => {
        if (phase === 'warm-up') progress.update(0, steps, `warm-up pass ${done}`);
        else if (phase === 'timed') progress.update(done, steps, `timed run ${done} of ${total}`);
        else progress.update(steps - 1, steps, 'calibrating the largest matmul');
      },
    });
    const calibration = calibrate
      ? await calibrateLargestMatmul(timing.records, {
          synchronous: backend.synchronousKernelTimes,
          minTimeMs: CALIBRATION_MS,
          onCall: () => progress.update(steps - 1, steps, 'calibrating the largest matmul'),
        })
      : undefined;
    return { timing, calibration, peak: peakOfBackend(backend) };
  } finally {
    progress.finish();
  }
}

/**
 * Time every point in order and fit time against FLOPs. Every point is held to the memory budget
 * before the first one runs, so a series is never refused half way.
 */
export async function timeSweep(points: readonly SweepPointSpec[], options: TimingOptions): Promise<TimingSweep> {
  refuseMeta(options);
  const { backend, seed } = await setUpRuns(options, 'timing', points);
  const progress = new RunProgress(
    options.progress,
    `timing ${points.length} points (${points.map((point) => point.label).join(', ')}) on ${backend.name}`,
  );
  try {
    const timed: TimedPoint[] = [];
    for (const [index, point] of points.entries()) {
      progress.update(index, points.length, point.label);
      const timing = await timeForward(point.config, point.run, backend, {
        ...forwardOptions(options, seed),
        // The first point's plan says how long the whole series will take.
        onPlan: (plan) => {
          if (index === 0) progress.expect(plan.expectedMs * points.length);
        },
        onWeightTensor: (made, total) =>
          progress.update(index, points.length, `${point.label}, making weights (${made} of ${total} tensors)`),
        onProgress: () => progress.update(index, points.length, point.label),
      });
      timed.push({ label: point.label, timing, nonMatmulTimeFraction: nonMatmulTimeFraction(timing.records) });
    }
    const fit = fitTimeAgainstFlops(
      timed.map((point) => ({ flops: point.timing.matmulFlops, medianMs: point.timing.summary.median })),
    );
    return { backend, points: timed, fit };
  } finally {
    progress.finish();
  }
}
