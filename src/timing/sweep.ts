/**
 * Timing a series of forward passes (longer sequences, bigger batches, other models) and
 * fitting time against FLOPs: the slope is the marginal cost of a FLOP (its inverse the rate
 * the backend sustains as work grows), the intercept the fixed cost of a pass, and the fraction
 * of kernel time outside matmuls says how much of the line is not matmul work at all.
 */
import type { ActiveBackend } from '../runtime/backend.js';
import { modelLabel, type ModelConfig, type RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import type { ModelShape } from '../runtime/run_options.js';
import { leastSquares, type LinearFit } from './statistics.js';
import type { ForwardTiming } from './time_forward.js';

export const SWEEP_AXES = ['seq', 'batch', 'model'] as const;
export type SweepAxis = (typeof SWEEP_AXES)[number];

export interface SweepRequest {
  readonly axis: SweepAxis;
  /** Raw values: integers for seq and batch, preset names or config paths for model. */
  readonly values: readonly string[];
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

/**
 * The points of a sweep: each model once, `firstModel` first, or the first model at each seq or
 * batch value once. The caller loads models and fits run shapes, as it knows the override flags
 * and the context rule; values are parsed here, each bad one refused naming --sweep.
 */
export function sweepPoints(
  request: SweepRequest,
  firstModel: string | undefined,
  loadModel: (nameOrPath: string | undefined) => ModelConfig,
  shapeOf: (config: ModelConfig, axis: 'seq' | 'batch' | undefined, value: number | undefined) => ModelShape,
): SweepPointSpec[] {
  if (request.axis === 'model') {
    const models = [...new Set([firstModel, ...request.values])];
    assertEnoughPoints(request, models.length);
    return models.map((nameOrPath) => {
      const point = shapeOf(loadModel(nameOrPath), undefined, undefined);
      return { label: modelLabel(point.config), ...point };
    });
  }
  const axis = request.axis;
  const config = loadModel(firstModel);
  const values = [...new Set(request.values.map((text) => positiveInteger(request, text)))];
  assertEnoughPoints(request, values.length);
  return values.map((value) => ({ label: `${axis}=${value}`, ...shapeOf(config, axis, value) }));
}

/** A seq or batch value; the CLI's list parser has read them, a library caller may not have. */
function positiveInteger(request: SweepRequest, text: string): number {
  const value = Number(text);
  if (/^\d+$/.test(text) && Number.isSafeInteger(value) && value > 0) return value;
  throw new InputError(
    `--sweep ${request.axis}=${request.values.join(',')}: "${text}" is not a positive integer; use e.g. --sweep ${SWEEP_EXAMPLES[request.axis]}`,
  );
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
