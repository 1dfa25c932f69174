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
import {
  attainableFlopsPerSecond,
  predictedFlopsPerSecond,
  type Bound,
  type RooflineAssumptions,
  type RooflinePrediction,
} from '../analytic/roofline.js';
import { rational, rationalToNumber, type Rational } from '../core/exact.js';
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
  roofline: {
    chart: 'roofline',
    roofs: 'roofline_roofs',
    points: 'roofline_points',
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

/** One module of a roofline prediction as the roofline chart places it. Exact; the spec takes numbers. */
export interface RooflinePoint {
  /** Which prediction the point belongs to ("forward pass", "decode step"). */
  readonly series: string;
  readonly module: string;
  readonly bound: Bound;
  readonly flops: bigint;
  readonly bytes: bigint;
  /** FLOPs per byte: the x axis. */
  readonly intensity: Rational;
  /** FLOPs over the predicted time (efficiencies and launch costs included): the point's height. */
  readonly predicted: Rational;
  /** The roof above it: the most the device's figures allow this module (attainableFlopsPerSecond). */
  readonly attainable: Rational;
}

/** The modules of a prediction as chart points, and the modules a log-scale chart cannot place. */
export interface RooflinePoints {
  readonly points: readonly RooflinePoint[];
  /** Modules with no FLOPs (a gather) or no bytes: intensity 0 or undefined has no place on a log axis. */
  readonly notDrawn: readonly string[];
}

/** How charts and tables name a module kind: the per-layer residual adds have no leaf of their own. */
function moduleLabel(module: string): string {
  return module === 'layers.*' ? 'layers.* (residual adds)' : module === '' ? '(whole model)' : module;
}

/** One point per module of `prediction` that does work and moves bytes, in the prediction's order. */
export function rooflinePoints(series: string, prediction: RooflinePrediction): RooflinePoints {
  const points: RooflinePoint[] = [];
  const notDrawn: string[] = [];
  for (const module of prediction.modules) {
    const attainable = attainableFlopsPerSecond(module, prediction.assumptions);
    const predicted = predictedFlopsPerSecond(module);
    if (module.intensity === undefined || attainable === undefined || predicted === undefined) {
      notDrawn.push(moduleLabel(module.module));
      continue;
    }
    points.push({
      series,
      module: moduleLabel(module.module),
      bound: module.bound,
      flops: module.flops,
      bytes: module.bytes,
      intensity: module.intensity,
      predicted,
      attainable,
    });
  }
  return { points, notDrawn };
}

/** A corner of a roof line, in FLOPs per byte and FLOP/s (numbers: the chart's axes). */
interface RoofCorner {
  readonly roof: string;
  readonly intensity: number;
  readonly flops_per_second: number;
}

/** The powers of ten the x axis spans: every point and every ridge point inside, with room. */
function intensityDomain(points: readonly RooflinePoint[], ridges: readonly number[]): [number, number] {
  const values = [...points.map((point) => rationalToNumber(point.intensity)), ...ridges];
  const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  return [low, high === low ? high * 10 : high];
}

/**
 * The device's roofs over the chart's span: the bandwidth slope rising to the matmul peak at its
 * ridge point (peak / bandwidth), then flat; and, where the table's fp32 peak the other kernels
 * run at is lower, the same for it.
 */
function roofCorners(assumptions: RooflineAssumptions, domain: readonly [number, number]): RoofCorner[] {
  const bandwidth = Number(assumptions.bandwidth);
  const roofs = [
    { roof: `${assumptions.dtype} matmul peak`, peak: assumptions.matmulPeak },
    ...(assumptions.vectorPeak < assumptions.matmulPeak
      ? [{ roof: 'vector peak (other kernels)', peak: assumptions.vectorPeak }]
      : []),
  ];
  return roofs.flatMap(({ roof, peak }) => {
    const ridge = rationalToNumber(rational(peak, assumptions.bandwidth));
    const height = (intensity: number) => Math.min(Number(peak), intensity * bandwidth);
    const xs = [domain[0], ...(ridge > domain[0] && ridge < domain[1] ? [ridge] : []), domain[1]];
    return xs.map((intensity) => ({ roof, intensity, flops_per_second: height(intensity) }));
  });
}

const FLOP_RATE = (value: Rational) => `${(rationalToNumber(value) / 1e9).toPrecision(4)} GFLOP/s`;

/**
 * The roofline chart: arithmetic intensity against FLOP/s on log axes, the device's roofs (the
 * bandwidth slope and the compute ceilings), and one point per module of each prediction at its
 * predicted FLOP/s, coloured by the bound most of its time falls under.
 */
export function rooflineSpec(
  points: readonly RooflinePoint[],
  assumptions: RooflineAssumptions,
  title: string,
): TopLevelSpec {
  const ridges = [rational(assumptions.matmulPeak, assumptions.bandwidth)].map(rationalToNumber);
  const domain = intensityDomain(points, ridges);
  const values = points.map((point) => ({
    series: point.series,
    module: point.module,
    bound: point.bound,
    flops: point.flops.toString(),
    bytes: point.bytes.toString(),
    intensity: rationalToNumber(point.intensity),
    flops_per_second: rationalToNumber(point.predicted),
    attainable: FLOP_RATE(point.attainable),
    predicted: FLOP_RATE(point.predicted),
    description: [
      point.series,
      point.module,
      `${rationalToNumber(point.intensity).toPrecision(4)} FLOP/B`,
      FLOP_RATE(point.predicted),
    ].join(' | '),
  }));
  const x = {
    field: 'intensity',
    type: 'quantitative',
    title: 'arithmetic intensity (FLOPs per byte)',
    scale: { type: 'log', domain },
  } as const;
  const y = {
    field: 'flops_per_second',
    type: 'quantitative',
    title: 'attainable FLOP/s',
    scale: { type: 'log' },
    axis: { format: '~s' },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    name: CHART_MARKS.roofline.chart,
    title,
    description:
      "Roofline chart: each module's arithmetic intensity against its predicted FLOP/s, under the device's " +
      'bandwidth slope and compute ceilings.',
    width: 420,
    height: 280,
    layer: [
      {
        name: CHART_MARKS.roofline.roofs,
        data: { values: roofCorners(assumptions, domain) },
        mark: { type: 'line', color: '#555', clip: true },
        encoding: {
          x,
          y,
          detail: { field: 'roof' },
          strokeDash: { field: 'roof', type: 'nominal', title: 'roof', legend: { labelLimit: 240 } },
          order: { field: 'intensity', type: 'quantitative' },
          // One path per roof: its label is the roof it draws.
          description: { field: 'roof' },
        },
      },
      {
        name: CHART_MARKS.roofline.points,
        data: { values },
        mark: { type: 'point', filled: true, size: 50 },
        encoding: {
          x,
          y,
          color: {
            field: 'bound',
            type: 'nominal',
            title: 'bound',
            scale: { domain: ['compute', 'memory', 'launch'], range: ['#4c78a8', '#e45756', '#bab0ac'] },
          },
          shape: { field: 'series', type: 'nominal', title: 'run', legend: { labelLimit: 240 } },
          description: { field: 'description' },
          tooltip: [
            { field: 'series', title: 'run' },
            { field: 'module' },
            { field: 'flops', title: 'FLOPs' },
            { field: 'bytes' },
            { field: 'intensity', title: 'FLOPs per byte', format: '.4' },
            { field: 'predicted', title: 'predicted' },
            { field: 'attainable', title: 'roof' },
            { field: 'bound' },
          ],
        },
      },
    ],
  };
}
