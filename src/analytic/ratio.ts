/** Fractional digits kept when an exact bigint ratio becomes a display number. */
const SCALE = 10n ** 12n;

/**
 * numerator / denominator as a number for display. The whole part and a 12-digit fraction are
 * taken exactly from the bigints, so counts far beyond 2^53 still give a correctly rounded-down
 * ratio. Infinity for a positive numerator over 0, NaN for 0/0: callers that compare shares
 * should cross-multiply the bigints instead.
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
