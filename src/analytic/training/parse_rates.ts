/**
 * Exact readings of the run-time flags. A FLOP rate and a utilization are decimals a user
 * types ("19.5T", "0.5", "50%"); they are read into exact fractions so that a run time computed
 * from them has no rounding until it is shown.
 */
import { rational, type Rational } from '../../core/exact.js';
import { InputError } from '../../core/errors.js';

/** Powers of ten written after a number; case does not matter (a milli-FLOP/s is no device). */
const PREFIX_EXPONENTS: Readonly<Record<string, bigint>> = { k: 3n, m: 6n, g: 9n, t: 12n, p: 15n, e: 18n };

/** Exponents beyond this are refused before a bigint power is built from them. */
const MAX_EXPONENT = 100n;

const DECIMAL = /^(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/** "19.5", ".5", "19.5e12", "2E-3" as an exact fraction; undefined when the text is not such a number. */
export function parseExactDecimal(text: string): Rational | undefined {
  const match = DECIMAL.exec(text);
  if (!match) return undefined;
  const [, whole = '', fraction = '', exponentText] = match;
  if (whole === '' && fraction === '') return undefined;
  const exponent = exponentText === undefined ? 0n : BigInt(exponentText);
  if (exponent > MAX_EXPONENT || exponent < -MAX_EXPONENT) return undefined;
  const digits = BigInt(`${whole}${fraction}` || '0');
  const scale = exponent - BigInt(fraction.length);
  return scale >= 0n ? rational(digits * 10n ** scale) : rational(digits, 10n ** -scale);
}

const RATE = /^(.*?)\s*([kmgtpe])?\s*(?:flop(?:\/s|s)?)?$/i;

/**
 * A peak FLOP rate: "19.5T", "19.5 TFLOP/s", "19.5e12", "19500000000000". The SI prefix is a
 * power of ten (T = 10^12). Throws InputError naming the flag, the value and an example.
 */
export function parsePeakFlops(raw: string, flag: string): Rational {
  const text = raw.trim();
  const match = RATE.exec(text);
  const prefix = match?.[2];
  const value = match?.[1] === undefined ? undefined : parseExactDecimal(match[1]);
  if (value === undefined) {
    throw new InputError(
      `${flag}: "${raw}" is not a FLOP rate; use a number with an optional SI prefix, e.g. ${flag} 19.5T ` +
        `(= 19.5e12 = 19500000000000 FLOP/s)`,
    );
  }
  const scaled =
    prefix === undefined
      ? value
      : rational(value.numerator * 10n ** PREFIX_EXPONENTS[prefix.toLowerCase()]!, value.denominator);
  if (scaled.numerator === 0n)
    throw new InputError(`${flag}: "${raw}" is zero; give the device's peak, e.g. ${flag} 19.5T`);
  return scaled;
}

/**
 * Model FLOPs utilization as a fraction in (0, 1]: "0.5", ".45" or a percentage "50%".
 * A bare number above 1 is refused rather than read as a percentage: "50" might mean either.
 */
export function parseMfu(raw: string, flag: string): Rational {
  const text = raw.trim();
  const percent = text.endsWith('%');
  const number = parseExactDecimal(percent ? text.slice(0, -1).trim() : text);
  const example = `e.g. ${flag} 0.5 or ${flag} 50%`;
  if (number === undefined) throw new InputError(`${flag}: "${raw}" is not a fraction or percentage; use ${example}`);
  const fraction = percent ? rational(number.numerator, number.denominator * 100n) : number;
  if (fraction.numerator === 0n)
    throw new InputError(`${flag}: "${raw}" is zero; a run needs some utilization, use ${example}`);
  if (fraction.numerator > fraction.denominator) {
    const readsAsPercentage = !percent && fraction.numerator <= 100n * fraction.denominator;
    const hint = readsAsPercentage ? ` (for a percentage add %: ${flag} ${text}%)` : '';
    throw new InputError(`${flag}: "${raw}" is more than 100% of peak; use a fraction in (0, 1]${hint}, ${example}`);
  }
  return fraction;
}
