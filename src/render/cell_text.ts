import { groupDigits } from '../core/format.js';
import type { Cell } from './table.js';

/** A cell as people read it: counts with grouped digits ("2,127,057,600"). */
export function displayText(cell: Cell): string {
  return typeof cell === 'bigint' ? groupDigits(cell) : String(cell);
}

/** A cell as programs read it: counts as plain exact digits ("2127057600"). */
export function plainText(cell: Cell): string {
  return String(cell);
}
