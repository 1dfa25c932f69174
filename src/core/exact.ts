/**
 * Exact arithmetic on counts: fractions of bigints kept exact until the edge, and the display
 * ratio of two bigints that stays accurate far past 2^53.
 */
/**
 * The fraction is taken in units of 2^-53: the integer fits a double exactly and dividing by a
 * power of two is exact, so the fraction is off by less than 2^-53 before it meets the whole part.
 */
const SCALE = 2n ** 53n;

/**
 * numerator / denominator as a number for display. The whole part and the fraction are taken
 * from the bigints separately, so counts far beyond 2^53 still give a ratio within a rounding
 * step of the exact one. Infinity for a positive numerator over 0, NaN for 0/0. Callers that
 * compare shares should cross-multiply the bigints instead of comparing these numbers.
 */
export function ratio(numerator: bigint, denominator: bigint): number {
  if (denominator === 0n) return numerator === 0n ? Number.NaN : numerator > 0n ? Infinity : -Infinity;
  if (denominator < 0n) return ratio(-numerator, -denominator);
  const whole = numerator / denominator;
  const fraction = ((numerator % denominator) * SCALE) / denominator;
  return Number(whole) + Number(fraction) / Number(SCALE);
}

/** part / whole as a display share; 0 when whole is 0 (an empty total has no shares). */
export function share(part: bigint, whole: bigint): number {
  return whole === 0n ? 0 : ratio(part, whole);
}

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
export function rational(numerator: bigint, denominator = 1n): Rational {
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
