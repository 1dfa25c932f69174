/**
 * Table cells with numbers inside words. Each keeps its numbers exact (render/table.ts's
 * TextCell and FixedCell), so a text table groups their digits and CSV writes them plain.
 */
import type { RunShape } from '../config/model_config.js';
import { cellText, fixed, type Cell } from '../render/table.js';

const GIGABYTE = 10n ** 9n;
const GIBIBYTE = 2n ** 30n;

/** "1 x 1,024 tokens" (batch x sequence length). */
export const runCell = (run: RunShape): Cell => cellText`${run.batch} x ${run.seq} tokens`;

/** numerator / denominator as "4.50x"; "n/a" when the denominator is 0. */
export function ratioCell(numerator: bigint, denominator: bigint, decimals = 2): Cell {
  return denominator === 0n ? 'n/a' : cellText`${fixed(numerator, denominator, decimals)}x`;
}

/** Bytes in GB (10^9), fixed to the unit so a column compares: "8.508 GB". */
export const gigabytesCell = (bytes: bigint, decimals = 3): Cell => cellText`${fixed(bytes, GIGABYTE, decimals)} GB`;

/** Bytes in GiB (2^30): "7.92 GiB". */
export const gibibytesCell = (bytes: bigint, decimals = 2): Cell => cellText`${fixed(bytes, GIBIBYTE, decimals)} GiB`;

/** A difference with its sign: "+1,234", "-56", "0". */
export const signedCell = (value: bigint): Cell => (value > 0n ? cellText`+${value}` : value);
