/**
 * One forward-pass config measured for scripts/bench: untraced, traced and traced-with-kernel-
 * timers runs interleaved (the order rotating every round, so drift and order effects fall on
 * all three alike), the ratio of their medians, the achieved matmul rate against the calibrated
 * bare matmul, and where the kernel time goes.
 *
 * A traced run reads its records and their totals inside the clock, as a user's trace does: the
 * tracer builds records only when they are first read, so a run that never reads them would leave
 * that cost out of the overhead. No GC is forced in the timed loop: a forced collection is work a
 * user's run never does, and the garbage each mode leaves falls on the next run, whose mode
 * rotates every round. Each run's process CPU time is kept beside its wall time: on a machine
 * shared with other work, CPU time leaves out the time the process waited for a core.
 */
import type { ActiveBackend } from '../src/runtime/backend.js';
import { loadModelConfig } from '../src/config/index.js';
import { disposeWeights, forward, initWeights, tokenIds, weightEntries } from '../src/model/index.js';
import { gflopsPerSecond, sharesByComponent } from '../src/timing/attribution.js';
import {
  calibrateLargestMatmul,
  calibrateMatmul,
  dispatchLabel,
  dispatchOfRecord,
  type MatmulDispatch,
} from '../src/timing/calibrate.js';
import { efficiency, whereTimeGoes } from '../src/timing/diagnosis.js';
import { median } from '../src/timing/statistics.js';
import { traceTotals } from '../src/trace/summary.js';
import { traceKernels } from '../src/trace/tracer.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import type { BenchConfig } from './bench_configs.js';

/**
 * Rounds of (untraced, traced, timed) per config: within this budget, but never fewer than
 * MIN_ROUNDS. A pass of the larger configs varies by 5-10% from run to run on this shared machine
 * while the tracer adds well under 1%, so with the 8-11 rounds a 20 s budget gave them, their
 * traced / untraced medians read anywhere from 0.94 to 1.05.
 */
const ROUND_BUDGET_MS = 45_000;
const MIN_ROUNDS = 15;
const MAX_ROUNDS = 60;
const WARMUP_MS = 500;
const CALIBRATION_MS = 800;
const CORE_SHAPE_MS = 400;

const MODES = ['untraced', 'traced', 'timed'] as const;
type Mode = (typeof MODES)[number];

export interface ForwardBenchResult {
  readonly label: string;
  readonly model: string;
  readonly d_model: number;
  readonly run: { batch: number; seq: number };
  readonly matmul_flops: string;
  readonly rounds: number;
  /** Kernel records each traced run built and read. */
  readonly records_read: number;
  readonly median_ms: Record<Mode, number>;
  readonly min_ms: Record<Mode, number>;
  /** traced / untraced and timed / untraced, medians. */
  readonly overhead: { traced: number; timed: number };
  /**
   * Median over rounds of each round's own traced / untraced (and timed / untraced): runs of one
   * round are adjacent in time, so a change in the machine's load between rounds cancels.
   */
  readonly paired_overhead: { traced: number; timed: number };
  /** Median process CPU time per run (user + system), and the same ratios over it. */
  readonly median_cpu_ms: Record<Mode, number>;
  readonly cpu_overhead: { traced: number; timed: number };
  readonly forward_gflops: number;
  readonly calibration: {
    readonly path: string;
    readonly dispatched: { label: string; gflops: number };
    readonly fast_path: { label: string; gflops: number } | null;
    readonly calibrated_gflops: number;
  } | null;
  readonly efficiency: number;
  /** The attention core in the last kernel-timed run, as attentionCoreTiming reads it. */
  readonly attention_core: AttentionCoreTiming;
  /**
   * The core's own matmul shapes timed alone, weighted by how often the pass runs each: the rate
   * the runtime reaches at those shapes, beside the largest matmul's that "calibrated" means.
   * `gflops` keeps one right operand, as the calibration keeps a weight; `fresh_gflops` makes a
   * new one for every product, as the core's per-head slices are, so each product pays the
   * packing of its right operand (calibrate.ts); `core_of_fresh` is the core's rate over it.
   */
  readonly attention_core_bare: {
    readonly shapes: string[];
    readonly gflops: number;
    readonly fresh_gflops: number;
    readonly core_of_fresh: number;
  } | null;
  readonly shares: { key: string; time_share: number; flop_share: number; gflops: number }[];
  readonly where_time_goes: string[];
}

