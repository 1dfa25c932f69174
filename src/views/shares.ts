import { componentsIn, share, type FlopBreakdown } from '../analytic/index.js';
import { formatShare } from '../core/format.js';
import { MATMUL_COMPONENT_SHORT } from './labels.js';
import type { Cell, Column } from '../render/table.js';

/** The components of these breakdowns, for tables that compare them. */
function sharedComponents(breakdowns: readonly FlopBreakdown[]) {
  return componentsIn(...breakdowns.map((breakdown) => breakdown.byComponent));
}

/** One share column per matmul component these breakdowns have. */
export function shareColumns(breakdowns: readonly FlopBreakdown[]): Column[] {
  return sharedComponents(breakdowns).map((component) => ({
    header: `${MATMUL_COMPONENT_SHORT[component]} %`,
    align: 'right',
  }));
}

export function shareCells(breakdown: FlopBreakdown, breakdowns: readonly FlopBreakdown[]): Cell[] {
  return sharedComponents(breakdowns).map((component) =>
    formatShare(breakdown.byComponent[component], breakdown.total),
  );
}

/** Components with their FLOPs and shares, as the reports' data carries them. */
export function componentShares(breakdown: FlopBreakdown) {
  return componentsIn(breakdown.byComponent).map((component) => ({
    component,
    flops: breakdown.byComponent[component],
    share: share(breakdown.byComponent[component], breakdown.total),
  }));
}
