import type { MemoryRow } from '../analytic/memory.js';
import { parameterInventory, type ParameterSummary } from '../analytic/parameters.js';
import { share } from '../core/exact.js';
import { architectureOf, type ModelConfig, modelLabel } from '../config/model_config.js';
import { PARAMETER_COMPONENTS, parameterComponentOf, rollUp, type ParameterComponent } from '../core/module_paths.js';
import { formatCountSi, formatShare } from '../core/format.js';
import { gibibytesCell, gigabytesCell } from './cells.js';
import { configJson, dimensionsLabel, parameterComponentLabel } from './labels.js';
import {
  cellText,
  heading,
  paragraph,
  tableBlock,
  type Block,
  type Depth,
  type Report,
  type Table,
} from '../render/table.js';

export interface ParamsReportInput {
  readonly config: ModelConfig;
  readonly summary: ParameterSummary;
  readonly memory: readonly MemoryRow[];
  readonly depth: Depth;
}

/** Parameter counts from the total (depth 0) down to every weight with its shape (depth 3). */
export function paramsReport(input: ParamsReportInput): Report<ParamsData> {
  const { config, summary, memory, depth } = input;
  const fp32Bytes = memory.find((row) => row.dtype === 'fp32')?.bytes;
  if (fp32Bytes === undefined) throw new Error('params: parameterMemory returned no fp32 row');
  const blocks: Block[] = [
    heading(`Parameters of ${modelLabel(config)}`),
    paragraph(`${dimensionsLabel(config)}; from ${config.source}.`),
    tableBlock(summaryTable(config, summary, fp32Bytes)),
    ...summary.notes.map((note) => paragraph(note)),
  ];
  if (depth >= 1) blocks.push(tableBlock(componentTable(config, summary)));
  if (depth >= 2) blocks.push(tableBlock(moduleTable(summary)));
  if (depth >= 3) blocks.push(tableBlock(weightTable(summary)));

  return { blocks, json: paramsData(input, fp32Bytes) };
}

/** What `params --format json` writes: the counts down to the depth asked for. */
function paramsData({ config, summary, depth }: ParamsReportInput, fp32Bytes: bigint) {
  return {
    model: configJson(config),
    total: summary.total,
    nonEmbedding: summary.nonEmbedding,
    active: summary.active,
    activeNonEmbedding: summary.activeNonEmbedding,
    perLayer: summary.perLayer,
    fp32Bytes,
    notes: summary.notes,
    components:
      depth >= 1
        ? presentComponents(summary).map((component) => ({
            component,
            parameters: summary.byComponent[component],
            share: share(summary.byComponent[component], summary.total),
          }))
        : undefined,
    modules: depth >= 2 ? moduleRows(summary) : undefined,
    weights: depth >= 3 ? summary.rows : undefined,
  };
}

export type ParamsData = ReturnType<typeof paramsData>;

function summaryTable(config: ModelConfig, summary: ParameterSummary, fp32Bytes: bigint): Table {
  return {
    columns: [{ header: 'quantity' }, { header: 'exact', align: 'right' }, { header: 'approx', align: 'right' }],
    rows: [
      ['total parameters', summary.total, formatCountSi(summary.total)],
      ['non-embedding (total - embedding tables)', summary.nonEmbedding, formatCountSi(summary.nonEmbedding)],
      ...(summary.active === summary.total
        ? []
        : [
            [
              'active per token (k of E routed experts; with embedding table and lm_head)',
              summary.active,
              formatCountSi(summary.active),
            ],
            [
              'active per token, non-embedding (active - embedding tables)',
              summary.activeNonEmbedding,
              formatCountSi(summary.activeNonEmbedding),
            ],
          ]),
      ...layerRows(config, summary),
      ['fp32 bytes (4 per parameter)', fp32Bytes, cellText`${gigabytesCell(fp32Bytes)} = ${gibibytesCell(fp32Bytes)}`],
    ],
  };
}

/** "per layer (x 32 layers)", or one line per block size when dense and MoE blocks differ. */
function layerRows(config: ModelConfig, summary: ParameterSummary): [string, bigint, string][] {
  if (summary.layerShapes.length <= 1) {
    return [[`per layer (x ${config.num_layers} layers)`, summary.perLayer, formatCountSi(summary.perLayer)]];
  }
  const moe = architectureOf(config).moe;
  return summary.layerShapes.map(([size, count], n) => {
    const kind = moe === undefined ? `block shape ${n + 1}` : isDenseShape(config, size) ? 'dense layer' : 'MoE layer';
    return [`per ${kind} (x ${count} layers)`, size, formatCountSi(size)];
  });
}

