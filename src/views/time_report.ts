/**
 * The `time` command's reports: one forward pass timed (wall times, rates beside the calibrated
 * and theoretical ones, time shares beside FLOP shares, where the time goes), or a sweep of
 * them with a fit of time against FLOPs. Data in, Report out: rendering is src/render's.
 *
 * --depth reads as in every command: 0 the wall time and the rates, 1 adds the time shares per
 * component, 2 per layer, 3 per module. A warning about the spread of the runs comes before any
 * rate, so no efficiency is read without it.
 */
import { modelLabel } from '../config/model_config.js';
import { MATMUL_COMPONENT_SHORT, configJson, runLabel } from './labels.js';
import { formatFlops, formatPercent, groupDigits } from '../core/format.js';
import {
  heading,
  list,
  paragraph,
  tableBlock,
  type Block,
  type Cell,
  type Depth,
  type Report,
} from '../render/table.js';
import type { MatmulComponent } from '../analytic/types.js';
import { gflopsPerSecond, NON_MATMUL, sharesByComponent, sharesByPath, type ShareRow } from '../timing/attribution.js';
import type { MatmulCalibration } from '../timing/calibrate.js';
import { efficiency, whereTimeGoes } from '../timing/diagnosis.js';
import { isSpreadLarge, LARGE_SPREAD_RATIO, spreadRatio, type SampleSummary } from '../timing/statistics.js';
import type { TimingSweep } from '../timing/sweep.js';
import type { ForwardTiming } from '../timing/time_forward.js';
import type { ModelTiming } from '../timing/time_model.js';
import type { ActiveBackend } from '../runtime/backend.js';

const ms = (value: number) => value.toFixed(value >= 100 ? 1 : value >= 1 ? 2 : 3);
const gflops = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');

/** One sentence on what the backend's kernel times mean. */
function kernelTimeSentence(backend: ActiveBackend): string {
  return backend.synchronousKernelTimes
    ? `Backend: ${backend.name} (${backend.description}). Its kernels finish before they return, so the clock around each kernel measures its compute.`
    : `Backend: ${backend.name} (${backend.description}). Its kernels return before the device has finished: ` +
        'wall times wait for the logits to be read back, but per-kernel times are only dispatch times, so the shares below are not compute shares.';
}

/** The backend a timing ran on, as both timing reports' JSON names it. */
function backendJson(backend: ActiveBackend) {
  return {
    backend: backend.name,
    backend_description: backend.description,
    synchronous_kernel_times: backend.synchronousKernelTimes,
  };
}

/** How the time shares are grouped at each depth from 1: components, layers, whole module paths. */
type ShareGrouping = 'component' | 'layer' | 'module';

const SHARE_GROUPINGS: readonly ShareGrouping[] = ['component', 'layer', 'module'];

/** Path segments a grouping keeps: "layers.3" per layer; every segment per module. */
const PATH_SEGMENTS: Readonly<Record<Exclude<ShareGrouping, 'component'>, number>> = {
  layer: 2,
  module: Number.POSITIVE_INFINITY,
};

function shareKey(row: ShareRow, grouping: ShareGrouping): string {
  if (grouping === 'component') {
    return row.key === NON_MATMUL ? 'non-matmul' : (MATMUL_COMPONENT_SHORT[row.key as MatmulComponent] ?? row.key);
  }
  return row.key === '' ? '(outside modules)' : row.key;
}

function shareRows(timing: ForwardTiming, grouping: ShareGrouping): ShareRow[] {
  return grouping === 'component'
    ? sharesByComponent(timing.records)
    : sharesByPath(timing.records, PATH_SEGMENTS[grouping]);
}

const SHARE_TITLES: Readonly<Record<ShareGrouping, string>> = {
  component: 'per component',
  layer: 'per layer',
  module: 'per module',
};

const times = (ratio: number) => (Number.isFinite(ratio) ? `${ratio.toFixed(1)}x` : 'unbounded');

/**
 * One sentence per timing whose runs spread over LARGE_SPREAD_RATIO (max/min): its median, and
 * every rate or efficiency taken from it, is then not the backend's speed but the machine's mood.
 */