/** The core's matmul paths, dense or one block. */
const CORE_PATH = /\.attn\.(?:scores|weighted_sum)(?:\.q\d+(?:_k\d+)?)?$/;
/** Kernels at those paths that only move the operands of a per-head dispatch. */
const DISPATCH_MOVES = new Set(['Transpose', 'Unpack', 'Slice', 'Pack', 'Reshape']);

export interface AttentionCoreTiming {
  /** The core's share of all kernel time in the pass. */
  readonly time_share: number;
  /** The core's matmul FLOPs over the time of its matmuls and their dispatch's data movement. */
  readonly gflops: number;
  /** gflops over the calibrated bare-matmul rate. */
  readonly of_calibrated: number;
  readonly kernels: number;
}

/** Time each distinct matmul shape of the attention core alone, right operand kept and fresh. */
async function attentionCoreBare(
  records: readonly KernelRecord[],
): Promise<{ shapes: string[]; gflops: number; freshGflops: number } | null> {
  const byLabel = new Map<string, { dispatch: MatmulDispatch; count: number }>();
  for (const record of records) {
    if (record.nested || record.matmul === undefined || !CORE_PATH.test(record.path)) continue;
    const dispatch = dispatchOfRecord(record);
    const label = dispatchLabel(dispatch);
    const entry = byLabel.get(label);
    if (entry === undefined) byLabel.set(label, { dispatch, count: 1 });
    else entry.count += 1;
  }
  if (byLabel.size === 0) return null;
  let flops = 0n;
  let keptMs = 0;
  let freshMs = 0;
  for (const { dispatch, count } of byLabel.values()) {
    const kept = await calibrateMatmul(dispatch, { synchronous: true, minTimeMs: CORE_SHAPE_MS });
    const fresh = await calibrateMatmul(dispatch, {
      synchronous: true,
      minTimeMs: CORE_SHAPE_MS,
      rightOperand: 'fresh',
    });
    flops += kept.flops * BigInt(count);
    keptMs += kept.summary.median * count;
    freshMs += fresh.summary.median * count;
  }
  return {
    shapes: [...byLabel.keys()],
    gflops: gflopsPerSecond(flops, keptMs),
    freshGflops: gflopsPerSecond(flops, freshMs),
  };
}

/**
 * The attention core's rate in a kernel-timed trace: its matmuls' FLOPs over the time of its
 * matmuls and of the kernels that only move data for them (k's transpose, the unstacks and the
 * stacks of a per-head dispatch), at the scores and weighted-sum paths. The scale, the mask and
 * the softmax are not matmul work and stay out.
 */
export function attentionCoreTiming(records: readonly KernelRecord[], calibratedGflops: number): AttentionCoreTiming {
  let total = 0;
  let coreMs = 0;
  let flops = 0n;
  let kernels = 0;
  for (const record of records) {
    if (record.nested) continue;
    total += record.timeMs ?? 0;
    if (!CORE_PATH.test(record.path)) continue;
    if (record.matmul === undefined && !DISPATCH_MOVES.has(record.kernel)) continue;
    coreMs += record.timeMs ?? 0;
    flops += record.matmul?.flops ?? 0n;
    kernels += 1;
  }
  const gflops = gflopsPerSecond(flops, coreMs);
  return { time_share: coreMs / total, gflops, of_calibrated: gflops / calibratedGflops, kernels };
}

