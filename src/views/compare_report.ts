import { modelLabel } from '../config/model_config.js';
import { componentsIn, ratio, type SweepPoint } from '../analytic/index.js';
import { formatCountSi, formatFlops, formatShare } from '../core/format.js';
import { ratioCell, runCell } from './cells.js';
import { configJson, flopConventions, matmulComponentLabels } from './labels.js';
import { componentShares } from './shares.js';
import { heading, paragraph, tableBlock, type Cell, type Report } from '../render/table.js';

/** Several models side by side: one column per model, one row per quantity. */
export function compareReport(points: readonly SweepPoint[]): Report<CompareData> {
  const first = points[0];
  if (first === undefined) throw new Error('compare: no models to compare');
  const row = (label: string, cell: (point: SweepPoint) => Cell): Cell[] => [label, ...points.map(cell)];
  const configs = points.map((point) => point.config);
  const labels = matmulComponentLabels(configs);
  const dims =
    (key: 'vocab_size' | 'context_length' | 'num_layers' | 'd_model' | 'num_heads' | 'd_ff') => (point: SweepPoint) =>
      BigInt(point.config[key]);
  return {
    blocks: [
      heading('Models side by side'),
      tableBlock({
        columns: [
          { header: 'quantity' },
          ...points.map((point) => ({ header: modelLabel(point.config), align: 'right' as const })),
        ],
        rows: [
          row('vocab_size', dims('vocab_size')),
          row('context_length', dims('context_length')),
          row('num_layers', dims('num_layers')),
          row('d_model', dims('d_model')),
          row('num_heads', dims('num_heads')),
          row('d_ff', dims('d_ff')),
          row('parameters', (point) => point.parameters),
          row('parameters (approx)', (point) => formatCountSi(point.parameters)),
          row('run (batch x seq)', (point) => runCell(point.run)),
          row('forward FLOPs', (point) => point.breakdown.total),
          row('forward FLOPs (approx)', (point) => formatFlops(point.breakdown.total)),
          row(`FLOPs vs ${modelLabel(first.config)}`, (point) =>
            ratioCell(point.breakdown.total, first.breakdown.total),
          ),
          ...componentsIn(...points.map((point) => point.breakdown.byComponent)).map((component) =>
            row(`share: ${labels[component]}`, (point) =>
              formatShare(point.breakdown.byComponent[component], point.breakdown.total),
            ),
          ),
        ],
      }),
      paragraph(flopConventions(configs)),
    ],
    json: compareData(points, first),
  };
}

/** What `compare --format json` writes: each model's counts and its FLOPs against the first. */
function compareData(points: readonly SweepPoint[], first: SweepPoint) {
  return {
    models: points.map((point) => ({
      model: configJson(point.config),
      run: point.run,
      parameters: point.parameters,
      total: point.breakdown.total,
      ratioToFirst: ratio(point.breakdown.total, first.breakdown.total),
      components: componentShares(point.breakdown),
    })),
  };
}

export type CompareData = ReturnType<typeof compareData>;