function spreadWarnings(measured: readonly { readonly what: string; readonly summary: SampleSummary }[]): string[] {
  return measured
    .filter(({ summary }) => isSpreadLarge(summary))
    .map(
      ({ what, summary }) =>
        `Warning: the ${summary.count} ${what} took from ${ms(summary.min)} to ${ms(summary.max)} ms (max/min ` +
        `${times(spreadRatio(summary))}, over ${LARGE_SPREAD_RATIO}x), so the median ${ms(summary.median)} ms and ` +
        'every rate and efficiency taken from it are uncertain: the machine was busy or the timing is unsteady. ' +
        'Rerun on a quieter machine, or with more --runs.',
    );
}

function calibrationSpreads(calibration: ModelTiming['calibration']) {
  if (calibration === undefined) return [];
  const runs = (matmul: MatmulCalibration) => ({
    what: `calls of the bare matmul ${matmul.label}`,
    summary: matmul.summary,
  });
  return [runs(calibration.dispatched), ...(calibration.fastPath === undefined ? [] : [runs(calibration.fastPath)])];
}

function calibrationJson(calibration: MatmulCalibration | undefined, achieved: number) {
  if (calibration === undefined) return null;
  return {
    label: calibration.label,
    flops: calibration.flops,
    median_ms: calibration.summary.median,
    runs: calibration.summary.count,
    gflops: calibration.gflops,
    forward_efficiency: efficiency(achieved, calibration.gflops),
  };
}