/** Whether a block of `size` parameters is one of the config's dense layers. */
function isDenseShape(config: ModelConfig, size: bigint): boolean {
  const dense = config.dense_layers?.[0];
  return dense !== undefined && blockSize(config, dense) === size;
}

function blockSize(config: ModelConfig, i: number): bigint {
  const prefix = `layers.${i}.`;
  return parameterInventory(config)
    .filter((row) => row.path.startsWith(prefix))
    .reduce((total, row) => total + row.count, 0n);
}

function componentTable(config: ModelConfig, summary: ParameterSummary): Table {
  return {
    title: 'By component',
    columns: [
      { header: 'component' },
      { header: 'parameters', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: presentComponents(summary).map((component) => [
      parameterComponentLabel(component, config),
      summary.byComponent[component],
      formatCountSi(summary.byComponent[component]),
      formatShare(summary.byComponent[component], summary.total),
    ]),
    totals: [['total', summary.total, formatCountSi(summary.total), formatShare(summary.total, summary.total)]],
  };
}

/** Components this architecture has: learned position embeddings appear only where they exist. */
function presentComponents(summary: ParameterSummary): ParameterComponent[] {
  return PARAMETER_COMPONENTS.filter((component) =>
    // A mixture of experts with no dense layer has no dense FFN to list.
    OPTIONAL_COMPONENTS.has(component) || (component === 'ffn' && summary.byComponent.router > 0n)
      ? summary.byComponent[component] > 0n
      : true,
  );
}

/** Components only some architectures have; the others are listed even at zero (a tied lm_head). */
const OPTIONAL_COMPONENTS: ReadonlySet<ParameterComponent> = new Set([
  'position_embeddings',
  'latent_projections',
  'router',
  'routed_experts',
  'shared_experts',
]);

interface ModuleRow {
  module: string;
  total: bigint;
  byComponent: Record<ParameterComponent, bigint>;
}

/** Weights rolled up to one row per top-level module or layer, in model order. */
function moduleRows(summary: ParameterSummary): ModuleRow[] {
  const rows = new Map<string, ModuleRow>();
  for (const weight of summary.rows) {
    const module = rollUp(weight.path, weight.path.startsWith('layers.') ? 2 : 1);
    const component = parameterComponentOf(weight.path);
    if (component === undefined) throw new Error(`params: ${weight.path} belongs to no component`);
    let row = rows.get(module);
    if (row === undefined) {
      row = {
        module,
        total: 0n,
        byComponent: Object.fromEntries(PARAMETER_COMPONENTS.map((c) => [c, 0n])) as Record<ParameterComponent, bigint>,
      };
      rows.set(module, row);
    }
    row.total += weight.count;
    row.byComponent[component] += weight.count;
  }
  return [...rows.values()];
}

function moduleTable(summary: ParameterSummary): Table {
  const rows = moduleRows(summary);
  // Only components some module holds get a column (every preset has all five; a file may not).
  const components = PARAMETER_COMPONENTS.filter((component) => rows.some((row) => row.byComponent[component] > 0n));
  return {
    title: 'By module and component',
    columns: [
      { header: 'module' },
      ...components.map((component) => ({ header: component, align: 'right' as const })),
      { header: 'total', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: rows.map((row) => [
      row.module,
      ...components.map((component) => (row.byComponent[component] === 0n ? '' : row.byComponent[component])),
      row.total,
      formatShare(row.total, summary.total),
    ]),
    totals: [
      [
        'total',
        ...components.map((component) => summary.byComponent[component]),
        summary.total,
        formatShare(summary.total, summary.total),
      ],
    ],
  };
}

function weightTable(summary: ParameterSummary): Table {
  return {
    title: 'Every weight (matrices stored [d_in, d_out], applied as x @ W)',
    columns: [
      { header: 'path' },
      { header: 'weight' },
      { header: 'shape', align: 'right' },
      { header: 'parameters', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: summary.rows.map((row) => [
      row.path,
      row.name,
      `[${row.shape.join(', ')}]`,
      row.count,
      formatShare(row.count, summary.total),
    ]),
    totals: [['total', '', '', summary.total, formatShare(summary.total, summary.total)]],
  };
}
