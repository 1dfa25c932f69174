/**
 * Timing a series of forward passes (longer sequences, bigger batches, other models) and
 * fitting time against FLOPs: the slope is the marginal cost of a FLOP (its inverse the rate
 * the backend sustains as work grows), the intercept the fixed cost of a pass, and the fraction
 * of kernel time outside matmuls says how much of the line is not matmul work at all.
 */
import type { ActiveBackend } from '../runtime/backend.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { nonMatmulTimeFraction } from './attribution.js';
import { leastSquares, type LinearFit } from './statistics.js';
import { timeForward, type ForwardTiming, type TimeForwardOptions } from './time_forward.js';

export const SWEEP_AXES = ['seq', 'batch', 'model'] as const;
export type SweepAxis = (typeof SWEEP_AXES)[number];

export interface SweepRequest {
  readonly axis: SweepAxis;
  /** Raw values: integers for seq and batch, preset names or config paths for model. */
  readonly values: readonly string[];
}

/** "seq=64,128,256" -> { axis: 'seq', values: ['64', '128', '256'] }. Throws InputError. */
export function parseSweepRequest(raw: string): SweepRequest {
  const equals = raw.indexOf('=');
  const axis = raw.slice(0, equals).trim();
  const values = raw
    .slice(equals + 1)
    .split(',')
    .map((value) => value.trim())
    .filter((value) => value !== '');
  if (equals < 0 || !(SWEEP_AXES as readonly string[]).includes(axis)) {
    throw new InputError(
      `--sweep: "${raw}" must be AXIS=V1,V2,... with AXIS one of ${SWEEP_AXES.join(', ')}; ` +
        'use e.g. --sweep seq=64,128,256 or --sweep model=tiny,gpt2-small',
    );
  }
  if (values.length === 0)
    throw new InputError(`--sweep: "${raw}" has no values; use e.g. --sweep ${SWEEP_EXAMPLES[axis as SweepAxis]}`);
  return { axis: axis as SweepAxis, values };
}

const SWEEP_EXAMPLES: Readonly<Record<SweepAxis, string>> = {
  seq: 'seq=64,128,256',
  batch: 'batch=1,2,4',
  model: 'model=tiny,gpt2-small',
};

/** A fit needs two points; throws InputError naming the request otherwise. */
export function assertEnoughPoints(request: SweepRequest, points: number): void {
  if (points >= 2) return;
  throw new InputError(
    `--sweep ${request.axis}=${request.values.join(',')} gives ${points} point; a fit needs at least 2, e.g. --sweep ${SWEEP_EXAMPLES[request.axis]}`,
  );
}

/** One point to time. */
export interface SweepPointSpec {
  readonly label: string;
  readonly config: ModelConfig;
  readonly run: RunShape;
}

export interface TimedPoint {
  readonly label: string;
  readonly timing: ForwardTiming;
  /** Fraction of the traced run's kernel time spent outside matmul kernels. */
  readonly nonMatmulTimeFraction: number;
}

export interface TimeFlopsFit {
  /** Milliseconds per GFLOP of matmul work. */
  readonly msPerGflop: number;
  /** Fixed cost of a pass in ms (time at zero FLOPs). */
  readonly interceptMs: number;
  readonly r2: number;
  /** 1 / slope, in GFLOP/s: the rate at which extra work is done. */
  readonly marginalGflops: number;
  readonly count: number;
}

export interface TimingSweep {
  readonly backend: ActiveBackend;
  readonly points: readonly TimedPoint[];
  /** Undefined when fewer than two points differ in FLOPs. */
  readonly fit: TimeFlopsFit | undefined;
}

/** Median time (ms) against matmul FLOPs (x in GFLOP), least squares; undefined if no line is determined. */
export function fitTimeAgainstFlops(points: readonly { flops: bigint; medianMs: number }[]): TimeFlopsFit | undefined {
  const xy = points.map((point) => ({ x: Number(point.flops) / 1e9, y: point.medianMs }));
  if (new Set(xy.map((point) => point.x)).size < 2) return undefined;
  const fit: LinearFit = leastSquares(xy);
  return {
    msPerGflop: fit.slope,
    interceptMs: fit.intercept,
    r2: fit.r2,
    marginalGflops: fit.slope > 0 ? 1000 / fit.slope : NaN,
    count: fit.count,
  };
}

export interface TimeSweepOptions extends Omit<TimeForwardOptions, 'onProgress' | 'onPlan'> {
  /** Called before each point is timed (index from 0). */
  readonly onPointStart?: (index: number, spec: SweepPointSpec) => void;
  /** Forwarded to each point's timeForward. */
  readonly onPointProgress?: TimeForwardOptions['onProgress'];
  readonly onPointPlan?: TimeForwardOptions['onPlan'];
}

/** Time every point in order on the active backend and fit time against FLOPs. */
export async function timeSweep(
  specs: readonly SweepPointSpec[],
  backend: ActiveBackend,
  options: TimeSweepOptions = {},
): Promise<TimingSweep> {
  const { onPointStart, onPointProgress, onPointPlan, ...forwardOptions } = options;
  const points: TimedPoint[] = [];
  for (const [index, spec] of specs.entries()) {
    onPointStart?.(index, spec);
    const timing = await timeForward(spec.config, spec.run, backend, {
      ...forwardOptions,
      ...(onPointProgress === undefined ? {} : { onProgress: onPointProgress }),
      ...(onPointPlan === undefined ? {} : { onPlan: onPointPlan }),
    });
    points.push({ label: spec.label, timing, nonMatmulTimeFraction: nonMatmulTimeFraction(timing.records) });
  }
  const fit = fitTimeAgainstFlops(
    points.map((point) => ({ flops: point.timing.matmulFlops, medianMs: point.timing.summary.median })),
  );
  return { backend, points, fit };
}
