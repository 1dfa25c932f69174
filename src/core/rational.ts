import { ratio } from './ratio.js';

/**
 * An exact fraction of two bigints, kept in lowest terms with a positive denominator. Per-token
 * counts (a batch total divided by B*T) and the ratios between two counts are fractions; they
 * stay exact until the report formats them.
 */
export interface Rational {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** numerator/denominator in lowest terms; throws on a zero denominator (no count is ever divided by 0). */
export function rational(numerator: bigint, denominator: bigint = 1n): Rational {
  if (denominator === 0n) throw new RangeError(`rational: ${numerator}/0 has no value`);
  const sign = denominator < 0n ? -1n : 1n;
  const divisor = gcd(numerator, denominator) || 1n;
  return { numerator: (sign * numerator) / divisor, denominator: (sign * denominator) / divisor };
}

/** a / b, exactly. */
export function divideRationals(a: Rational, b: Rational): Rational {
  return rational(a.numerator * b.denominator, a.denominator * b.numerator);
}

/** The nearest double, for display and charts only. */
export function rationalToNumber(value: Rational): number {
  return ratio(value.numerator, value.denominator);
}

/** The bigint a rational equals, or undefined when it is not whole. */
export function wholeValue(value: Rational): bigint | undefined {
  return value.denominator === 1n ? value.numerator : undefined;
}
