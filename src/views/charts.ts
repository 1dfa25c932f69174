/**
 * Charts as Vega-Lite specs built from computed counts; render/chart_svg.ts draws them to SVG
 * with Vega, without a browser. Each chart's marks carry a stable name (see CHART_MARKS) so the
 * SVG can be inspected: Vega writes a mark's name into its group's class, e.g.
 * `<g class="mark-rect role-mark flop_shares_by_size_bars">`, and gives every drawn item
 * role="graphics-symbol" and an aria-label with its data.
 */
import type { TopLevelSpec } from 'vega-lite';
import { componentsIn, MATMUL_COMPONENTS } from '../analytic/flop_breakdown.js';
import { share } from '../core/exact.js';
import type { SweepPoint } from '../analytic/sweeps.js';
import {
  precisionOf,
  ZERO_STAGES,
  zeroModelStates,
  type PrecisionName,
  type ZeroStage,
} from '../analytic/training/index.js';
import type { MatmulComponent } from '../analytic/types.js';
import { formatGigabytes, formatShare } from '../core/format.js';

/** Component names as charts and tables show them. */
export const COMPONENT_LABELS: Readonly<Record<MatmulComponent, string>> = {
  attention_projections: 'attention projections',
  latent_projections: 'latent projections',
  attention_core: 'attention core',
  ffn: 'ffn',
  router: 'router',
  routed_experts: 'routed experts',
  shared_experts: 'shared experts',
  lm_head: 'lm_head',
};

/** One colour per component, shared by every chart so a component looks the same everywhere. */
const COMPONENT_COLORS: Readonly<Record<MatmulComponent, string>> = {
  attention_projections: '#4c78a8',
  latent_projections: '#bab0ac',
  attention_core: '#e45756',
  ffn: '#54a24b',
  router: '#b279a2',
  routed_experts: '#72b7b2',
  shared_experts: '#9d755d',
  lm_head: '#f58518',
};

/** The names Vega writes into the class of each chart's mark group. */
export const CHART_MARKS = {
  sharesBySize: { chart: 'flop_shares_by_size', bars: 'flop_shares_by_size_bars' },
  sharesByContext: {
    chart: 'flop_shares_by_context',
    lines: 'flop_shares_by_context_lines',
    points: 'flop_shares_by_context_points',
  },
  timeVsFlops: {
    chart: 'time_vs_flops',
    points: 'time_vs_flops_points',
    fit: 'time_vs_flops_fit',
  },
  zeroStates: {
    chart: 'zero_model_states',
    lines: 'zero_model_states_lines',
    points: 'zero_model_states_points',
  },
} as const;

/** One bar segment or line point: a component's share of one sweep point's forward matmul FLOPs. */
export interface ShareDatum {
  readonly label: string;
  readonly seq: number;
  readonly component: string;
  /** Stacking order: components keep the order of MATMUL_COMPONENTS. */
  readonly order: number;
  readonly share: number;
  /** Exact count as a decimal string, shown in the tooltip. */
  readonly flops: string;
  /**
   * The item's aria-label (Vega-Lite's description channel): "gpt2-xl | ffn | 66.9%" for a
   * bar, "16384 | attention core | 55.2%" for a point. Fixed fields split by " | ", so a reader
   * of the SVG (or a test) can tell series and positions apart.
   */
  readonly description: string;
}

export function shareData(points: readonly SweepPoint[], label: (point: SweepPoint) => string): ShareDatum[] {
  const components = componentsIn(...points.map((point) => point.breakdown.byComponent));
  return points.flatMap((point) =>
    components.map((component) => ({
      label: label(point),
      seq: point.run.seq,
      component: COMPONENT_LABELS[component],
      order: MATMUL_COMPONENTS.indexOf(component),
      share: share(point.breakdown.byComponent[component], point.breakdown.total),
      flops: point.breakdown.byComponent[component].toString(),
      description: [
        label(point),
        COMPONENT_LABELS[component],
        formatShare(point.breakdown.byComponent[component], point.breakdown.total),
      ].join(' | '),
    })),
  );
}

