/**
 * Integer flags (--batch, --seq, --d-model, ...) read strictly: decimal digits only, optionally
 * grouped in thousands by "_" or "," ("16,384", "1_000_000"). No signs, decimals, exponents or
 * suffixes: "1e3" or "16k" is more likely a slip than a shorthand, and a clear error costs less
 * than a silently different model.
 */
import { InputError } from '../core/errors.js';

/** A typical value per flag, so an error can show a real invocation. */
const FLAG_EXAMPLES: Readonly<Record<string, number>> = {
  '--batch': 8,
  '--seq': 1024,
  '--ctx': 16384,
  '--layers': 12,
  '--d-model': 768,
  '--heads': 12,
  '--d-ff': 3072,
  '--vocab': 50257,
  '--kv-heads': 4,
  '--vocab-multiple': 64,
  '--steps': 400000,
};

const GROUPED_DIGITS = /^(?:\d+|\d{1,3}(?:_\d{3})+|\d{1,3}(?:,\d{3})+)$/;
const PLAIN_DIGITS = /^\d+$/;

/** Parse one positive integer flag value; throws InputError naming the flag, the value and an example. */
export function parsePositiveInteger(raw: string, flag: string): number {
  const value = digitsToInteger(raw.trim(), GROUPED_DIGITS);
  if (value === 'too large') throw new InputError(tooLarge(flag, raw));
  if (value === undefined) {
    throw new InputError(`${flag}: "${raw}" is not a positive integer; use e.g. ${flag} ${example(flag)}`);
  }
  return value;
}

/** Parse a comma-separated list such as "1024,2048,4096" (commas separate items, so numbers are plain digits). */
export function parseIntegerList(raw: string, flag: string): number[] {
  const items = raw.split(',').map((item) => item.trim());
  const values: number[] = [];
  const bad: string[] = [];
  for (const item of items) {
    const value = digitsToInteger(item, PLAIN_DIGITS);
    if (value === 'too large') throw new InputError(tooLarge(flag, item));
    if (value === undefined) bad.push(`"${item}"`);
    else values.push(value);
  }
  if (bad.length > 0) {
    const base = example(flag);
    const where = items.length > 1 ? ` in "${raw}"` : '';
    const verb = bad.length > 1 ? 'are not positive integers' : 'is not a positive integer';
    throw new InputError(
      `${flag}: ${bad.join(', ')}${where} ${verb}; use e.g. ${flag} ${base},${2 * base},${4 * base}`,
    );
  }
  return values;
}

function digitsToInteger(text: string, pattern: RegExp): number | 'too large' | undefined {
  if (!pattern.test(text)) return undefined;
  const value = BigInt(text.replace(/[_,]/g, ''));
  if (value === 0n) return undefined;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return 'too large';
  return Number(value);
}

function tooLarge(flag: string, raw: string): string {
  return `${flag}: "${raw}" is too large; use at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`;
}

function example(flag: string): number {
  return FLAG_EXAMPLES[flag] ?? 16;
}
