/**
 * The timing math on synthetic inputs: medians, the least-squares fit, time and FLOP shares,
 * the peak estimate from a made-up /proc/cpuinfo, matmul dispatch arithmetic. No test here runs
 * a kernel or reads a clock.
 */
import { describe, expect, it } from 'vitest';
import { matmulFlops } from '../src/core/counting.js';
import {
  NON_MATMUL,
  nonMatmulTimeFraction,
  ratio,
  sharesByComponent,
  sharesByPath,
  type TimedRecord,
} from '../src/timing/attribution.js';
import {
  dispatchDims,
  dispatchFlops,
  dispatchLabel,
  fastPathDispatch,
  isFastPathDispatch,
  largestMatmulRecord,
} from '../src/timing/calibrate.js';
import { estimatePeak, parseCpuinfo, simdWidthOf } from '../src/timing/peak.js';
import { isSpreadLarge, leastSquares, median, spreadRatio, summarize } from '../src/timing/statistics.js';
import { MAX_TIMED_RUNS, MIN_TIMED_RUNS, plannedRuns } from '../src/timing/time_forward.js';
import { tracedMatmul } from '../src/core/matmul_shapes.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { whereTimeGoes } from '../src/timing/diagnosis.js';
import { timeReport } from '../src/views/time_report.js';
import { assertEnoughPoints, fitTimeAgainstFlops, sweepPoints } from '../src/timing/sweep.js';
import { loadModelConfig } from '../src/config/index.js';
import type { ModelConfig } from '../src/config/model_config.js';