const componentColor = {
  field: 'component',
  type: 'nominal',
  title: 'component',
  legend: { labelLimit: 240 },
  scale: {
    domain: MATMUL_COMPONENTS.map((c) => COMPONENT_LABELS[c]),
    range: MATMUL_COMPONENTS.map((c) => COMPONENT_COLORS[c]),
  },
} as const;

const shareAxis = {
  field: 'share',
  type: 'quantitative',
  title: 'share of forward matmul FLOPs',
  axis: { format: '.0%' },
} as const;

/** Stacked bars: one bar per model, one segment per component, shares summing to 1. */
export function sharesBySizeSpec(points: readonly SweepPoint[]): TopLevelSpec {
  const values = shareData(points, (point) => point.config.name);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    name: CHART_MARKS.sharesBySize.chart,
    title: `Forward FLOP shares by component (T = ${uniqueSeqs(points)})`,
    description: 'Stacked bar chart: share of forward matmul FLOPs by component for each model size.',
    width: 360,
    height: 260,
    data: { values },
    layer: [
      {
        name: CHART_MARKS.sharesBySize.bars,
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'label', type: 'nominal', title: 'model', sort: null, axis: { labelAngle: 0 } },
          y: { ...shareAxis, stack: 'zero' },
          color: componentColor,
          order: { field: 'order', type: 'quantitative' },
          description: { field: 'description' },
          tooltip: [
            { field: 'label', title: 'model' },
            { field: 'component' },
            { field: 'share', format: '.1%' },
            { field: 'flops', title: 'FLOPs' },
          ],
        },
      },
    ],
  };
}

/** One line per component: its share against sequence length on a log2 axis. */
export function sharesByContextSpec(points: readonly SweepPoint[]): TopLevelSpec {
  const values = shareData(points, (point) => String(point.run.seq));
  const modelNames = [...new Set(points.map((point) => point.config.name))].join(', ');
  const encoding = {
    x: {
      field: 'seq',
      type: 'quantitative',
      title: 'sequence length T (tokens)',
      scale: { type: 'log', base: 2 },
      // Tokens in units of 1024 ("16K"), the way context lengths are usually named.
      axis: {
        values: points.map((point) => point.run.seq),
        labelExpr: "datum.value >= 1024 ? datum.value / 1024 + 'K' : datum.value",
        labelOverlap: false,
      },
    },
    y: shareAxis,
    color: componentColor,
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    name: CHART_MARKS.sharesByContext.chart,
    title: `Forward FLOP shares by component against context length (${modelNames})`,
    description: 'Line chart: share of forward matmul FLOPs by component as the sequence length grows.',
    width: 420,
    height: 260,
    data: { values },
    layer: [
      {
        name: CHART_MARKS.sharesByContext.lines,
        mark: { type: 'line' },
        // One path per series: its label is the component it draws.
        encoding: { ...encoding, description: { field: 'component' } },
      },
      {
        name: CHART_MARKS.sharesByContext.points,
        mark: { type: 'point', filled: true, size: 40 },
        encoding: {
          ...encoding,
          description: { field: 'description' },
          tooltip: [
            { field: 'seq', title: 'T' },
            { field: 'component' },
            { field: 'share', format: '.1%' },
            { field: 'flops', title: 'FLOPs' },
          ],
        },
      },
    ],
  };
}

/** A measured forward pass: its exact FLOPs and its median wall time. */
export interface TimingPoint {
  readonly label: string;
  readonly flops: bigint;
  readonly medianMs: number;
}

/** Measured points and a least-squares line through them (Vega-Lite's regression transform). */
export function timeVsFlopsSpec(points: readonly TimingPoint[], backend: string): TopLevelSpec {
  const values = points.map((point) => ({
    label: point.label,
    description: `${point.label} | ${point.flops} FLOPs | ${point.medianMs} ms`,
    gflops: Number(point.flops) / 1e9,
    flops: point.flops.toString(),
    median_ms: point.medianMs,
  }));
  const x = { field: 'gflops', type: 'quantitative', title: 'forward matmul GFLOP' } as const;
  const y = { field: 'median_ms', type: 'quantitative', title: `median time (ms), ${backend}` } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    name: CHART_MARKS.timeVsFlops.chart,
    title: `Measured time against FLOPs (${backend})`,
    description: 'Scatter plot of median forward time against exact FLOPs, with a least-squares line.',
    width: 420,
    height: 260,
    data: { values },
    layer: [
      {
        name: CHART_MARKS.timeVsFlops.fit,
        transform: [{ regression: 'median_ms', on: 'gflops' }],
        mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: { x, y },
      },
      {
        name: CHART_MARKS.timeVsFlops.points,
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x,
          y,
          description: { field: 'description' },
          tooltip: [{ field: 'label' }, { field: 'flops', title: 'FLOPs' }, { field: 'median_ms' }],
        },
      },
    ],
  };
}

