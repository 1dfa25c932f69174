import { sum } from '../core/counting.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { FLOP_COMPONENTS, layerIndexOf } from '../core/module_paths.js';
import { forwardMatmulInventory } from './forward_matmuls.js';
import type { MatmulComponent, MatmulRow } from './types.js';

export const MATMUL_COMPONENTS = FLOP_COMPONENTS.filter((c): c is MatmulComponent => c !== 'non_matmul');

/** Components only some architectures have: listed only where some breakdown has their work. */
const OPTIONAL_COMPONENTS: ReadonlySet<MatmulComponent> = new Set([
  'latent_projections',
  'router',
  'routed_experts',
  'shared_experts',
]);

/**
 * The components these breakdowns have, in component order: latent projections and the mixture-of-experts ones only
 * where some breakdown has their work, and the dense FFN unless every breakdown is a mixture of
 * experts without dense layers. A dense model's reports list the four components they always did.
 */
export function componentsIn(...byComponents: readonly Readonly<Record<MatmulComponent, bigint>>[]): MatmulComponent[] {
  const has = (c: MatmulComponent) => byComponents.some((counts) => counts[c] > 0n);
  const allMoe = byComponents.length > 0 && byComponents.every((counts) => counts.router > 0n);
  return MATMUL_COMPONENTS.filter((c) => (OPTIONAL_COMPONENTS.has(c) || (c === 'ffn' && allMoe) ? has(c) : true));
}

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

/** One 0n per matmul component, to sum into. */
export function zeroByComponent(): Record<MatmulComponent, bigint> {
  return Object.fromEntries(MATMUL_COMPONENTS.map((c) => [c, 0n])) as Record<MatmulComponent, bigint>;
}

/**
 * Matmul rows' FLOPs summed per component and per layer (lm_head is in no layer); `what` names
 * the rows in the error for a path past the last layer.
 */
export function rollUpMatmulFlops(
  config: ModelConfig,
  rows: readonly Pick<MatmulRow, 'path' | 'component' | 'flops'>[],
  what: string,
): { byComponent: Record<MatmulComponent, bigint>; perLayer: LayerFlops[] } {
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
    if (entry === undefined) throw new Error(`${what}: ${row.path} names layer ${layer} of ${config.num_layers}`);
    entry.total += row.flops;
    entry.byComponent[row.component] += row.flops;
  }
  return { byComponent, perLayer };
}

/** Rows rolled up to components and to layers; every total is a sum of the rows beneath it. */
export function forwardFlopBreakdown(config: ModelConfig, run: RunShape): FlopBreakdown {
  const rows = forwardMatmulInventory(config, run);
  const { byComponent, perLayer } = rollUpMatmulFlops(config, rows, 'flops');
  return { run, total: sum(rows.map((r) => r.flops)), byComponent, perLayer, rows };
}
