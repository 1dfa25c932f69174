/**
 * The arithmetic of timing: summaries of repeated measurements and a straight-line fit. Pure
 * functions of numbers, so the tests can check them on data whose answer is known.
 *
 * Conventions:
 * - The median of an even number of samples is the mean of the two middle ones.
 * - The fit is ordinary least squares of y on x (x is exact, y is measured): slope, intercept
 *   and r^2 = 1 - SS_residual / SS_total. When every y is equal, SS_total is 0 and the
 *   horizontal line through them leaves no residual, so r^2 is 1.
 */

export interface SampleSummary {
  readonly count: number;
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly mean: number;
}

/** Median of `values` (not modified); throws on an empty list, which has none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median: no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const upper = sorted[middle]!;
  if (sorted.length % 2 === 1) return upper;
  return (sorted[middle - 1]! + upper) / 2;
}

/** Count, min, median, max and mean of `values`; throws on an empty list. */
export function summarize(values: readonly number[]): SampleSummary {
  if (values.length === 0) throw new RangeError('summarize: no samples');
  let min = Infinity;
  let max = -Infinity;
  let total = 0;
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`summarize: sample ${value} is not a finite number`);
    min = Math.min(min, value);
    max = Math.max(max, value);
    total += value;
  }
  return { count: values.length, min, median: median(values), max, mean: total / values.length };
}

export interface LinearFit {
  /** dy/dx. */
  readonly slope: number;
  /** y at x = 0. */
  readonly intercept: number;
  /** Share of the variance of y the line explains, in [0, 1] for a least-squares line. */
  readonly r2: number;
  /** Number of points fitted. */
  readonly count: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/**
 * Least-squares line y = slope * x + intercept through `points`. Needs at least two distinct x;
 * x is centred before summing so large x (FLOP counts near 1e12) lose no precision.
 */
export function leastSquares(points: readonly Point[]): LinearFit {
  if (points.length < 2) throw new RangeError(`leastSquares: need at least 2 points, got ${points.length}`);
  const n = points.length;
  const meanX = points.reduce((total, point) => total + point.x, 0) / n;
  const meanY = points.reduce((total, point) => total + point.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const { x, y } of points) {
    const dx = x - meanX;
    const dy = y - meanY;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) throw new RangeError('leastSquares: every point has the same x, so no line is determined');
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  let residual = 0;
  for (const { x, y } of points) {
    const error = y - (slope * x + intercept);
    residual += error * error;
  }
  const r2 = syy === 0 ? 1 : Math.max(0, 1 - residual / syy);
  return { slope, intercept, r2, count: n };
}

/**
 * Above this max/min, the runs of one timing disagree too much for its median to be read as the
 * backend's speed: the machine was busy, or the backend's own timing is unsteady (a threaded
 * build waiting for a core). Reports warn before they show any rate.
 */
export const LARGE_SPREAD_RATIO = 1.5;

/** max / min of the samples: 1 when every run took the same time. */
export function spreadRatio(summary: SampleSummary): number {
  return summary.min > 0 ? summary.max / summary.min : Infinity;
}

export function isSpreadLarge(summary: SampleSummary): boolean {
  return spreadRatio(summary) > LARGE_SPREAD_RATIO;
}
