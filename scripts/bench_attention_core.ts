/**
 * The attention core's rate against the calibrated bare matmul, with the core dispatched per head
 * (src/model/head_matmul.ts, the default on wasm) and batched (one BatchMatMul over the heads),
 * on forward passes from d 256 to d 1024:
 *
 *   node dist/scripts/bench_attention_core.js [rounds]
 *
 * Each round runs one untraced forward pass per dispatch, in an order that alternates from round
 * to round, and the per-round ratio (per head / batched) is kept: on a shared machine the two
 * runs of a round see nearly the same load, so the median ratio says which is faster where each
 * median alone would mostly say when it ran. One kernel-timed trace per dispatch then gives the
 * core's share of the kernel time and its rate: its matmuls' FLOPs over the time of its matmuls
 * and of the kernels that only move data for them (k's transpose, the unstack and the stack), at
 * the scores and weighted-sum paths. The calibrated rate is the model's largest matmul timed bare
 * (src/timing/calibrate.ts), as scripts/bench_forward.ts reads efficiency.
 *
 * Prints one line per config, then a JSON object as the last line.
 *
 * Where the per-head core's time went (d 1024, T 512, wasm, one thread) before wasm's slices read
 * their input in place (src/runtime/wasm_heap_views.ts): cutting P (H, T, T) into heads (Unpack)
 * took 105-175 ms, several times the 28 ms of the 16 products after it; it takes 1.6-6.5 ms now.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';
import { loadModelConfig } from '../src/config/index.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { setAttentionCoreDispatch, type AttentionCoreDispatch } from '../src/model/head_matmul.js';
import { disposeWeights, forward, initWeights, tokenIds } from '../src/model/index.js';
import { useBackend } from '../src/runtime/backend.js';
import { calibrateLargestMatmul } from '../src/timing/calibrate.js';
import { median } from '../src/timing/statistics.js';
import { traceKernels } from '../src/trace/tracer.js';
import { BENCH_CONFIGS, type BenchConfig } from './bench_configs.js';
import { attentionCoreTiming, type AttentionCoreTiming } from './bench_forward.js';

/** The matmul-heaviest shape beside the benchmark's configs: d 1024, 4 layers, V 1000, 512 tokens. */
const WIDE: BenchConfig = {
  label: 'd=1024, L=4, V=1000, 1 x 512',
  model: 'gpt2-small',
  overrides: { num_layers: 4, d_model: 1024, num_heads: 16, d_ff: 4096, vocab_size: 1000, context_length: 512 },
  run: { batch: 1, seq: 512 },
};
const CONFIGS: readonly BenchConfig[] = [...BENCH_CONFIGS.filter((bench) => bench.model !== 'tiny'), WIDE];
const DISPATCHES: readonly AttentionCoreDispatch[] = ['measured', 'batched'];

interface AttentionCoreBench {
  readonly label: string;
  readonly rounds: number;
  /** Median untraced forward time per dispatch. */
  readonly forward_ms: Record<AttentionCoreDispatch, number>;
  /** Median over rounds of (per head / batched) untraced forward time. */
  readonly paired_ratio: number;
  readonly calibrated_gflops: number;
  readonly core: Record<AttentionCoreDispatch, AttentionCoreTiming>;
}

function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function benchOne(bench: BenchConfig, rounds: number, gc: () => void): Promise<AttentionCoreBench> {
  const config = loadModelConfig(bench.model, bench.overrides);
  const weights = initWeights(config, { seed: 0, init: 'random' });
  const ids = tokenIds(config, bench.run, { seed: 0, init: 'random' });
  const runOnce = (dispatch: AttentionCoreDispatch): number => {
    setAttentionCoreDispatch(dispatch);
    gc();
    const start = performance.now();
    forward(config, weights, ids).dispose();
    return performance.now() - start;
  };
  try {
    for (const dispatch of DISPATCHES) runOnce(dispatch); // warm-up
    const samples: Record<AttentionCoreDispatch, number[]> = { measured: [], batched: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? DISPATCHES : [...DISPATCHES].reverse();
      for (const dispatch of order) samples[dispatch].push(runOnce(dispatch));
    }
    const traces = Object.fromEntries(
      DISPATCHES.map((dispatch) => {
        setAttentionCoreDispatch(dispatch);
        const trace = traceKernels(() => forward(config, weights, ids), { timeKernels: true });
        trace.result.dispose();
        return [dispatch, trace.records];
      }),
    ) as Record<AttentionCoreDispatch, KernelRecord[]>;
    setAttentionCoreDispatch('measured');
    const calibration = await calibrateLargestMatmul(traces.measured, { synchronous: true, minTimeMs: 800 });
    const calibrated = calibration?.bestGflops ?? NaN;
    return {
      label: bench.label,
      rounds,
      forward_ms: { measured: median(samples.measured), batched: median(samples.batched) },
      paired_ratio: median(samples.measured.map((ms, round) => ms / samples.batched[round]!)),
      calibrated_gflops: calibrated,
      core: {
        measured: attentionCoreTiming(traces.measured, calibrated),
        batched: attentionCoreTiming(traces.batched, calibrated),
      },
    };
  } finally {
    setAttentionCoreDispatch('measured');
    ids.dispose();
    disposeWeights(weights);
  }
}

/** Every config in turn, on the running process's backend (wasm unless told). */
async function benchAttentionCore(rounds: number): Promise<AttentionCoreBench[]> {
  const gc = exposeGc();
  const results: AttentionCoreBench[] = [];
  for (const bench of CONFIGS) results.push(await benchOne(bench, rounds, gc));
  return results;
}

function line(result: AttentionCoreBench): string {
  const core = (dispatch: AttentionCoreDispatch) => {
    const timing = result.core[dispatch];
    return (
      `${(timing.time_share * 100).toFixed(1)}% of kernel time, ${timing.gflops.toFixed(1)} GFLOP/s ` +
      `(${(timing.of_calibrated * 100).toFixed(0)}% of calibrated)`
    );
  };
  return (
    `${result.label}: forward ${result.forward_ms.measured.toFixed(1)} ms per head, ` +
    `${result.forward_ms.batched.toFixed(1)} ms batched (paired ratio ${result.paired_ratio.toFixed(2)}, ` +
    `${result.rounds} rounds); calibrated ${result.calibrated_gflops.toFixed(1)} GFLOP/s; ` +
    `core per head: ${core('measured')}; batched: ${core('batched')}`
  );
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 9);
  const backend = await useBackend((process.env['FLOPLEDGER_BACKEND'] as 'wasm' | 'cpu' | undefined) ?? 'wasm');
  const loadBefore = os.loadavg();
  const results = await benchAttentionCore(rounds);
  const loadAfter = os.loadavg();
  console.log(
    `${backend.description}; load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after`,
  );
  for (const result of results) console.log(line(result));
  console.log(JSON.stringify({ backend: backend.description, load_average: [loadBefore, loadAfter], results }));
}

await main();
