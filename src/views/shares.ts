import { MATMUL_COMPONENTS, share, type FlopBreakdown } from '../analytic/index.js';
import { formatShare } from '../core/format.js';
import { MATMUL_COMPONENT_SHORT } from './labels.js';
import type { Cell, Column } from '../render/table.js';

/** One share column per matmul component, for tables that compare several breakdowns. */
export const SHARE_COLUMNS: readonly Column[] = MATMUL_COMPONENTS.map((component) => ({
  header: `${MATMUL_COMPONENT_SHORT[component]} %`,
  align: 'right',
}));

export function shareCells(breakdown: FlopBreakdown): Cell[] {
  return MATMUL_COMPONENTS.map((component) => formatShare(breakdown.byComponent[component], breakdown.total));
}

/** Components with their FLOPs and shares, as the reports' data carries them. */
export function componentShares(breakdown: FlopBreakdown) {
  return MATMUL_COMPONENTS.map((component) => ({
    component,
    flops: breakdown.byComponent[component],
    share: share(breakdown.byComponent[component], breakdown.total),
  }));
}