export function timeReport({ timing, calibration, peak }: ModelTiming, depth: Depth): Report {
  const { summary, config, run, backend } = timing;
  const blocks: Block[] = [
    heading(`Forward time: ${modelLabel(config)}, ${runLabel(run)}, on ${backend.name}`, 1),
    paragraph(kernelTimeSentence(backend)),
    ...spreadWarnings([{ what: 'untraced forward passes', summary }, ...calibrationSpreads(calibration)]).map(
      (warning) => paragraph(warning),
    ),
  ];

  blocks.push(
    tableBlock({
      title: `Wall time of ${summary.count} untraced forward passes after ${timing.warmupRuns} warm-up`,
      columns: [
        { header: 'runs', align: 'right' },
        { header: 'min ms', align: 'right' },
        { header: 'median ms', align: 'right' },
        { header: 'max ms', align: 'right' },
        { header: 'tokens/s', align: 'right' },
        { header: 'matmul FLOPs', align: 'right' },
        { header: 'GFLOP/s', align: 'right' },
      ],
      rows: [
        [
          summary.count,
          ms(summary.min),
          ms(summary.median),
          ms(summary.max),
          groupDigits(BigInt(Math.round(timing.tokensPerSecond))),
          formatFlops(timing.matmulFlops),
          gflops(timing.achievedGflops),
        ],
      ],
      notes: ['GFLOP/s is matmul FLOPs over the median time; non-matmul work is not counted in it.'],
    }),
  );

  const rateRows: Cell[][] = [['forward pass (matmul FLOPs / median time)', gflops(timing.achievedGflops), '']];
  const rateNotes: string[] = [];
  if (calibration !== undefined) {
    const { dispatched, fastPath } = calibration;
    rateRows.push([
      `bare matmul as the model dispatches it: ${dispatched.label} (${calibration.path})`,
      gflops(dispatched.gflops),
      formatPercent(efficiency(timing.achievedGflops, dispatched.gflops)),
    ]);
    if (fastPath !== undefined) {
      rateRows.push([
        `bare matmul, same work with batch 1 and no transposes: ${fastPath.label}`,
        gflops(fastPath.gflops),
        formatPercent(efficiency(timing.achievedGflops, fastPath.gflops)),
      ]);
    }
    rateNotes.push(
      'Efficiency is the forward pass rate over the row\'s rate; "calibrated" means the higher of the bare-matmul rows.',
    );
  }
  if (peak !== undefined) {
    const threads = `${peak.threads} ${peak.threads === 1 ? 'thread' : 'threads'}`;
    rateRows.push([
      `theoretical peak, ${threads} (estimate)`,
      gflops(peak.usableGflops),
      formatPercent(efficiency(timing.achievedGflops, peak.usableGflops)),
    ]);
    rateRows.push([
      `theoretical peak, whole machine (estimate)`,
      gflops(peak.machineGflops),
      formatPercent(efficiency(timing.achievedGflops, peak.machineGflops)),
    ]);
    rateNotes.push(`Peak ${peak.derivation}`);
  } else {
    rateNotes.push('No theoretical peak: the CPU clock could not be read here.');
  }
  blocks.push(
    tableBlock({
      title: 'Matmul rates',
      columns: [
        { header: 'rate' },
        { header: 'GFLOP/s', align: 'right' },
        { header: 'forward efficiency', align: 'right' },
      ],
      rows: rateRows,
      notes: rateNotes,
    }),
  );

  // Depth 1 adds the shares per component, 2 per layer, 3 per module, as verify adds its tables.
  const groupings = SHARE_GROUPINGS.slice(0, depth);
  for (const grouping of groupings) {
    const shares = shareRows(timing, grouping);
    blocks.push(
      tableBlock({
        title: `Share of kernel time beside share of FLOPs, ${SHARE_TITLES[grouping]} (one traced run)`,
        columns: [
          { header: grouping },
          { header: 'kernels', align: 'right' },
          { header: 'time ms', align: 'right' },
          { header: 'time share', align: 'right' },
          { header: 'FLOP share', align: 'right' },
          { header: 'GFLOP/s', align: 'right' },
        ],
        rows: shares.map((row) => [
          shareKey(row, grouping),
          row.kernels,
          ms(row.timeMs),
          formatPercent(row.timeShare),
          formatPercent(row.flopShare),
          gflops(gflopsPerSecond(row.flops, row.timeMs)),
        ]),
        totals: [
          [
            'kernels in total',
            shares.reduce((n, row) => n + row.kernels, 0),
            ms(timing.kernelMs),
            '100.0%',
            '100.0%',
            '',
          ],
        ],
        notes: [
          `Kernel times from one traced run (wall ${ms(timing.tracedWallMs)} ms, of which ${ms(timing.kernelMs)} ms inside kernels); ` +
            'each kernel is attributed to the module path it ran in.',
          'FLOPs are matmul FLOPs plus non-matmul FLOPs by the rule table; kernels without a rule add time but no FLOPs.',
        ],
      }),
    );
  }
  // JSON carries the finest grouping shown, and the components at depth 0.
  const grouping = groupings.at(-1) ?? 'component';
  const rows = shareRows(timing, grouping);

  const diagnosis =
    calibration === undefined
      ? []
      : whereTimeGoes({
          backendName: backend.name,
          records: timing.records,
          achievedGflops: timing.achievedGflops,
          calibratedGflops: calibration.bestGflops,
          calibratedLabel: (calibration.fastPath ?? calibration.dispatched).label,
          tracedWallMs: timing.tracedWallMs,
        });
  if (depth >= 1 && diagnosis.length > 0) {
    blocks.push(heading('Where the time goes', 2), paragraph(diagnosis[0]!));
    if (diagnosis.length > 1) blocks.push(list(diagnosis.slice(1)));
  }

  return {
    blocks,
    json: {
      ...backendJson(backend),
      model: configJson(config),
      run: { batch: run.batch, seq: run.seq },
      warmup_runs: timing.warmupRuns,
      runs: summary.count,
      wall_ms: {
        min: summary.min,
        median: summary.median,
        max: summary.max,
        mean: summary.mean,
        samples: timing.samplesMs,
      },
      tokens_per_second: timing.tokensPerSecond,
      matmul_flops: timing.matmulFlops,
      achieved_gflops: timing.achievedGflops,
      calibration:
        calibration === undefined
          ? null
          : {
              path: calibration.path,
              dispatched: calibrationJson(calibration.dispatched, timing.achievedGflops),
              fast_path: calibrationJson(calibration.fastPath, timing.achievedGflops),
              calibrated_gflops: calibration.bestGflops,
              efficiency: efficiency(timing.achievedGflops, calibration.bestGflops),
            },
      peak:
        peak === undefined
          ? null
          : {
              estimate: true,
              derivation: peak.derivation,
              cpu_model: peak.cpu.model,
              cores: peak.cores,
              threads: peak.threads,
              clock_ghz: peak.clockGHz,
              simd: peak.simd.label,
              flops_per_cycle: peak.flopsPerCycle,
              usable_gflops: peak.usableGflops,
              machine_gflops: peak.machineGflops,
            },
      shares: {
        by: grouping,
        rows: rows.map((row) => ({
          key: row.key,
          kernels: row.kernels,
          time_ms: row.timeMs,
          time_share: row.timeShare,
          flops: row.flops,
          flop_share: row.flopShare,
          uncounted_kernels: row.uncountedKernels,
        })),
      },
      traced: {
        wall_ms: timing.tracedWallMs,
        kernel_ms: timing.kernelMs,
        kernels: timing.records.filter((r) => !r.nested).length,
      },
      where_time_goes: diagnosis,
    },
  };
}

