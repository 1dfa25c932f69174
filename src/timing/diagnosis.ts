/**
 * Where the time goes when a forward pass falls short of the calibrated matmul rate: sentences
 * naming each matmul component with its share of time, its rate and how its matmuls were
 * dispatched, the non-matmul kernels that cost the most, and the time spent outside kernels.
 * Built from the traced run's records alone, so it can be checked on synthetic records.
 */
import { formatPercent } from '../core/format.js';
import { componentOfRecord, gflopsPerSecond, NON_MATMUL, sharesBy, sharesByComponent } from './attribution.js';
import { dispatchDims, dispatchLabel, dispatchOfRecord, isFastPathDispatch } from './calibrate.js';
import type { KernelRecord } from '../core/kernel_record.js';

/** The forward pass should reach this fraction of the calibrated bare-matmul rate. */
export const EFFICIENCY_TARGET = 0.8;

/** How many non-matmul kernels the diagnosis names. */
const NAMED_KERNELS = 4;

export interface DispatchCount {
  readonly label: string;
  readonly fastPath: boolean;
  /** Broadcast batch of the matmul. */
  readonly batch: number;
  readonly transposed: boolean;
  readonly count: number;
  readonly timeMs: number;
}

/** Distinct matmul dispatches per component, most time first. */
function dispatchesByComponent(records: readonly KernelRecord[]): Map<string, DispatchCount[]> {
  const byComponent = new Map<string, Map<string, DispatchCount>>();
  for (const record of records) {
    if (record.nested || record.matmul === undefined) continue;
    const component = componentOfRecord(record);
    const dispatch = dispatchOfRecord(record);
    const label = dispatchLabel(dispatch);
    let dispatches = byComponent.get(component);
    if (dispatches === undefined) {
      dispatches = new Map();
      byComponent.set(component, dispatches);
    }
    const previous = dispatches.get(label);
    dispatches.set(label, {
      label,
      fastPath: isFastPathDispatch(dispatch),
      batch: dispatchDims(dispatch).batch,
      transposed: dispatch.transposeA || dispatch.transposeB,
      count: (previous?.count ?? 0) + 1,
      timeMs: (previous?.timeMs ?? 0) + (record.timeMs ?? 0),
    });
  }
  return new Map(
    [...byComponent].map(([component, map]) => [component, [...map.values()].sort((a, b) => b.timeMs - a.timeMs)]),
  );
}

export interface DiagnosisInput {
  readonly backendName: string;
  readonly records: readonly KernelRecord[];
  /** Matmul GFLOP/s of the untraced runs at their median. */
  readonly achievedGflops: number;
  /** The calibrated bare-matmul rate the efficiency is taken against. */
  readonly calibratedGflops: number;
  /** What that rate was measured on, e.g. "[256,512] x [512,8192]". */
  readonly calibratedLabel: string;
  readonly tracedWallMs: number;
}

/** Efficiency = achieved / calibrated. */
export function efficiency(achievedGflops: number, calibratedGflops: number): number {
  return calibratedGflops > 0 ? achievedGflops / calibratedGflops : NaN;
}

/** One sentence per place the time goes; the first says whether the target is met. */
export function whereTimeGoes(input: DiagnosisInput): string[] {
  const { records, achievedGflops, calibratedGflops } = input;
  const reached = efficiency(achievedGflops, calibratedGflops);
  const rate = (gflops: number) => `${gflops.toFixed(2)} GFLOP/s`;
  const headline =
    `The forward pass does its matmul work at ${rate(achievedGflops)}, ${formatPercent(reached)} of the bare-matmul ` +
    `rate calibrated on ${input.calibratedLabel} (${rate(calibratedGflops)})`;
  if (reached >= EFFICIENCY_TARGET)
    return [`${headline}: at or above the ${formatPercent(EFFICIENCY_TARGET, 0)} target.`];

  const sentences = [`${headline}, below the ${formatPercent(EFFICIENCY_TARGET, 0)} target. Where the time goes:`];
  const dispatches = dispatchesByComponent(records);
  const rows = sharesByComponent(records).sort((a, b) => b.timeMs - a.timeMs);
  for (const row of rows) {
    const shares = `${formatPercent(row.timeShare)} of kernel time for ${formatPercent(row.flopShare)} of FLOPs`;
    if (row.key === NON_MATMUL) {
      const kernels = sharesBy(
        records.filter((record) => componentOfRecord(record) === NON_MATMUL),
        (record) => record.kernel,
      )
        .sort((a, b) => b.timeMs - a.timeMs)
        .slice(0, NAMED_KERNELS)
        .map((kernel) => `${kernel.key} ${formatPercent(kernel.timeMs / totalKernelMs(records))}`);
      sentences.push(`non-matmul kernels: ${shares}; the costliest: ${kernels.join(', ')}.`);
      continue;
    }
    const componentRate = gflopsPerSecond(row.matmulFlops, row.timeMs);
    const componentDispatches = dispatches.get(row.key) ?? [];
    const listed = componentDispatches.map((d) => `${d.label} (x${d.count})`).join(', ');
    const reasons = offFastPathReasons(componentDispatches);
    const why =
      input.backendName === 'wasm' && reasons.length > 0
        ? `: ${reasons.join(' and ')} ${reasons.length > 1 ? 'keep' : 'keeps'} XNNPACK off its fast path (batch 1, no transposes)`
        : '';
    sentences.push(
      `${row.key}: ${shares} at ${rate(componentRate)} (${formatPercent(efficiency(componentRate, calibratedGflops))} ` +
        `of calibrated); dispatched as ${listed}${why}.`,
    );
  }
  if (
    rows.some(
      (row) => row.key !== NON_MATMUL && efficiency(gflopsPerSecond(row.matmulFlops, row.timeMs), calibratedGflops) > 1,
    )
  ) {
    sentences.push(
      'a component above 100% of calibrated is not an error: every component is compared with the rate of the largest ' +
        'matmul, and smaller shapes (or a quieter moment on a shared machine) can run faster.',
    );
  }
  const kernelMs = totalKernelMs(records);
  const outsideMs = Math.max(0, input.tracedWallMs - kernelMs);
  sentences.push(
    `outside kernels (op dispatch in JavaScript, the tracer and its timers): ${outsideMs.toFixed(2)} ms of the traced ` +
      `run's ${input.tracedWallMs.toFixed(2)} ms (${formatPercent(outsideMs / input.tracedWallMs)}).`,
  );
  return sentences;
}

/** What keeps a component's dispatches off the fast path: a transposed operand, a batch above 1. */
function offFastPathReasons(dispatches: readonly DispatchCount[]): string[] {
  const reasons: string[] = [];
  if (dispatches.some((d) => d.transposed)) reasons.push('a transposed operand');
  const batches = [...new Set(dispatches.filter((d) => d.batch > 1).map((d) => d.batch))];
  if (batches.length > 0) reasons.push(`a batch of ${batches.join(' or ')}`);
  return reasons;
}

function totalKernelMs(records: readonly KernelRecord[]): number {
  let total = 0;
  for (const record of records) if (!record.nested) total += record.timeMs ?? 0;
  return total;
}
