/**
 * One inventory row against the traced kernel it was joined with, as every verification prints
 * it: the forward pass and the training step's backward matmuls use the same table, the same
 * status marks and the same count of mismatches by kind.
 */
import { foldedShapeText, type MatmulCheck, type MatmulComparison } from '../verify/matmul_check.js';
import { mismatchKindCounts } from '../verify/verdict.js';
import type { Cell, Table } from '../render/table.js';

export const MATCH_MARK = '✓ exact';

/** "✓ exact", or the kind of mismatch: "✗ shape". */
function checkStatus(check: MatmulCheck): string {
  return check.mismatch === undefined ? MATCH_MARK : `✗ ${check.mismatch}`;
}

/** "1 missing, 1 extra": the mismatches counted by kind. */
export function mismatchSummary(matmuls: MatmulComparison): string {
  return mismatchKindCounts(matmuls)
    .map(({ kind, count }) => `${count} ${kind}`)
    .join(', ');
}

/** Every check on one row, expected and traced shapes side by side with how they were compared. */
export function matmulCheckTable(title: string, checks: readonly MatmulCheck[]): Table {
  const cell = (value: bigint | undefined): Cell => value ?? '-';
  return {
    title,
    columns: [
      { header: 'path' },
      { header: 'expected shapes' },
      { header: 'traced kernel' },
      { header: 'traced shapes' },
      { header: 'compared as' },
      { header: 'expected FLOPs', align: 'right' },
      { header: 'traced FLOPs', align: 'right' },
      { header: 'status' },
    ],
    rows: checks.map((check) => [
      check.path,
      check.expected?.display ?? '-',
      check.traced ? `${check.traced.kernel} #${check.traced.index}` : '-',
      check.traced?.display ?? '-',
      foldedShapeText((check.traced ?? check.expected)!.shape),
      cell(check.expected?.flops),
      cell(check.traced?.flops),
      checkStatus(check),
    ]),
  };
}
