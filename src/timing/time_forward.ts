/**
 * Timing forward passes: warm-up runs, then timed runs without the tracer for wall time, then one
 * run traced with kernel times for attribution to module paths. Every tensor is released, also
 * when a run throws.
 *
 * Wall time stops when the logits exist: at once on backends whose kernels are synchronous
 * (wasm, cpu, tfjs-node on CPU), and after reading them back on the others (a GPU has only
 * queued the work when the call returns), so the clock stops when the device has finished.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initRunWeights, type ActiveBackend } from '../runtime/backend.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { disposeWeights, forward, tokenIds, type WeightInit } from '../model/index.js';
import { traceKernels } from '../trace/tracer.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { gflopsPerSecond } from './attribution.js';
import { summarize, type SampleSummary } from './statistics.js';

/** Fewest timed runs a median is taken over, whatever the time budget. */
export const MIN_TIMED_RUNS = 3;
/** Most timed runs the budget can ask for. */
export const MAX_TIMED_RUNS = 1000;
/** How long the timed runs take by default: "a few seconds". */
const DEFAULT_TARGET_MS = 3000;
const DEFAULT_WARMUP_RUNS = 2;
/**
 * Without an explicit warm-up count, warm-up goes on until this much time has passed (at most
 * MAX_WARMUP_RUNS runs): the first passes of a fresh process run unoptimised JavaScript and
 * allocate wasm memory, and a fast model needs dozens of passes before its time settles.
 */
const WARMUP_MIN_MS = 500;
const MAX_WARMUP_RUNS = 50;

export type TimingPhase = 'warm-up' | 'timed' | 'traced';

export interface TimeForwardOptions {
  /** Timed runs; by default as many as fit in targetMs (at least MIN_TIMED_RUNS). */
  readonly runs?: number;
  readonly targetMs?: number;
  /** Exactly this many warm-up runs; by default DEFAULT_WARMUP_RUNS or more, until WARMUP_MIN_MS. */
  readonly warmup?: number;
  readonly seed?: number;
  readonly init?: WeightInit;
  /** Called after each run with the runs done and planned in the phase. */
  readonly onProgress?: (phase: TimingPhase, done: number, total: number) => void;
  /** Called once the warm-up has measured one run, with the time the rest is expected to take. */
  readonly onPlan?: (plan: TimingPlan) => void;
  /** Called after each weight tensor is made, with the tensors made and the total. */
  readonly onWeightTensor?: (made: number, total: number) => void;
}

export interface TimingPlan {
  readonly timedRuns: number;
  readonly estimatedRunMs: number;
  /** Timed runs plus the traced run. */
  readonly expectedMs: number;
}

export interface ForwardTiming {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  readonly warmupRuns: number;
  readonly warmupMs: readonly number[];
  /** Untraced wall times in ms, in order. */
  readonly samplesMs: readonly number[];
  readonly summary: SampleSummary;
  /** Matmul FLOPs of one forward pass, from the trace. */
  readonly matmulFlops: bigint;
  /** Tokens (batch x seq) per second at the median time. */
  readonly tokensPerSecond: number;
  /** Matmul FLOPs per second at the median time, in GFLOP/s. */
  readonly achievedGflops: number;
  /** Wall time of the traced run (tracer and kernel timers included). */
  readonly tracedWallMs: number;
  /** Sum of the outermost kernels' times in the traced run. */
  readonly kernelMs: number;
  /** The traced run's records, each with timeMs. */
  readonly records: readonly KernelRecord[];
}

/** Timed runs that fill `targetMs` at `runMs` each, clamped to [MIN_TIMED_RUNS, MAX_TIMED_RUNS]. */
export function plannedRuns(runMs: number, targetMs: number): number {
  if (!(runMs > 0)) return MAX_TIMED_RUNS;
  return Math.min(MAX_TIMED_RUNS, Math.max(MIN_TIMED_RUNS, Math.ceil(targetMs / runMs)));
}

/** Time forward passes of `config` at `run` on the backend already active. */
export async function timeForward(
  config: ModelConfig,
  run: RunShape,
  backend: ActiveBackend,
  options: TimeForwardOptions = {},
): Promise<ForwardTiming> {
  const init = options.init ?? 'random';
  const seed = options.seed ?? 0;
  const progress = options.onProgress ?? (() => undefined);
  const weights = initRunWeights(config, {
    seed,
    init,
    ...(options.onWeightTensor === undefined ? {} : { onTensor: options.onWeightTensor }),
  });
  let ids: tf.Tensor2D | undefined;
  try {
    ids = tokenIds(config, run, { seed, init });
    const inputIds = ids;
    const finish = async (logits: tf.Tensor): Promise<void> => {
      try {
        if (!backend.synchronousKernelTimes) await logits.data();
      } finally {
        logits.dispose();
      }
    };
    const timeOnce = async (): Promise<number> => {
      const start = performance.now();
      await finish(forward(config, weights, inputIds));
      return performance.now() - start;
    };

    const warmupMs: number[] = [];
    const warmupStart = performance.now();
    const warmingUp = () =>
      options.warmup !== undefined
        ? warmupMs.length < Math.max(1, options.warmup)
        : warmupMs.length < DEFAULT_WARMUP_RUNS ||
          (warmupMs.length < MAX_WARMUP_RUNS && performance.now() - warmupStart < WARMUP_MIN_MS);
    while (warmingUp()) {
      warmupMs.push(await timeOnce());
      progress('warm-up', warmupMs.length, options.warmup ?? DEFAULT_WARMUP_RUNS);
    }
    const estimatedRunMs = warmupMs[warmupMs.length - 1]!;
    const runs = options.runs ?? plannedRuns(estimatedRunMs, options.targetMs ?? DEFAULT_TARGET_MS);
    options.onPlan?.({ timedRuns: runs, estimatedRunMs, expectedMs: estimatedRunMs * (runs + 1) });

    const samplesMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      samplesMs.push(await timeOnce());
      progress('timed', i + 1, runs);
    }

    const tracedStart = performance.now();
    const trace = traceKernels(() => forward(config, weights, inputIds), { timeKernels: true });
    await finish(trace.result);
    const tracedWallMs = performance.now() - tracedStart;
    progress('traced', 1, 1);

    const summary = summarize(samplesMs);
    let matmulFlops = 0n;
    let kernelMs = 0;
    for (const record of trace.records) {
      if (record.nested) continue;
      matmulFlops += record.matmul?.flops ?? 0n;
      kernelMs += record.timeMs ?? 0;
    }
    return {
      config,
      run,
      backend,
      warmupRuns: warmupMs.length,
      warmupMs,
      samplesMs,
      summary,
      matmulFlops,
      tokensPerSecond: (run.batch * run.seq) / (summary.median / 1000),
      achievedGflops: gflopsPerSecond(matmulFlops, summary.median),
      tracedWallMs,
      kernelMs,
      records: trace.records,
    };
  } finally {
    ids?.dispose();
    disposeWeights(weights);
  }
}