export async function benchForward(bench: BenchConfig, backend: ActiveBackend): Promise<ForwardBenchResult> {
  const config = loadModelConfig(bench.model, bench.overrides);
  const weights = initWeights(config, { seed: 0, init: 'random' });
  const ids = tokenIds(config, bench.run, { seed: 0, init: 'random' });
  const weightTensors = weightEntries(weights).map((entry) => entry.tensor);
  let lastRecords: KernelRecord[] = [];
  let lastTimedWallMs = 0;
  let recordsRead = 0;
  /** A traced pass as a user's trace runs it: weights marked, then the records and totals read. */
  const tracedPass = (timeKernels: boolean): KernelRecord[] => {
    const trace = traceKernels(() => forward(config, weights, ids), { timeKernels, weights: weightTensors });
    trace.result.dispose();
    const records = trace.records;
    recordsRead = records.length;
    traceTotals(records);
    return records;
  };
  const runOnce: Record<Mode, () => number> = {
    untraced: () => {
      const start = performance.now();
      forward(config, weights, ids).dispose();
      return performance.now() - start;
    },
    traced: () => {
      const start = performance.now();
      tracedPass(false);
      return performance.now() - start;
    },
    timed: () => {
      const start = performance.now();
      const records = tracedPass(true);
      const wall = performance.now() - start;
      lastRecords = records;
      lastTimedWallMs = wall;
      return wall;
    },
  };
  try {
    const warmupStart = performance.now();
    let warmupRounds = 0;
    let roundMs = 0;
    while (warmupRounds < 2 || performance.now() - warmupStart < WARMUP_MS) {
      const roundStart = performance.now();
      for (const mode of MODES) runOnce[mode]();
      roundMs = performance.now() - roundStart;
      warmupRounds++;
    }
    const rounds = Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.floor(ROUND_BUDGET_MS / roundMs)));
    const samples: Record<Mode, number[]> = { untraced: [], traced: [], timed: [] };
    const cpuSamples: Record<Mode, number[]> = { untraced: [], traced: [], timed: [] };
    for (let round = 0; round < rounds; round++) {
      for (let slot = 0; slot < MODES.length; slot++) {
        const mode = MODES[(round + slot) % MODES.length]!;
        const cpuStart = process.cpuUsage();
        samples[mode].push(runOnce[mode]());
        const cpu = process.cpuUsage(cpuStart);
        cpuSamples[mode].push((cpu.user + cpu.system) / 1000);
      }
    }
    const medians = Object.fromEntries(MODES.map((mode) => [mode, median(samples[mode])])) as Record<Mode, number>;
    const cpuMedians = Object.fromEntries(MODES.map((mode) => [mode, median(cpuSamples[mode])])) as Record<
      Mode,
      number
    >;
    const minima = Object.fromEntries(MODES.map((mode) => [mode, Math.min(...samples[mode])])) as Record<Mode, number>;

    let matmulFlops = 0n;
    for (const record of lastRecords)
      if (!record.nested && record.matmul !== undefined) matmulFlops += record.matmul.flops;
    const forwardGflops = gflopsPerSecond(matmulFlops, medians.untraced);
    const calibration = await calibrateLargestMatmul(lastRecords, { synchronous: true, minTimeMs: CALIBRATION_MS });
    const calibrated = calibration?.bestGflops ?? NaN;
    const where =
      calibration === undefined
        ? []
        : whereTimeGoes({
            backendName: backend.name,
            records: lastRecords,
            achievedGflops: forwardGflops,
            calibratedGflops: calibrated,
            calibratedLabel: (calibration.fastPath ?? calibration.dispatched).label,
            tracedWallMs: lastTimedWallMs,
          });
    const coreTiming = attentionCoreTiming(lastRecords, calibrated);
    const coreBare = await attentionCoreBare(lastRecords);
    return {
      label: bench.label,
      model: config.name,
      d_model: config.d_model,
      run: { batch: bench.run.batch, seq: bench.run.seq },
      matmul_flops: matmulFlops.toString(),
      rounds,
      records_read: recordsRead,
      median_ms: medians,
      min_ms: minima,
      overhead: { traced: medians.traced / medians.untraced, timed: medians.timed / medians.untraced },
      paired_overhead: {
        traced: median(samples.traced.map((ms, round) => ms / samples.untraced[round]!)),
        timed: median(samples.timed.map((ms, round) => ms / samples.untraced[round]!)),
      },
      median_cpu_ms: cpuMedians,
      cpu_overhead: { traced: cpuMedians.traced / cpuMedians.untraced, timed: cpuMedians.timed / cpuMedians.untraced },
      forward_gflops: forwardGflops,
      calibration:
        calibration === undefined
          ? null
          : {
              path: calibration.path,
              dispatched: { label: calibration.dispatched.label, gflops: calibration.dispatched.gflops },
              fast_path:
                calibration.fastPath === undefined
                  ? null
                  : { label: calibration.fastPath.label, gflops: calibration.fastPath.gflops },
              calibrated_gflops: calibrated,
            },
      efficiency: efficiency(forwardGflops, calibrated),
      attention_core: coreTiming,
      attention_core_bare:
        coreBare === null
          ? null
          : {
              shapes: coreBare.shapes,
              gflops: coreBare.gflops,
              fresh_gflops: coreBare.freshGflops,
              core_of_fresh: coreTiming.gflops / coreBare.freshGflops,
            },
      shares: sharesByComponent(lastRecords).map((row) => ({
        key: row.key,
        time_share: row.timeShare,
        flop_share: row.flopShare,
        gflops: gflopsPerSecond(row.flops, row.timeMs),
      })),
      where_time_goes: where,
    };
  } finally {
    ids.dispose();
    disposeWeights(weights);
  }
}
