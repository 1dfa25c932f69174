import { formatFixed, groupDigits } from '../core/format.js';
import type { Cell, FixedCell } from './table.js';

/** A cell as people read it: counts with grouped digits ("2,127,057,600"). */
export function displayText(cell: Cell): string {
  return cellString(cell, groupDigits, (value) => formatFixed(value.numerator, value.denominator, value.decimals));
}

/** A cell as programs read it: counts as plain exact digits ("2127057600"). */
export function plainText(cell: Cell): string {
  return cellString(
    cell,
    (value) => value.toString(),
    // formatFixed's only commas are its digit groups.
    (value) => formatFixed(value.numerator, value.denominator, value.decimals).replaceAll(',', ''),
  );
}

function cellString(cell: Cell, count: (value: bigint) => string, fraction: (value: FixedCell) => string): string {
  if (typeof cell === 'bigint') return count(cell);
  if (typeof cell !== 'object') return String(cell);
  if (cell.kind === 'fixed') return fraction(cell);
  return cell.parts
    .map((part) => (typeof part === 'bigint' ? count(part) : typeof part === 'string' ? part : fraction(part)))
    .join('');
}
