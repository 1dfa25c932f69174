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
