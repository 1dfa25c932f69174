import { componentsIn } from './flop_breakdown.js';
import { ratio, share } from '../core/exact.js';
import type { SweepPoint } from './sweeps.js';
import type { MatmulComponent } from './types.js';

/** How one component's share of forward matmul FLOPs moves between two sweep points. */
export interface ComponentShift {
  component: MatmulComponent;
  fromFlops: bigint;
  toFlops: bigint;
  fromShare: number;
  toShare: number;
  /** Decided on exact bigints, so two shares that print alike still compare correctly. */
  change: 'grows' | 'shrinks' | 'unchanged';
  /** toFlops / fromFlops (NaN when both are 0, Infinity when only fromFlops is). */
  factor: number;
}

/**
 * The comparative facts a "which parts take proportionally more" answer is made of, one per
 * matmul component in component order, so that no sentence about them is typed by hand.
 */
export function describeShift(from: SweepPoint, to: SweepPoint): ComponentShift[] {
  const fromTotal = from.breakdown.total;
  const toTotal = to.breakdown.total;
  return componentsIn(from.breakdown.byComponent, to.breakdown.byComponent).map((component) => {
    const fromFlops = from.breakdown.byComponent[component];
    const toFlops = to.breakdown.byComponent[component];
    // toFlops/toTotal vs fromFlops/fromTotal, cross-multiplied (totals are non-negative).
    const toSide = toFlops * fromTotal;
    const fromSide = fromFlops * toTotal;
    const change = toSide > fromSide ? 'grows' : toSide < fromSide ? 'shrinks' : 'unchanged';
    return {
      component,
      fromFlops,
      toFlops,
      fromShare: share(fromFlops, fromTotal),
      toShare: share(toFlops, toTotal),
      change,
      factor: ratio(toFlops, fromFlops),
    };
  });
}
