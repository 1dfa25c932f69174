import { componentsIn, forwardFlopBreakdown, rollUpMatmulFlops, type LayerFlops } from '../flop_breakdown.js';
import type { MatmulComponent } from '../types.js';
import type { ModelConfig, RunShape } from '../../config/model_config.js';
import { rational, type Rational } from '../../core/exact.js';
import { sum } from '../../core/counting.js';
import { backwardMatmulInventory, type BackwardMatmulRow, type BackwardOptions } from './backward_matmuls.js';

/** Backward matmul FLOPs of one batch; skipped rows are listed but counted in no total. */
export interface BackwardFlopBreakdown {
  run: RunShape;
  total: bigint;
  byComponent: Record<MatmulComponent, bigint>;
  perLayer: LayerFlops[];
  rows: BackwardMatmulRow[];
  /** FLOPs the skipped rows would have cost (0n when every row runs). */
  skippedFlops: bigint;
}

/** Rows rolled up to components and layers, the way forwardFlopBreakdown rolls up the forward rows. */
export function backwardFlopBreakdown(
  config: ModelConfig,
  run: RunShape,
  options: BackwardOptions = {},
): BackwardFlopBreakdown {
  const rows = backwardMatmulInventory(config, run, options);
  const counted = rows.filter((row) => row.skipped === undefined);
  const skippedFlops = sum(rows.filter((row) => row.skipped !== undefined).map((row) => row.flops));
  const { byComponent, perLayer } = rollUpMatmulFlops(config, counted, 'backward');
  return { run, total: sum(Object.values(byComponent)), byComponent, perLayer, rows, skippedFlops };
}

export interface BackwardToForward {
  component?: MatmulComponent;
  forward: bigint;
  backward: bigint;
  /** backward / forward, exact; 2 for every component when no row is skipped. */
  ratio: Rational;
}

export interface BackwardToForwardRatios {
  /** One per component the model has (componentsIn), in component order; a dense model has no router or experts. */
  components: (BackwardToForward & { component: MatmulComponent })[];
  total: BackwardToForward;
}

/**
 * Backward over forward matmul FLOPs per component, each side summed from its own inventory, so
 * the "backward = 2x forward" rule is measured here rather than assumed.
 */
export function backwardToForwardRatio(
  config: ModelConfig,
  run: RunShape,
  options: BackwardOptions = {},
): BackwardToForwardRatios {
  const forward = forwardFlopBreakdown(config, run);
  const backward = backwardFlopBreakdown(config, run, options);
  const compare = (forwardFlops: bigint, backwardFlops: bigint): BackwardToForward => ({
    forward: forwardFlops,
    backward: backwardFlops,
    ratio: rational(backwardFlops, forwardFlops),
  });
  const components = componentsIn(forward.byComponent).map((component) => ({
    component,
    ...compare(forward.byComponent[component], backward.byComponent[component]),
  }));
  return { components, total: compare(forward.total, backward.total) };
}