function uniqueSeqs(points: readonly SweepPoint[]): string {
  return [...new Set(points.map((point) => point.run.seq))].join(', ');
}

/** The ZeRO paper's names for its stages (Rajbhandari et al. 2020, Figure 1). */
export const ZERO_STAGE_LABELS: Readonly<Record<ZeroStage, string>> = {
  0: 'baseline (stage 0)',
  1: 'P_os (stage 1)',
  2: 'P_os+g (stage 2)',
  3: 'P_os+g+p (stage 3, FSDP)',
};

/** One point of the ZeRO chart: a stage's model-state bytes on each device of a data-parallel group. */
export interface ZeroStatesDatum {
  readonly devices: number;
  readonly stage: string;
  readonly order: number;
  /** Bytes per device in GB (10^9), for the axis; the exact count is `bytes`. */
  readonly gigabytes: number;
  readonly bytes: string;
  /** "64 | P_os (stage 1) | 31.4 GB": devices, stage, GB, split by " | ". */
  readonly description: string;
}

/**
 * Model-state bytes per device (weights, gradients, optimizer states; no activations) for every
 * ZeRO stage at each data-parallel size, `parameters` as one flat buffer as ZeRO keeps it.
 */
export function zeroStatesData(
  parameters: bigint,
  precision: PrecisionName,
  devices: readonly number[],
): ZeroStatesDatum[] {
  return ZERO_STAGES.flatMap((stage) =>
    devices.map((count) => {
      const states = zeroModelStates(precisionOf(precision), stage, count, [parameters]);
      return {
        devices: count,
        stage: ZERO_STAGE_LABELS[stage],
        order: stage,
        gigabytes: Number(states.total) / 1e9,
        bytes: states.total.toString(),
        description: [String(count), ZERO_STAGE_LABELS[stage], formatGigabytes(states.total, 1)].join(' | '),
      };
    }),
  );
}

/** One line per ZeRO stage: model-state GB per device against the number of devices, both axes log2 and log10. */
export function zeroStatesSpec(data: readonly ZeroStatesDatum[], modelName: string, precision: string): TopLevelSpec {
  const devices = [...new Set(data.map((datum) => datum.devices))];
  const encoding = {
    x: {
      field: 'devices',
      type: 'quantitative',
      title: 'data-parallel devices N_d',
      scale: { type: 'log', base: 2 },
      axis: { values: devices, labelOverlap: false },
    },
    y: {
      field: 'gigabytes',
      type: 'quantitative',
      title: 'model states per device (GB)',
      scale: { type: 'log' },
    },
    color: {
      field: 'stage',
      type: 'nominal',
      title: 'ZeRO stage',
      sort: ZERO_STAGES.map((stage) => ZERO_STAGE_LABELS[stage]),
      legend: { labelLimit: 240 },
    },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    name: CHART_MARKS.zeroStates.chart,
    title: `Model states per device by ZeRO stage (${modelName}, ${precision})`,
    description:
      'Line chart: model-state bytes per device against the number of data-parallel devices, one line per ZeRO stage.',
    width: 420,
    height: 260,
    data: { values: [...data] },
    layer: [
      {
        name: CHART_MARKS.zeroStates.lines,
        mark: { type: 'line' },
        encoding: { ...encoding, description: { field: 'stage' } },
      },
      {
        name: CHART_MARKS.zeroStates.points,
        mark: { type: 'point', filled: true, size: 40 },
        encoding: {
          ...encoding,
          description: { field: 'description' },
          tooltip: [
            { field: 'devices', title: 'N_d' },
            { field: 'stage' },
            { field: 'bytes', title: 'bytes per device' },
          ],
        },
      },
    ],
  };
}
