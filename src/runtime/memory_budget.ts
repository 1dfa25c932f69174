/**
 * Memory budgets for real runs (--max-memory, --memory). Sizes are exact bigints of bytes;
 * "80GB" is 80 * 10^9 bytes (SI, as device makers quote them) and "80GiB" is 80 * 2^30.
 */
import os from 'node:os';
import { InputError } from '../core/errors.js';

const UNIT_BYTES: Readonly<Record<string, bigint>> = {
  b: 1n,
  kb: 10n ** 3n,
  mb: 10n ** 6n,
  gb: 10n ** 9n,
  tb: 10n ** 12n,
  kib: 2n ** 10n,
  mib: 2n ** 20n,
  gib: 2n ** 30n,
  tib: 2n ** 40n,
};

const SIZE = /^(\d+)(?:\.(\d+))?\s*([kmgt]i?b|b)$/i;

/** Parse "80GB", "7.5GiB", "512MiB", "1000000B" into bytes; throws InputError naming the flag. */
export function parseByteSize(raw: string, flag: string): bigint {
  const match = SIZE.exec(raw.trim());
  if (!match) {
    throw new InputError(
      `${flag}: "${raw}" is not a size; use a number with a unit, e.g. ${flag} 8GB or ${flag} 512MiB`,
    );
  }
  const [, whole = '0', fraction = '', unit = 'b'] = match;
  const unitBytes = UNIT_BYTES[unit.toLowerCase()]!;
  const scale = 10n ** BigInt(fraction.length);
  // Exact: (whole.fraction * unit) rounded down to a whole byte.
  const bytes = ((BigInt(whole) * scale + BigInt(fraction || '0')) * unitBytes) / scale;
  if (bytes === 0n) throw new InputError(`${flag}: "${raw}" is zero; give a positive size, e.g. ${flag} 8GB`);
  return bytes;
}

/**
 * The default budget for a real (non-meta) run: half of the memory the OS reports free, so a
 * run the machine cannot hold is refused up front instead of swapping or being killed.
 */
export function defaultRealRunBudget(): bigint {
  return BigInt(Math.floor(os.freemem() / 2));
}
