/**
 * Matmul FLOPs on a grid of layers by component, lm_head on its own row, as the forward and the
 * backward breakdowns both print it.
 */
import { componentsIn, type LayerFlops, type MatmulComponent } from '../analytic/index.js';
import { formatShare } from '../core/format.js';
import { MATMUL_COMPONENT_SHORT } from './labels.js';
import type { Cell, Table } from '../render/table.js';

export interface LayerComponentFlops {
  readonly total: bigint;
  readonly byComponent: Readonly<Record<MatmulComponent, bigint>>;
  readonly perLayer: readonly LayerFlops[];
}

/** MACs per module ("layers.0", "lm_head") and in total, for the optional MAC column. */
export interface ModuleMacs {
  readonly byModule: ReadonlyMap<string, bigint>;
  readonly total: bigint;
}

/** One row per layer and one for lm_head, a column per component, the row's total and share; a MAC column when `macs` is given. */
export function layerComponentTable(title: string, flops: LayerComponentFlops, macs?: ModuleMacs): Table {
  const components = componentsIn(flops.byComponent);
  const cell = (value: bigint): Cell => (value === 0n ? '' : value);
  const macCell = (module: string): Cell[] => (macs === undefined ? [] : [macs.byModule.get(module) ?? 0n]);
  const rows: Cell[][] = flops.perLayer.map((layer) => [
    `layers.${layer.layer}`,
    ...components.map((component) => cell(layer.byComponent[component])),
    layer.total,
    ...macCell(`layers.${layer.layer}`),
    formatShare(layer.total, flops.total),
  ]);
  const lmHead = flops.byComponent.lm_head;
  rows.push([
    'lm_head',
    ...components.map((component) => cell(component === 'lm_head' ? lmHead : 0n)),
    lmHead,
    ...macCell('lm_head'),
    formatShare(lmHead, flops.total),
  ]);
  return {
    title,
    columns: [
      { header: 'module' },
      ...components.map((component) => ({ header: MATMUL_COMPONENT_SHORT[component], align: 'right' as const })),
      { header: 'total', align: 'right' },
      ...(macs === undefined ? [] : [{ header: 'MACs', align: 'right' as const }]),
      { header: 'share', align: 'right' },
    ],
    rows,
    totals: [
      [
        'total',
        ...components.map((component) => flops.byComponent[component]),
        flops.total,
        ...(macs === undefined ? [] : [macs.total]),
        formatShare(flops.total, flops.total),
      ],
    ],
  };
}
