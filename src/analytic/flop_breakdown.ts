import { sum } from '../counting.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { FLOP_COMPONENTS, layerIndexOf } from '../module_paths.js';
import { forwardMatmulInventory } from './forward_matmuls.js';
import type { MatmulComponent, MatmulRow } from './types.js';

export const MATMUL_COMPONENTS = FLOP_COMPONENTS.filter(
  (c): c is MatmulComponent => c !== 'non_matmul',
);

export interface LayerFlops {
  layer: number;
  total: bigint;
  /** lm_head is outside every layer, so it is 0n here. */
  byComponent: Record<MatmulComponent, bigint>;
}

/** Forward matmul FLOPs of one batch of `run.batch` sequences of `run.seq` tokens. */
export interface FlopBreakdown {
  run: RunShape;
  total: bigint;
  byComponent: Record<MatmulComponent, bigint>;
  perLayer: LayerFlops[];
  rows: MatmulRow[];
}

function zeroByComponent(): Record<MatmulComponent, bigint> {
  return Object.fromEntries(MATMUL_COMPONENTS.map((c) => [c, 0n])) as Record<MatmulComponent, bigint>;
}

/** Rows rolled up to components and to layers; every total is a sum of the rows beneath it. */
export function forwardFlopBreakdown(config: ModelConfig, run: RunShape): FlopBreakdown {
  const rows = forwardMatmulInventory(config, run);
  const byComponent = zeroByComponent();
  const perLayer: LayerFlops[] = Array.from({ length: config.num_layers }, (_, layer) => ({
    layer,
    total: 0n,
    byComponent: zeroByComponent(),
  }));
  for (const row of rows) {
    byComponent[row.component] += row.flops;
    const layer = layerIndexOf(row.path);
    if (layer === undefined) continue;
    const entry = perLayer[layer];
    if (entry === undefined) throw new Error(`flops: ${row.path} names layer ${layer} of ${config.num_layers}`);
    entry.total += row.flops;
    entry.byComponent[row.component] += row.flops;
  }
  return { run, total: sum(rows.map((r) => r.flops)), byComponent, perLayer, rows };
}