/** The sweep: one row per point, then the fit of median time against matmul FLOPs. */
export function sweepTimingReport(sweep: TimingSweep): Report {
  const { backend, points, fit } = sweep;
  const blocks: Block[] = [
    heading(`Forward time across ${points.length} points on ${backend.name}`, 1),
    paragraph(kernelTimeSentence(backend)),
    ...spreadWarnings(
      points.map(({ label, timing }) => ({ what: `untraced forward passes of ${label}`, summary: timing.summary })),
    ).map((warning) => paragraph(warning)),
  ];
  blocks.push(
    tableBlock({
      title: 'Time and FLOPs per point',
      columns: [
        { header: 'point' },
        { header: 'model' },
        { header: 'batch x seq', align: 'right' },
        { header: 'matmul FLOPs', align: 'right' },
        { header: 'runs', align: 'right' },
        { header: 'min ms', align: 'right' },
        { header: 'median ms', align: 'right' },
        { header: 'max ms', align: 'right' },
        { header: 'GFLOP/s', align: 'right' },
        { header: 'non-matmul time', align: 'right' },
      ],
      rows: points.map(({ label, timing, nonMatmulTimeFraction }) => [
        label,
        modelLabel(timing.config),
        runLabel(timing.run),
        formatFlops(timing.matmulFlops),
        timing.summary.count,
        ms(timing.summary.min),
        ms(timing.summary.median),
        ms(timing.summary.max),
        gflops(timing.achievedGflops),
        formatPercent(nonMatmulTimeFraction),
      ]),
      notes: ["Non-matmul time is the share of one traced run's kernel time spent in kernels that are not matmuls."],
    }),
  );
  blocks.push(
    paragraph(
      fit === undefined
        ? 'No fit: the points do not differ in FLOPs.'
        : `Least-squares fit of median time against matmul FLOPs: time = ${fit.msPerGflop.toFixed(4)} ms/GFLOP x GFLOP ` +
            `${fit.interceptMs >= 0 ? '+' : '-'} ${Math.abs(fit.interceptMs).toFixed(3)} ms (r^2 = ${fit.r2.toFixed(4)}, ${fit.count} points): ` +
            `extra matmul work runs at ${gflops(fit.marginalGflops)} GFLOP/s, and a pass costs ${fit.interceptMs.toFixed(3)} ms before any FLOP.`,
    ),
  );
  return {
    blocks,
    json: {
      ...backendJson(backend),
      points: points.map(({ label, timing, nonMatmulTimeFraction }) => ({
        label,
        model: modelLabel(timing.config),
        batch: timing.run.batch,
        seq: timing.run.seq,
        flops: timing.matmulFlops,
        runs: timing.summary.count,
        median_ms: timing.summary.median,
        min_ms: timing.summary.min,
        max_ms: timing.summary.max,
        tokens_per_second: timing.tokensPerSecond,
        achieved_gflops: timing.achievedGflops,
        non_matmul_time_fraction: nonMatmulTimeFraction,
      })),
      fit:
        fit === undefined
          ? null
          : {
              ms_per_gflop: fit.msPerGflop,
              intercept_ms: fit.interceptMs,
              r2: fit.r2,
              marginal_gflops: fit.marginalGflops,
              points: fit.count,
            },
    },
  };
}
