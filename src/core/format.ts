/**
 * Number formatting at the edge. Counts arrive as exact bigints and are only turned into text
 * here, so every digit shown is computed from the exact value, never from a float that has
 * already lost precision (2^53 is only 9.007e15; GPT-2 XL at 16k tokens is past 1e14 FLOPs).
 *
 * Conventions:
 * - Exact form groups digits by thousands with commas: 2,127,057,600.
 * - SI form uses decimal prefixes (k = 10^3 ... ) with 4 significant digits: 4.513 TFLOP, 8.508 GB.
 * - Binary form uses IEC prefixes (Ki = 2^10 ...) with 3 significant digits: 7.92 GiB.
 * - Values below one prefix step are shown exactly with no decimals: 999 FLOP, 512 B.
 * - Rounding is half away from zero on the exact rational value.
 */

const SI_PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y', 'R', 'Q'] as const;
const IEC_PREFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi'] as const;

const SI_SIGNIFICANT_DIGITS = 4;
const BINARY_SIGNIFICANT_DIGITS = 3;

/** Exact digits grouped by thousands: 2127057600n -> "2,127,057,600". */
export function groupDigits(value: bigint): string {
  const sign = value < 0n ? '-' : '';
  const digits = (value < 0n ? -value : value).toString();
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Decimal-prefix form: formatSi(4513336524800n, 'FLOP') -> "4.513 TFLOP". */
export function formatSi(value: bigint, unit: string, significantDigits = SI_SIGNIFICANT_DIGITS): string {
  return formatWithPrefixes(value, unit, 1000n, SI_PREFIXES, significantDigits);
}

/** Binary-prefix form: formatBinary(8508230400n, 'B') -> "7.92 GiB". */
export function formatBinary(value: bigint, unit: string, significantDigits = BINARY_SIGNIFICANT_DIGITS): string {
  return formatWithPrefixes(value, unit, 1024n, IEC_PREFIXES, significantDigits);
}

/** FLOPs in SI form: "4.513 TFLOP". */
export function formatFlops(flops: bigint): string {
  return formatSi(flops, 'FLOP');
}

/** MACs in SI form: "2.257 TMAC". */
export function formatMacs(macs: bigint): string {
  return formatSi(macs, 'MAC');
}

/** A parameter count in SI form without a unit word: "2.127 G" reads as 2.127 billion. */
export function formatCountSi(count: bigint): string {
  return formatSi(count, '').trimEnd();
}

/** Bytes in decimal gigabytes (10^9), fixed to the GB unit so columns compare: "8.508 GB". */
export function formatGigabytes(bytes: bigint, decimals = 3): string {
  return `${formatFixed(bytes, 10n ** 9n, decimals)} GB`;
}

/** Bytes in binary gibibytes (2^30), fixed to the GiB unit so columns compare: "7.92 GiB". */
export function formatGibibytes(bytes: bigint, decimals = 2): string {
  return `${formatFixed(bytes, 2n ** 30n, decimals)} GiB`;
}

/** Bytes in whichever SI prefix fits: "8.508 GB". */
export function formatBytesSi(bytes: bigint): string {
  return formatSi(bytes, 'B');
}

/** Bytes in whichever IEC prefix fits: "7.92 GiB". */
export function formatBytesBinary(bytes: bigint): string {
  return formatBinary(bytes, 'B');
}

/** The exact fraction part/whole as a percentage: formatShare(1n, 3n) -> "33.3%". */
export function formatShare(part: bigint, whole: bigint, decimals = 1): string {
  if (whole === 0n) return 'n/a';
  return `${formatFixed(part * 100n, whole, decimals)}%`;
}

/** A fraction already computed as a number (0.694 -> "69.4%"). */
export function formatPercent(fraction: number, decimals = 1): string {
  if (!Number.isFinite(fraction)) return 'n/a';
  return `${(fraction * 100).toFixed(decimals)}%`;
}

/** A ratio between two exact counts: formatRatioOf(45n, 10n) -> "4.50x". */
export function formatRatioOf(numerator: bigint, denominator: bigint, decimals = 2): string {
  if (denominator === 0n) return 'n/a';
  return `${formatFixed(numerator, denominator, decimals)}x`;
}

/** numerator/denominator rounded half away from zero to `decimals` places, without floats. */
export function formatFixed(numerator: bigint, denominator: bigint, decimals: number): string {
  if (denominator === 0n) throw new RangeError('formatFixed: denominator is 0');
  if (!Number.isInteger(decimals) || decimals < 0) {
    throw new RangeError(`formatFixed: decimals must be a non-negative integer, got ${decimals}`);
  }
  const negative = numerator < 0n !== denominator < 0n && numerator !== 0n;
  const num = numerator < 0n ? -numerator : numerator;
  const den = denominator < 0n ? -denominator : denominator;
  const scale = 10n ** BigInt(decimals);
  const scaled = roundedQuotient(num * scale, den);
  const whole = scaled / scale;
  const fraction = (scaled % scale).toString().padStart(decimals, '0');
  const text = decimals === 0 ? groupDigits(whole) : `${groupDigits(whole)}.${fraction}`;
  return negative && scaled !== 0n ? `-${text}` : text;
}

function roundedQuotient(numerator: bigint, denominator: bigint): bigint {
  return (2n * numerator + denominator) / (2n * denominator);
}

function formatWithPrefixes(
  value: bigint,
  unit: string,
  step: bigint,
  prefixes: readonly string[],
  significantDigits: number,
): string {
  if (!Number.isInteger(significantDigits) || significantDigits < 1) {
    throw new RangeError(`significant digits must be a positive integer, got ${significantDigits}`);
  }
  const sign = value < 0n ? '-' : '';
  const magnitude = value < 0n ? -value : value;
  if (magnitude < step) return `${sign}${magnitude} ${unit}`;

  let exponent = 0;
  while (exponent < prefixes.length - 1 && magnitude >= step ** BigInt(exponent + 1)) exponent++;
  let divisor = step ** BigInt(exponent);
  let text = toSignificant(magnitude, divisor, significantDigits);
  // Rounding can carry into the next prefix (999,999 -> 1000 k): show it as 1.000 M instead.
  if (integerPart(text) >= step && exponent < prefixes.length - 1) {
    exponent++;
    divisor *= step;
    text = toSignificant(magnitude, divisor, significantDigits);
  }
  return `${sign}${text} ${prefixes[exponent]}${unit}`;
}

/** magnitude/divisor (>= 1) rounded to `significantDigits` significant digits, as plain decimal text. */
function toSignificant(magnitude: bigint, divisor: bigint, significantDigits: number): string {
  const wholeDigits = (magnitude / divisor).toString().length;
  const decimals = Math.max(0, significantDigits - wholeDigits);
  let text = formatFixed(magnitude, divisor, decimals).replaceAll(',', '');
  // 9.9996 at 4 digits rounds to 10.000: one digit too many, so drop a decimal.
  if (decimals > 0 && integerDigits(text) > wholeDigits) {
    text = formatFixed(magnitude, divisor, decimals - 1).replaceAll(',', '');
  }
  return text;
}

function integerDigits(text: string): number {
  return text.split('.')[0]!.length;
}

function integerPart(text: string): bigint {
  return BigInt(text.split('.')[0]!);
}
