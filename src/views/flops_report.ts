import {
  componentsIn,
  share,
  zeroByComponent,
  type FlopBreakdown,
  type MatmulComponent,
  type MatmulRow,
} from '../analytic/index.js';
import { sum } from '../core/counting.js';
import { type ModelConfig, modelLabel } from '../config/model_config.js';
import { rollUp } from '../core/module_paths.js';
import { formatFlops, formatMacs, formatShare } from '../core/format.js';
import { configJson, dimensionsLabel, flopConventions, matmulComponentLabels, runJson, runLabel } from './labels.js';
import { layerComponentTable } from './layer_component_table.js';
import {
  heading,
  paragraph,
  tableBlock,
  type Block,
  type Cell,
  type Column,
  type Depth,
  type Report,
  type Table,
} from '../render/table.js';

export interface FlopsReportInput {
  readonly config: ModelConfig;
  readonly breakdown: FlopBreakdown;
  readonly depth: Depth;
  /** Add MAC columns next to the FLOP columns (depth 3 always shows both). */
  readonly showMacs: boolean;
}

/** Forward matmul FLOPs from the total (depth 0) down to every matmul (depth 3). */
export function flopsReport(input: FlopsReportInput): Report<FlopsData> {
  const { config, breakdown, depth, showMacs } = input;
  const macsByComponent = macsOf(breakdown.rows);
  const totalMacs = sum(breakdown.rows.map((row) => row.macs));
  const blocks: Block[] = [
    heading(`Forward matmul FLOPs of ${modelLabel(config)}, ${runLabel(breakdown.run)}`),
    paragraph(`${dimensionsLabel(config)}; from ${config.source}.`),
    tableBlock(totalTable(breakdown, totalMacs, showMacs)),
  ];
  if (depth >= 1) blocks.push(tableBlock(componentTable(config, breakdown, macsByComponent, totalMacs, showMacs)));
  if (depth >= 2) blocks.push(tableBlock(layerTable(breakdown, showMacs)));
  if (depth >= 3) blocks.push(tableBlock(matmulTable(breakdown)));
  blocks.push(paragraph(flopConventions([config], breakdown.run)));

  return { blocks, json: flopsData(input, macsByComponent, totalMacs) };
}

/** What `flops --format json` writes: the counts down to the depth asked for. */
function flopsData(
  { config, breakdown, depth }: FlopsReportInput,
  macsByComponent: Record<MatmulComponent, bigint>,
  totalMacs: bigint,
) {
  return {
    model: configJson(config),
    run: runJson(breakdown.run),
    total: breakdown.total,
    totalMacs,
    components:
      depth >= 1
        ? componentsIn(breakdown.byComponent).map((component) => ({
            component,
            flops: breakdown.byComponent[component],
            macs: macsByComponent[component],
            share: share(breakdown.byComponent[component], breakdown.total),
          }))
        : undefined,
    layers: depth >= 2 ? breakdown.perLayer : undefined,
    matmuls:
      depth >= 3 ? breakdown.rows.map((row) => ({ ...row, share: share(row.flops, breakdown.total) })) : undefined,
  };
}

export type FlopsData = ReturnType<typeof flopsData>;

function macsOf(rows: readonly MatmulRow[]): Record<MatmulComponent, bigint> {
  const macs = zeroByComponent();
  for (const row of rows) macs[row.component] += row.macs;
  return macs;
}

function totalTable(breakdown: FlopBreakdown, totalMacs: bigint, showMacs: boolean): Table {
  const rows: Cell[][] = [['forward FLOPs', breakdown.total, formatFlops(breakdown.total)]];
  if (showMacs) rows.push(['forward MACs', totalMacs, formatMacs(totalMacs)]);
  rows.push(['matmuls', BigInt(breakdown.rows.length), '']);
  return {
    columns: [{ header: 'quantity' }, { header: 'exact', align: 'right' }, { header: 'approx', align: 'right' }],
    rows,
  };
}

function componentTable(
  config: ModelConfig,
  breakdown: FlopBreakdown,
  macsByComponent: Record<MatmulComponent, bigint>,
  totalMacs: bigint,
  showMacs: boolean,
): Table {
  const macColumns: Column[] = showMacs ? [{ header: 'MACs', align: 'right' }] : [];
  const labels = matmulComponentLabels([config]);
  return {
    title: 'By component',
    columns: [
      { header: 'component' },
      { header: 'FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      ...macColumns,
      { header: 'share', align: 'right' },
    ],
    rows: componentsIn(breakdown.byComponent).map((component) => [
      labels[component],
      breakdown.byComponent[component],
      formatFlops(breakdown.byComponent[component]),
      ...(showMacs ? [macsByComponent[component]] : []),
      formatShare(breakdown.byComponent[component], breakdown.total),
    ]),
    totals: [
      [
        'total',
        breakdown.total,
        formatFlops(breakdown.total),
        ...(showMacs ? [totalMacs] : []),
        formatShare(breakdown.total, breakdown.total),
      ],
    ],
  };
}

function layerTable(breakdown: FlopBreakdown, showMacs: boolean): Table {
  // One MAC column per module (not per component): the component split is already shown in FLOPs.
  const layerMacs = new Map<string, bigint>();
  for (const row of breakdown.rows) {
    const module = rollUp(row.path, 2);
    layerMacs.set(module, (layerMacs.get(module) ?? 0n) + row.macs);
  }
  const macs = showMacs ? { byModule: layerMacs, total: sum(breakdown.rows.map((row) => row.macs)) } : undefined;
  return layerComponentTable('By layer and component (FLOPs)', breakdown, macs);
}

/** "batch [1,25]: [1024,64] x [64,1024]" - the numbers the symbolic shapes stand for. */
export function numericShapes(row: MatmulRow): string {
  return `batch [${row.batch.join(',')}]: [${row.m},${row.k}] x [${row.k},${row.n}]`;
}

function matmulTable(breakdown: FlopBreakdown): Table {
  return {
    title: 'Every matmul, in execution order',
    columns: [
      { header: 'path' },
      { header: 'computes' },
      { header: 'shapes' },
      { header: 'numeric shapes' },
      { header: 'FLOPs', align: 'right' },
      { header: 'MACs', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: breakdown.rows.map((row) => [
      row.path,
      row.description,
      row.symbolicShapes,
      numericShapes(row),
      row.flops,
      row.macs,
      formatShare(row.flops, breakdown.total),
    ]),
    totals: [
      [
        'total',
        '',
        '',
        '',
        breakdown.total,
        sum(breakdown.rows.map((row) => row.macs)),
        formatShare(breakdown.total, breakdown.total),
      ],
    ],
  };
}
