import { rational, type Rational } from '../../core/exact.js';

const SECONDS_PER_DAY = 86_400n;

export interface RunTimeInput {
  /** FLOPs of one training step. */
  readonly stepFlops: bigint;
  readonly steps: bigint | number;
  /** The device's peak FLOP/s, exact (e.g. 39/2 * 10^12 for 19.5 TFLOP/s). */
  readonly peakFlopsPerSecond: Rational;
  /** Model FLOPs utilization: the fraction of peak the run achieves, in (0, 1]. */
  readonly mfu: Rational;
}

export interface RunTime {
  /** peak * mfu. */
  readonly achievedFlopsPerSecond: Rational;
  readonly secondsPerStep: Rational;
  /** steps * stepFlops / (peak * mfu), exact. */
  readonly seconds: Rational;
  readonly days: Rational;
}

/** Wall-clock time of `steps` training steps at a sustained fraction `mfu` of a device's peak. */
export function runTime({ stepFlops, steps, peakFlopsPerSecond, mfu }: RunTimeInput): RunTime {
  if (peakFlopsPerSecond.numerator <= 0n) throw new RangeError('runTime: peak FLOP/s must be positive');
  if (mfu.numerator <= 0n || mfu.numerator > mfu.denominator) throw new RangeError('runTime: MFU must be in (0, 1]');
  if (typeof steps === 'number' && !Number.isSafeInteger(steps))
    throw new RangeError(`runTime: steps (${steps}) must be an integer`);
  const stepCount = BigInt(steps);
  if (stepFlops < 0n || stepCount < 0n) throw new RangeError('runTime: step FLOPs and steps must not be negative');
  const achieved = rational(
    peakFlopsPerSecond.numerator * mfu.numerator,
    peakFlopsPerSecond.denominator * mfu.denominator,
  );
  const secondsPerStep = rational(stepFlops * achieved.denominator, achieved.numerator);
  const seconds = rational(stepCount * secondsPerStep.numerator, secondsPerStep.denominator);
  const days = rational(seconds.numerator, seconds.denominator * SECONDS_PER_DAY);
  return { achievedFlopsPerSecond: achieved, secondsPerStep, seconds, days };
}