describe('median and summary', () => {
  it('takes the middle sample of an odd list, whatever the order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([9])).toBe(9);
    expect(median([2, 7, 1, 8, 2, 8, 1])).toBe(2);
  });

  it('averages the two middle samples of an even list', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 20])).toBe(15);
    expect(median([1, 1, 100, 100])).toBe(50.5);
  });

  it('does not reorder its input', () => {
    const samples = [3, 1, 2];
    median(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('summarises min, median, max and mean', () => {
    expect(summarize([4, 8, 6, 2])).toEqual({ count: 4, min: 2, median: 5, max: 8, mean: 5 });
  });

  it('refuses an empty list and non-finite samples', () => {
    expect(() => median([])).toThrow(/no samples/);
    expect(() => summarize([])).toThrow(/no samples/);
    expect(() => summarize([1, NaN])).toThrow(/not a finite number/);
  });
});

describe('least-squares fit', () => {
  it('recovers an exact line with r^2 = 1', () => {
    const points = [1, 2, 3, 4, 5].map((x) => ({ x, y: 3 * x + 2 }));
    const fit = leastSquares(points);
    expect(fit.slope).toBeCloseTo(3, 12);
    expect(fit.intercept).toBeCloseTo(2, 12);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(fit.count).toBe(5);
  });

  it('keeps its precision at FLOP-sized x (1e12) and millisecond y', () => {
    // 25 GFLOP/s = 4e-8 ms per FLOP, plus 1.5 ms of fixed cost.
    const points = [1e11, 2e11, 4e11, 8e11, 1.6e12].map((x) => ({ x, y: 4e-8 * x + 1.5 }));
    const fit = leastSquares(points);
    expect(fit.slope / 4e-8).toBeCloseTo(1, 10);
    expect(fit.intercept).toBeCloseTo(1.5, 6);
    expect(fit.r2).toBeCloseTo(1, 12);
  });

  it('matches the closed form on noisy data', () => {
    // Residuals +1, -1, -1, +1 around y = 2x + 1 are orthogonal to 1 and to x - mean(x),
    // so the least-squares line is exactly y = 2x + 1.
    const xs = [1, 2, 3, 4];
    const noise = [1, -1, -1, 1];
    const points = xs.map((x, i) => ({ x, y: 2 * x + 1 + noise[i]! }));
    const fit = leastSquares(points);
    expect(fit.slope).toBeCloseTo(2, 12);
    expect(fit.intercept).toBeCloseTo(1, 12);
    // ys = 4, 4, 6, 10; mean 6; SS_tot = 4 + 4 + 0 + 16 = 24; SS_res = 4; r^2 = 1 - 4/24 = 5/6.
    expect(fit.r2).toBeCloseTo(5 / 6, 12);
  });

  it('gives r^2 = 1 for a flat line and refuses a single x', () => {
    expect(
      leastSquares([
        { x: 1, y: 7 },
        { x: 2, y: 7 },
      ]).r2,
    ).toBe(1);
    expect(() => leastSquares([{ x: 1, y: 1 }])).toThrow(/at least 2 points/);
    expect(() =>
      leastSquares([
        { x: 3, y: 1 },
        { x: 3, y: 2 },
      ]),
    ).toThrow(/same x/);
  });
});

/** A timed record of a matmul at `path` ([m, k] x [k, n]) or of a non-matmul kernel. */
function matmulRecord(path: string, m: number, k: number, n: number, timeMs: number): TimedRecord {
  return { kernel: 'BatchMatMul', path, matmul: tracedMatmul(1, m, k, n), flops: 0n, nested: false, timeMs };
}
function otherRecord(path: string, flops: bigint | null, timeMs: number, nested = false): TimedRecord {
  return { kernel: 'Softmax', path, flops, nested, timeMs };
}

describe('time and FLOP shares', () => {
  const records: TimedRecord[] = [
    matmulRecord('layers.0.attn.q_proj', 4, 8, 8, 2), // 512 FLOPs
    matmulRecord('layers.0.attn.scores', 4, 2, 4, 1), // 64
    otherRecord('layers.0.attn.softmax', 64n, 3),
    matmulRecord('layers.0.ffn.w1', 4, 8, 16, 4), // 1024
    otherRecord('layers.0', null, 1), // a kernel without a FLOP rule
    otherRecord('layers.0.ffn.w1', 5n, 7, true), // nested: its time is inside its caller's
    matmulRecord('lm_head', 4, 8, 32, 9), // 2048
  ];

  it('groups by component in component order, nested kernels left out', () => {
    const rows = sharesByComponent(records);
    expect(rows.map((row) => row.key)).toEqual([
      'attention_projections',
      'attention_core',
      'ffn',
      'lm_head',
      NON_MATMUL,
    ]);
    const byKey = Object.fromEntries(rows.map((row) => [row.key, row]));
    expect(byKey['ffn']?.timeMs).toBe(4);
    expect(byKey['ffn']?.kernels).toBe(1);
    expect(byKey[NON_MATMUL]?.timeMs).toBe(4);
    expect(byKey[NON_MATMUL]?.flops).toBe(64n);
    expect(byKey[NON_MATMUL]?.uncountedKernels).toBe(1);
    expect(byKey['lm_head']?.matmulFlops).toBe(matmulFlops(1n, 4n, 8n, 32n));
  });

  it('has time shares and FLOP shares that each sum to 1', () => {
    for (const rows of [sharesByComponent(records), sharesByPath(records, 2), sharesByPath(records, 4)]) {
      expect(rows.reduce((total, row) => total + row.timeShare, 0)).toBeCloseTo(1, 12);
      expect(rows.reduce((total, row) => total + row.flopShare, 0)).toBeCloseTo(1, 12);
    }
    const rows = sharesByComponent(records);
    // Kernel time 2 + 1 + 3 + 4 + 1 + 9 = 20 ms; FLOPs 512 + 64 + 64 + 1024 + 2048 = 3712.
    const lmHead = rows.find((row) => row.key === 'lm_head');
    expect(lmHead?.timeShare).toBeCloseTo(9 / 20, 12);
    expect(lmHead?.flopShare).toBeCloseTo(2048 / 3712, 12);
    expect(nonMatmulTimeFraction(records)).toBeCloseTo(4 / 20, 12);
  });

  it('rolls paths up to a depth', () => {
    const rows = sharesByPath(records, 2);
    expect(rows.map((row) => [row.key, row.timeMs])).toEqual([
      ['layers.0', 11],
      ['lm_head', 9],
    ]);
  });

  it('refuses a record without a time', () => {
    expect(() => sharesByComponent([{ kernel: 'Add', path: 'lm_head', flops: 0n, nested: false }])).toThrow(
      /timeKernels/,
    );
  });

  it('computes exact ratios past 2^53', () => {
    expect(ratio(2n ** 60n, 2n ** 62n)).toBe(0.25);
    expect(ratio(1n, 3n)).toBeCloseTo(1 / 3, 14);
  });
});

/** A two-core VM without a nominal clock in the model name, the way many clouds show one. */
const FAKE_CPUINFO = [0, 1]
  .map(
    (processor) => `processor\t: ${processor}
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
cpu MHz\t\t: 2500.000
physical id\t: 0
siblings\t: 2
core id\t\t: ${processor}
cpu cores\t: 2
flags\t\t: fpu sse sse2 avx avx2 fma avx512f
`,
  )
  .join('\n');

describe('theoretical peak estimate', () => {
  it('reads cores, clock and flags from /proc/cpuinfo', () => {
    const cpu = parseCpuinfo(FAKE_CPUINFO);
    expect(cpu.model).toBe('AMD EPYC');
    expect(cpu.logicalCpus).toBe(2);
    expect(cpu.physicalCores).toBe(2);
    expect(cpu.clockMHz).toBe(2500);
    expect(cpu.flags).toContain('fma');
  });

  it('prefers the nominal clock in the model name and counts SMT siblings once', () => {
    const smt = [0, 1, 2, 3]
      .map(
        (p) =>
          `processor : ${p}\nmodel name : Intel(R) Xeon(R) CPU @ 2.20GHz\ncpu MHz : 2199.998\nphysical id : 0\ncore id : ${p >> 1}\nflags : sse avx2 fma\n`,
      )
      .join('\n');
    const cpu = parseCpuinfo(smt);
    expect(cpu.clockMHz).toBe(2200);
    expect(cpu.logicalCpus).toBe(4);
    expect(cpu.physicalCores).toBe(2);
  });

  it('is cores x clock x lanes x 2 (FMA) x 2 pipes for wasm SIMD128', () => {
    const cpu = parseCpuinfo(FAKE_CPUINFO);
    const simd = simdWidthOf('wasm', cpu);
    expect(simd.fp32Lanes).toBe(4);
    const peak = estimatePeak(cpu, simd, 1);
    // 4 lanes x 2 (FMA) x 2 pipes = 16 FLOP/cycle; x 2.5 GHz = 40 GFLOP/s per core.
    expect(peak?.flopsPerCycle).toBe(16);
    expect(peak?.perCoreGflops).toBeCloseTo(40, 12);
    expect(peak?.machineGflops).toBeCloseTo(80, 12);
    expect(peak?.usableGflops).toBeCloseTo(40, 12);
    expect(peak?.derivation).toMatch(/^estimate: 2 cores x 2\.500 GHz/);
  });

  it('uses the native width for tensorflow and one lane for the cpu backend', () => {
    const cpu = parseCpuinfo(FAKE_CPUINFO);
    expect(estimatePeak(cpu, simdWidthOf('tensorflow', cpu), 2)?.machineGflops).toBeCloseTo(2 * 2.5 * 16 * 2 * 2, 9);
    const noFma = { ...cpu, flags: ['sse2'] };
    expect(estimatePeak(noFma, simdWidthOf('cpu', noFma), 1)?.flopsPerCycle).toBe(2);
  });

  it('gives no estimate when the clock cannot be read', () => {
    const cpu = { ...parseCpuinfo(FAKE_CPUINFO), clockMHz: undefined };
    expect(estimatePeak(cpu, simdWidthOf('wasm', cpu), 1)).toBeUndefined();
  });
});

describe('matmul dispatch arithmetic', () => {
  const projection = { aShape: [2, 256, 512], bShape: [1024, 512], transposeA: false, transposeB: true };

  it('reads batch, m, k, n after transposes and broadcasting', () => {
    expect(dispatchDims(projection)).toEqual({ batch: 2, m: 256, k: 512, n: 1024 });
    expect(dispatchDims({ aShape: [8, 64, 256], bShape: [8, 64, 256], transposeA: true, transposeB: false })).toEqual({
      batch: 8,
      m: 256,
      k: 64,
      n: 256,
    });
    expect(dispatchFlops(projection)).toBe(matmulFlops(2n, 256n, 512n, 1024n));
    expect(() => dispatchDims({ aShape: [4, 5], bShape: [6, 7], transposeA: false, transposeB: false })).toThrow(
      /inner dims/,
    );
  });

  it('turns a dispatch into the same work on the fast path', () => {
    const fast = fastPathDispatch(projection);
    expect(fast).toEqual({ aShape: [512, 512], bShape: [512, 1024], transposeA: false, transposeB: false });
    expect(dispatchFlops(fast)).toBe(dispatchFlops(projection));
    expect(isFastPathDispatch(fast)).toBe(true);
    expect(isFastPathDispatch(projection)).toBe(false);
    expect(dispatchLabel(projection)).toBe('[2,256,512] x [1024,512]^T');
  });

  it('finds the largest outermost matmul', () => {
    const records = [
      { matmul: tracedMatmul(1, 2, 2, 2), nested: false, id: 'a' },
      { matmul: tracedMatmul(1, 8, 8, 8), nested: true, id: 'nested' },
      { matmul: tracedMatmul(1, 4, 4, 4), nested: false, id: 'b' },
      { nested: false, id: 'no matmul' },
    ];
    expect(largestMatmulRecord(records)?.id).toBe('b');
  });
});

describe('planned runs', () => {
  it('fills the time budget within the run limits', () => {
    expect(plannedRuns(100, 3000)).toBe(30);
    expect(plannedRuns(2000, 3000)).toBe(MIN_TIMED_RUNS);
    expect(plannedRuns(0.001, 3000)).toBe(MAX_TIMED_RUNS);
  });
});

describe('sweep requests and the time-against-FLOPs fit', () => {
  // The CLI loads models (with their override flags) and fits run shapes; these stand in for it.
  const load = (name: string | undefined) => loadModelConfig(name ?? 'tiny');
  const shapeOf = (config: ModelConfig, axis: 'seq' | 'batch' | undefined, value: number | undefined) => ({
    config,
    run: { batch: axis === 'batch' ? value! : 1, seq: axis === 'seq' ? value! : 16 },
  });

  it('makes one point per distinct value, in the order given, the first model first', () => {
    const seq = sweepPoints({ axis: 'seq', values: ['32', '16', '32'] }, 'tiny', load, shapeOf);
    expect(seq.map((point) => [point.label, point.run.seq])).toEqual([
      ['seq=32', 32],
      ['seq=16', 16],
    ]);
    const models = sweepPoints({ axis: 'model', values: ['tiny', 'gpt2-small'] }, 'tiny', load, shapeOf);
    expect(models.map((point) => point.label)).toEqual(['tiny', 'gpt2-small']);
  });

  it('refuses a sweep of one point and a value that is not a positive integer', () => {
    expect(() => sweepPoints({ axis: 'batch', values: ['4', '4'] }, 'tiny', load, shapeOf)).toThrow(
      /gives 1 point; a fit needs at least 2, e\.g\. --sweep batch=1,2,4/,
    );
    expect(() => sweepPoints({ axis: 'seq', values: ['16', ''] }, 'tiny', load, shapeOf)).toThrow(
      '--sweep seq=16,: "" is not a positive integer; use e.g. --sweep seq=64,128,256',
    );
    expect(() => assertEnoughPoints({ axis: 'model', values: ['tiny'] }, 2)).not.toThrow();
  });

  it('fits median ms against GFLOP: slope, fixed cost and the marginal rate', () => {
    // 4 ms per GFLOP (250 GFLOP/s at the margin) plus 2 ms per pass.
    const points = [1n, 2n, 4n, 8n].map((g) => ({ flops: g * 10n ** 9n, medianMs: 4 * Number(g) + 2 }));
    const fit = fitTimeAgainstFlops(points);
    expect(fit?.msPerGflop).toBeCloseTo(4, 10);
    expect(fit?.interceptMs).toBeCloseTo(2, 10);
    expect(fit?.marginalGflops).toBeCloseTo(250, 8);
    expect(fit?.r2).toBeCloseTo(1, 12);
    expect(
      fitTimeAgainstFlops([
        { flops: 5n, medianMs: 1 },
        { flops: 5n, medianMs: 2 },
      ]),
    ).toBeUndefined();
  });
});

describe('the spread of a timing', () => {
  it('is max/min, large above 1.5', () => {
    // The three medians `time tiny` once gave in a row on the threaded build: 3.4, 21.3 and 28.1 ms.
    expect(spreadRatio(summarize([3.4, 21.3, 28.1]))).toBeCloseTo(28.1 / 3.4, 12);
    expect(isSpreadLarge(summarize([3.4, 21.3, 28.1]))).toBe(true);
    expect(isSpreadLarge(summarize([2, 3]))).toBe(false);
    expect(isSpreadLarge(summarize([2, 3.0001]))).toBe(true);
    expect(isSpreadLarge(summarize([5, 5, 5]))).toBe(false);
  });
});

describe('where the time goes', () => {
  const signature = (shape: number[]) => ({ shape, dtype: 'float32' });
  const record = (
    index: number,
    kernel: string,
    path: string,
    timeMs: number,
    extra: Partial<KernelRecord> = {},
  ): KernelRecord => ({
    index,
    kernel,
    path,
    inputs: [],
    outputs: [],
    attrs: {},
    nested: false,
    flops: 0n,
    timeMs,
    ...extra,
  });
  const records: KernelRecord[] = [
    record(0, 'BatchMatMul', 'layers.0.ffn.w1', 6, {
      inputs: [signature([2, 256, 512]), signature([2048, 512])],
      attrs: { transposeA: false, transposeB: true },
      matmul: tracedMatmul(2, 256, 512, 2048),
    }),
    record(1, 'BatchMatMul', 'lm_head', 1, {
      inputs: [signature([512, 512]), signature([512, 4096])],
      attrs: { transposeA: false, transposeB: false },
      matmul: tracedMatmul(1, 512, 512, 4096),
    }),
    record(2, 'SplitV', 'layers.0.attn.rope', 2, { flops: null }),
    record(3, 'Softmax', 'layers.0.attn.softmax', 1, { flops: 100n }),
  ];

  it('says the target is met in one sentence when it is', () => {
    const sentences = whereTimeGoes({
      backendName: 'wasm',
      records,
      achievedGflops: 20,
      calibratedGflops: 25,
      calibratedLabel: '[512,512] x [512,2048]',
      tracedWallMs: 11,
    });
    expect(sentences).toHaveLength(1);
    expect(sentences[0]).toContain('80.0% of the bare-matmul rate');
  });

  it('names each component, its dispatch and why it is off the fast path, then the kernels and the overhead', () => {
    const sentences = whereTimeGoes({
      backendName: 'wasm',
      records,
      achievedGflops: 5,
      calibratedGflops: 25,
      calibratedLabel: '[512,512] x [512,2048]',
      tracedWallMs: 12,
    });
    expect(sentences[0]).toContain(
      '20.0% of the bare-matmul rate calibrated on [512,512] x [512,2048] (25.00 GFLOP/s)',
    );
    // Most time first: ffn (6 ms), non-matmul (3 ms), lm_head (1 ms); then the time outside kernels.
    expect(sentences[1]).toMatch(/^ffn: 60\.0% of kernel time/);
    expect(sentences[1]).toContain(
      '[2,256,512] x [2048,512]^T (x1): a transposed operand and a batch of 2 keep XNNPACK off its fast path',
    );
    expect(sentences[2]).toMatch(/^non-matmul kernels: 30\.0% of kernel time .* SplitV 20\.0%, Softmax 10\.0%\.$/);
    expect(sentences[3]).toMatch(/^lm_head: 10\.0% .*dispatched as \[512,512\] x \[512,4096\] \(x1\)\.$/);
    // lm_head's 2.1 GFLOP in 1 ms is far above the calibrated 25 GFLOP/s, which gets a sentence of its own.
    expect(sentences[4]).toMatch(/^a component above 100% of calibrated is not an error/);
    expect(sentences[5]).toContain("2.00 ms of the traced run's 12.00 ms (16.7%)");
  });
});

describe('the time report', () => {
  const backend = { name: 'wasm', description: 'WebAssembly (SIMD, single thread)', synchronousKernelTimes: true };
  const signature = (shape: number[]) => ({ shape, dtype: 'float32' });
  const kernel = (index: number, path: string, timeMs: number, matmul = false): KernelRecord => ({
    index,
    kernel: matmul ? 'BatchMatMul' : 'Add',
    path,
    inputs: matmul ? [signature([8, 8]), signature([8, 8])] : [],
    outputs: [],
    attrs: {},
    nested: false,
    flops: matmul ? 0n : 64n,
    timeMs,
    ...(matmul ? { matmul: tracedMatmul(1, 8, 8, 8) } : {}),
  });
  const records = [
    kernel(0, 'layers.0.attn.q_proj', 1, true),
    kernel(1, 'layers.0.ffn.w1', 2, true),
    kernel(2, 'layers.1.ffn.w1', 3, true),
    kernel(3, 'layers.1', 1),
    kernel(4, 'lm_head', 1, true),
  ];
  const timed = (samplesMs: number[]) => {
    const summary = summarize(samplesMs);
    return {
      timing: {
        config: loadModelConfig('tiny'),
        run: { batch: 1, seq: 64 },
        backend,
        warmupRuns: 2,
        warmupMs: [9, 9],
        samplesMs,
        summary,
        matmulFlops: 4096n,
        tokensPerSecond: 64 / (summary.median / 1000),
        achievedGflops: 4096 / summary.median / 1e6,
        tracedWallMs: 9,
        kernelMs: 8,
        records,
      },
      calibration: undefined,
      peak: undefined,
    };
  };
  const texts = (report: ReturnType<typeof timeReport>) =>
    report.blocks.map((block) =>
      block.kind === 'table'
        ? `table: ${block.table.title ?? ''}`
        : block.kind === 'paragraph'
          ? block.text
          : block.kind,
    );

  it('warns about runs that spread over 1.5x, before any rate', () => {
    // The medians `time tiny` once gave in three runs in a row on the threaded build.
    const report = timeReport(timed([3.4, 21.3, 28.1]), 1);
    const blocks = texts(report);
    const warning = blocks.findIndex((text) => text.startsWith('Warning: '));
    expect(blocks[warning]).toBe(
      'Warning: the 3 untraced forward passes took from 3.40 to 28.10 ms (max/min 8.3x, over 1.5x), so the median ' +
        '21.30 ms and every rate and efficiency taken from it are uncertain: the machine was busy or the timing is ' +
        'unsteady. Rerun on a quieter machine, or with more --runs.',
    );
    expect(warning).toBeLessThan(blocks.findIndex((text) => text.startsWith('table: Wall time')));
    expect(warning).toBeLessThan(blocks.indexOf('table: Matmul rates'));
    // min, median and max are the wall-time table's first columns.
    const wall = report.blocks.find((block) => block.kind === 'table' && block.table.title?.startsWith('Wall time'));
    expect(wall?.kind === 'table' && wall.table.columns.map((column) => column.header).slice(1, 4)).toEqual([
      'min ms',
      'median ms',
      'max ms',
    ]);
  });

  it('says nothing of steady runs', () => {
    expect(texts(timeReport(timed([3.4, 3.5, 3.6]), 1)).some((text) => text.startsWith('Warning'))).toBe(false);
  });

  it('reads --depth 0 to 3 as every command does: rates, then shares per component, per layer, per module', () => {
    const shareTables = (depth: 0 | 1 | 2 | 3) =>
      texts(timeReport(timed([3, 3, 3]), depth)).filter((text) => text.startsWith('table: Share'));
    expect(shareTables(0)).toEqual([]);
    expect(shareTables(3)).toEqual([
      'table: Share of kernel time beside share of FLOPs, per component (one traced run)',
      'table: Share of kernel time beside share of FLOPs, per layer (one traced run)',
      'table: Share of kernel time beside share of FLOPs, per module (one traced run)',
    ]);
    const keys = (depth: 1 | 2 | 3) =>
      (timeReport(timed([3, 3, 3]), depth).json as { shares: { by: string; rows: { key: string }[] } }).shares;
    expect(keys(1).by).toBe('component');
    expect(keys(2)).toMatchObject({ by: 'layer' });
    expect(keys(2).rows.map((row) => row.key)).toEqual(['layers.0', 'layers.1', 'lm_head']);
    expect(keys(3).rows.map((row) => row.key)).toEqual([
      'layers.0.attn.q_proj',
      'layers.0.ffn.w1',
      'layers.1.ffn.w1',
      'layers.1',
      'lm_head',
    ]);
  });
});
