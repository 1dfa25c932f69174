/**
 * Roofline prediction of a pass's time on a named device, kernel by kernel (Williams, Waterman
 * and Patterson, "Roofline", CACM 2009):
 *
 *   time(kernel) = max(FLOPs / (peak x compute efficiency), bytes / (bandwidth x memory efficiency))
 *                  + launch cost
 *
 * - peak: a matmul runs at the device's dense peak for the chosen dtype; every other kernel runs
 *   on the vector units, at the fp32 (non-tensor) peak when the table has one, else at the matmul
 *   peak (and the prediction says which).
 * - bytes: what the kernel reads and writes once (src/analytic/bytes.ts).
 * - A kernel is bound by whichever of its compute time, memory time and launch cost is largest;
 *   a module by whichever bound its kernels' time mostly falls under.
 * - MFU = FLOPs / (time x matmul peak), for every kernel, every module and the whole pass. A
 *   value above 100% cannot happen with efficiencies in (0, 1] and a vector peak no faster than
 *   the matmul peak; when given figures make it happen, the prediction is refused rather than
 *   reported.
 *
 * Every time is an exact fraction of a second; nothing is rounded until it is shown.
 */
import { type ModelConfig, type RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { rational, ratio, type Rational } from '../core/exact.js';
import { rollUp } from '../core/module_paths.js';
import {
  addSplits,
  arithmeticIntensity,
  forwardKernelCosts,
  kernelBytes,
  NO_BYTES,
  splitTotal,
  type ByteSplit,
  type KernelCost,
  type KernelList,
} from './bytes.js';
import { DEVICE_DTYPES, type Device, type DeviceDtype } from './devices.js';

export interface RooflineOptions {
  /** The dtype whose dense peak the matmuls run at (default bf16). */
  readonly dtype?: DeviceDtype;
  /** Overrides the device's default, in (0, 1]. */
  readonly computeEfficiency?: Rational;
  /** Overrides the device's default, in (0, 1]. */
  readonly memoryEfficiency?: Rational;
  /** Overrides the device's default launch cost per kernel, in seconds (0 or more). */
  readonly launchSeconds?: Rational;
  /** The matmul peak in FLOP/s, in place of the table's (e.g. for a device the table has none for). */
  readonly peakFlopsPerSecond?: bigint;
  /** The peak non-matmul kernels run at, in place of the table's fp32 figure. */
  readonly vectorFlopsPerSecond?: bigint;
  /** The memory bandwidth in bytes/s, in place of the table's. */
  readonly bandwidthBytesPerSecond?: bigint;
  /** Roll kernels up to this many path segments per module (rollUp); the full path when absent. */
  readonly depth?: number;
  /** The module a kernel's path counts under, in place of `depth` (e.g. moduleKindOf: a kind across layers). */
  readonly group?: (modulePath: string) => string;
  /** false: leave out the per-kernel predictions (modules and totals only), for very long kernel lists. */
  readonly kernels?: boolean;
}

export type Bound = 'compute' | 'memory' | 'launch';

/** Every figure a prediction used, and where each came from. */
export interface RooflineAssumptions {
  readonly device: string;
  readonly dtype: DeviceDtype;
  readonly matmulPeak: bigint;
  readonly matmulPeakFrom: 'device table' | 'given';
  readonly vectorPeak: bigint;
  readonly vectorPeakFrom: 'device table fp32' | 'matmul peak (no fp32 figure)' | 'given';
  readonly bandwidth: bigint;
  readonly bandwidthFrom: 'device table' | 'given';
  readonly computeEfficiency: Rational;
  readonly memoryEfficiency: Rational;
  readonly launchSeconds: Rational;
  /** Where the device's defaults come from (given values replace them). */
  readonly defaultsWhy: string;
}

/** One kernel's prediction; bytes and the three times are per run, `seconds` covers every run. */
export interface KernelPrediction {
  readonly cost: KernelCost;
  readonly bytes: bigint;
  /** FLOPs per byte; undefined for a kernel that moves nothing. */
  readonly intensity: Rational | undefined;
  readonly computeSeconds: Rational;
  readonly memorySeconds: Rational;
  readonly launchSeconds: Rational;
  readonly seconds: Rational;
  readonly bound: Bound;
  readonly mfu: Rational;
}

export interface SecondsByBound {
  readonly compute: Rational;
  readonly memory: Rational;
  readonly launch: Rational;
}

export interface ModulePrediction {
  /** The module path (rolled up to `depth` segments when asked). */
  readonly module: string;
  readonly kernels: number;
  readonly flops: bigint;
  /** The part of `flops` done by matmuls (at the matmul peak; the rest runs at the vector peak). */
  readonly matmulFlops: bigint;
  readonly read: ByteSplit;
  readonly written: ByteSplit;
  readonly bytes: bigint;
  readonly intensity: Rational | undefined;
  readonly seconds: Rational;
  /** The module's time split by the bound of each of its kernels. */
  readonly secondsByBound: SecondsByBound;
  /** The bound most of its time falls under (compute on a tie). */
  readonly bound: Bound;
  /** Its time over the whole pass's. */
  readonly share: Rational;
  readonly mfu: Rational;
}

export interface RooflineTotals {
  readonly kernels: number;
  readonly flops: bigint;
  readonly matmulFlops: bigint;
  readonly read: ByteSplit;
  readonly written: ByteSplit;
  readonly bytes: bigint;
  readonly seconds: Rational;
  readonly secondsByBound: SecondsByBound;
  readonly mfu: Rational;
}

export interface RooflinePrediction {
  readonly assumptions: RooflineAssumptions;
  readonly kernels: readonly KernelPrediction[];
  /** In order of first appearance. */
  readonly modules: readonly ModulePrediction[];
  readonly totals: RooflineTotals;
  /** Tokens the pass processes or produces, when the caller says. */
  readonly tokens?: bigint;
  readonly tokensPerSecond?: Rational;
  /** Work the kernel list leaves out. */
  readonly omitted: readonly string[];
}

function percent(value: Rational): string {
  return `${(ratio(value.numerator, value.denominator) * 100).toFixed(1)}%`;
}

function checkFraction(value: Rational, name: string): void {
  if (value.numerator <= 0n || value.numerator > value.denominator) {
    throw new InputError(
      `roofline: ${name} ${value.numerator}/${value.denominator} is not in (0, 1]; use a fraction such as 0.9`,
    );
  }
}

function checkPositive(value: bigint | undefined, name: string): void {
  if (value !== undefined && value <= 0n) throw new InputError(`roofline: ${name} (${value}) must be positive`);
}

function resolveAssumptions(device: Device, options: RooflineOptions): RooflineAssumptions {
  const dtype = options.dtype ?? 'bf16';
  if (!(DEVICE_DTYPES as readonly string[]).includes(dtype)) {
    throw new InputError(`roofline: unknown dtype "${dtype}"; use one of ${DEVICE_DTYPES.join(', ')}`);
  }
  checkPositive(options.peakFlopsPerSecond, 'the peak FLOP/s');
  checkPositive(options.vectorFlopsPerSecond, 'the vector peak FLOP/s');
  checkPositive(options.bandwidthBytesPerSecond, 'the bandwidth');
  const tablePeak = device.peaks[dtype]?.value;
  const matmulPeak = options.peakFlopsPerSecond ?? tablePeak;
  if (matmulPeak === undefined) {
    const listed = DEVICE_DTYPES.filter((entry) => device.peaks[entry] !== undefined);
    const fix =
      listed.length === 0
        ? 'the table holds no peak for it (its sources publish none); give the peak FLOP/s'
        : `use --dtype ${listed.join('|')}, or give the peak FLOP/s`;
    throw new InputError(`--device ${device.id}: no sourced dense ${dtype} peak in the device table; ${fix}`);
  }
  const tableVector = device.peaks.fp32?.value;
  const computeEfficiency = options.computeEfficiency ?? device.defaults.computeEfficiency;
  const memoryEfficiency = options.memoryEfficiency ?? device.defaults.memoryEfficiency;
  const launchSeconds = options.launchSeconds ?? device.defaults.launchSeconds;
  checkFraction(computeEfficiency, 'compute efficiency');
  checkFraction(memoryEfficiency, 'memory efficiency');
  if (launchSeconds.numerator < 0n) throw new InputError('roofline: the launch cost must not be negative');
  return {
    device: device.id,
    dtype,
    matmulPeak,
    matmulPeakFrom: options.peakFlopsPerSecond === undefined ? 'device table' : 'given',
    vectorPeak: options.vectorFlopsPerSecond ?? tableVector ?? matmulPeak,
    vectorPeakFrom:
      options.vectorFlopsPerSecond !== undefined
        ? 'given'
        : tableVector !== undefined
          ? 'device table fp32'
          : 'matmul peak (no fp32 figure)',
    bandwidth: options.bandwidthBytesPerSecond ?? device.bandwidth.value,
    bandwidthFrom: options.bandwidthBytesPerSecond === undefined ? 'device table' : 'given',
    computeEfficiency,
    memoryEfficiency,
    launchSeconds,
    defaultsWhy: device.defaults.why,
  };
}

/** flops / (seconds x peak); refused when above 1, which no real kernel reaches. */

const ZERO = rational(0n);

/**
 * Every time of one prediction as whole ticks of 1 / `denominator` seconds. Each kernel's compute,
 * memory and launch time is a whole number of ticks (the denominator is a common multiple of every
 * rate x efficiency), so adding thousands of kernels is bigint addition, exact and fast; a time is
 * made a fraction in lowest terms only when it is reported.
 */
interface Clock {
  readonly denominator: bigint;
  readonly perMatmulFlop: bigint;
  readonly perVectorFlop: bigint;
  readonly perByte: bigint;
  readonly launch: bigint;
}

function lcm(a: bigint, b: bigint): bigint {
  return a * rational(a, b).denominator;
}

function clockOf(assumptions: RooflineAssumptions): Clock {
  const { computeEfficiency: compute, memoryEfficiency: memory, launchSeconds: launch } = assumptions;
  const matmulRate = assumptions.matmulPeak * compute.numerator;
  const vectorRate = assumptions.vectorPeak * compute.numerator;
  const memoryRate = assumptions.bandwidth * memory.numerator;
  const denominator = lcm(lcm(lcm(matmulRate, vectorRate), memoryRate), launch.denominator);
  return {
    denominator,
    perMatmulFlop: compute.denominator * (denominator / matmulRate),
    perVectorFlop: compute.denominator * (denominator / vectorRate),
    perByte: memory.denominator * (denominator / memoryRate),
    launch: launch.numerator * (denominator / launch.denominator),
  };
}

function seconds(ticks: bigint, clock: Clock): Rational {
  return rational(ticks, clock.denominator);
}

/** flops / (time x matmul peak); refused when above 1, which no real kernel reaches. */
function mfuOf(flops: bigint, ticks: bigint, clock: Clock, assumptions: RooflineAssumptions, where: string): Rational {
  if (ticks === 0n) {
    if (flops === 0n) return ZERO;
    throw new InputError(
      `roofline on ${assumptions.device}: ${where} does ${flops} FLOPs in no time; check the figures given`,
    );
  }
  const [numerator, denominator] = [flops * clock.denominator, ticks * assumptions.matmulPeak];
  if (numerator > denominator) {
    throw new InputError(
      `roofline on ${assumptions.device}: ${where} would run at ${percent(rational(numerator, denominator))} of the ` +
        `${assumptions.dtype} peak (MFU above 100%), which no device does; a peak, bandwidth or efficiency given is ` +
        `wrong (vector peak ${assumptions.vectorPeak} FLOP/s, matmul peak ${assumptions.matmulPeak} FLOP/s)`,
    );
  }
  return rational(numerator, denominator);
}

/** One kernel in ticks: per run, and for all its runs. */
interface KernelTicks {
  readonly runs: bigint;
  readonly bytes: bigint;
  readonly compute: bigint;
  readonly memory: bigint;
  readonly total: bigint;
  readonly bound: Bound;
}

function kernelTicks(cost: KernelCost, clock: Clock): KernelTicks {
  const runs = cost.runs ?? 1n;
  if (runs < 1n) throw new Error(`roofline: ${cost.path} (${cost.kernel}) runs ${runs} times`);
  const bytes = kernelBytes(cost);
  const compute = cost.flops * (cost.matmul ? clock.perMatmulFlop : clock.perVectorFlop);
  const memory = bytes * clock.perByte;
  const busy = compute >= memory ? compute : memory;
  const bound: Bound = clock.launch > busy ? 'launch' : compute >= memory ? 'compute' : 'memory';
  return { runs, bytes, compute, memory, total: runs * (busy + clock.launch), bound };
}

function kernelPrediction(
  cost: KernelCost,
  ticks: KernelTicks,
  clock: Clock,
  assumptions: RooflineAssumptions,
): KernelPrediction {
  return {
    cost,
    bytes: ticks.bytes,
    intensity: arithmeticIntensity(cost.flops, ticks.bytes),
    computeSeconds: seconds(ticks.compute, clock),
    memorySeconds: seconds(ticks.memory, clock),
    launchSeconds: assumptions.launchSeconds,
    seconds: seconds(ticks.total, clock),
    bound: ticks.bound,
    mfu: mfuOf(cost.flops * ticks.runs, ticks.total, clock, assumptions, describeKernel(cost)),
  };
}

function describeKernel(cost: KernelCost): string {
  return `${cost.path} (${cost.kernel}: ${cost.computes})`;
}

interface Accumulator {
  kernels: number;
  flops: bigint;
  matmulFlops: bigint;
  read: ByteSplit;
  written: ByteSplit;
  compute: bigint;
  memory: bigint;
  launch: bigint;
}

function emptyAccumulator(): Accumulator {
  return {
    kernels: 0,
    flops: 0n,
    matmulFlops: 0n,
    read: NO_BYTES,
    written: NO_BYTES,
    compute: 0n,
    memory: 0n,
    launch: 0n,
  };
}

function scaleSplit(runs: bigint, split: ByteSplit): ByteSplit {
  return { weights: runs * split.weights, activations: runs * split.activations, kvCache: runs * split.kvCache };
}

function accumulate(into: Accumulator, cost: KernelCost, ticks: KernelTicks): void {
  const { runs } = ticks;
  into.kernels += Number(runs);
  into.flops += runs * cost.flops;
  if (cost.matmul) into.matmulFlops += runs * cost.flops;
  into.read = addSplits(into.read, scaleSplit(runs, cost.read));
  into.written = addSplits(into.written, scaleSplit(runs, cost.written));
  into[ticks.bound] += ticks.total;
}

function totalTicks(entry: Accumulator): bigint {
  return entry.compute + entry.memory + entry.launch;
}

function byBound(entry: Accumulator, clock: Clock): SecondsByBound {
  return {
    compute: seconds(entry.compute, clock),
    memory: seconds(entry.memory, clock),
    launch: seconds(entry.launch, clock),
  };
}

function dominantBound(entry: Accumulator): Bound {
  const order: readonly Bound[] = ['compute', 'memory', 'launch'];
  return order.reduce((best, next) => (entry[next] > entry[best] ? next : best));
}

/**
 * The roofline of any list of kernels on `device`: per kernel, per module and in total. The other
 * entry points build their kernel lists and call this; an inference inventory (prefill, decode)
 * passes its own rows. A list of very many kernels (a long generation) can leave out the
 * per-kernel predictions with `kernels: false`; every check still runs on every kernel.
 */
export function predictRoofline(
  list: KernelList,
  device: Device,
  options: RooflineOptions = {},
  tokens?: bigint,
): RooflinePrediction {
  const assumptions = resolveAssumptions(device, options);
  if (tokens !== undefined && tokens <= 0n) throw new InputError(`roofline: tokens (${tokens}) must be positive`);
  const clock = clockOf(assumptions);
  const kernels: KernelPrediction[] = [];
  const byModule = new Map<string, Accumulator>();
  const total = emptyAccumulator();
  for (const cost of list.kernels) {
    const ticks = kernelTicks(cost, clock);
    if (options.kernels === false)
      mfuOf(cost.flops * ticks.runs, ticks.total, clock, assumptions, describeKernel(cost));
    else kernels.push(kernelPrediction(cost, ticks, clock, assumptions));
    const module =
      options.group !== undefined
        ? options.group(cost.path)
        : options.depth === undefined
          ? cost.path
          : rollUp(cost.path, options.depth);
    let entry = byModule.get(module);
    if (entry === undefined) {
      entry = emptyAccumulator();
      byModule.set(module, entry);
    }
    accumulate(entry, cost, ticks);
    accumulate(total, cost, ticks);
  }
  const whole = totalTicks(total);
  const modules = [...byModule].map(([module, entry]): ModulePrediction => {
    const ticks = totalTicks(entry);
    const bytes = splitTotal(entry.read) + splitTotal(entry.written);
    return {
      module,
      kernels: entry.kernels,
      flops: entry.flops,
      matmulFlops: entry.matmulFlops,
      read: entry.read,
      written: entry.written,
      bytes,
      intensity: arithmeticIntensity(entry.flops, bytes),
      seconds: seconds(ticks, clock),
      secondsByBound: byBound(entry, clock),
      bound: dominantBound(entry),
      share: whole === 0n ? ZERO : rational(ticks, whole),
      mfu: mfuOf(entry.flops, ticks, clock, assumptions, `module ${module || '(whole model)'}`),
    };
  });
  const totalSeconds = seconds(whole, clock);
  const totals: RooflineTotals = {
    kernels: total.kernels,
    flops: total.flops,
    matmulFlops: total.matmulFlops,
    read: total.read,
    written: total.written,
    bytes: splitTotal(total.read) + splitTotal(total.written),
    seconds: totalSeconds,
    secondsByBound: byBound(total, clock),
    mfu: mfuOf(total.flops, whole, clock, assumptions, 'the whole pass'),
  };
  const throughput =
    tokens === undefined || whole === 0n
      ? {}
      : { tokens, tokensPerSecond: rational(tokens * totalSeconds.denominator, totalSeconds.numerator) };
  return { assumptions, kernels, modules, totals, ...throughput, omitted: list.omitted };
}

/** The B x T tokens of a pass over `run`. */
export function tokensOf(run: RunShape): bigint {
  return BigInt(run.batch) * BigInt(run.seq);
}

/** One forward pass of `config` at `run` on `device`; tokens per second counts B x T tokens. */
export function rooflineForward(
  config: ModelConfig,
  run: RunShape,
  device: Device,
  options: RooflineOptions = {},
): RooflinePrediction {
  const list = forwardKernelCosts(config, run, options.dtype ?? 'bf16');
  return predictRoofline(list, device, options, tokensOf(run));
}

/** A prefill over `promptTokens` tokens (B x prompt length), from any kernel list. */
export function rooflinePrefill(
  list: KernelList,
  device: Device,
  promptTokens: bigint,
  options: RooflineOptions = {},
): RooflinePrediction {
  return predictRoofline(list, device, options, promptTokens);
}

/**
 * One decode step that produces `tokensPerStep` tokens (one per sequence: B), from any kernel
 * list; its time is the per-token latency, and tokens per second counts the batch.
 */
export function rooflineDecode(
  list: KernelList,
  device: Device,
  tokensPerStep: bigint,
  options: RooflineOptions = {},
): RooflinePrediction {
  return predictRoofline(list, device, options, tokensPerStep);
}

/**
 * The roof over a piece of work on the device: the most FLOP/s the table's figures allow it, at
 * 100% efficiency and no launch cost. Its matmul FLOPs take at least matmulFlops / matmul peak,
 * its other FLOPs otherFlops / vector peak, and its bytes bytes / bandwidth; the roof is its FLOPs
 * over the larger of the compute and the memory time. For pure matmul work that is
 * min(peak, intensity x bandwidth), the roofline of Williams et al.; a prediction never lies above
 * it, as every kernel's predicted time is at least its share of both terms.
 */
export function attainableFlopsPerSecond(
  work: { readonly flops: bigint; readonly matmulFlops: bigint; readonly bytes: bigint },
  assumptions: Pick<RooflineAssumptions, 'matmulPeak' | 'vectorPeak' | 'bandwidth'>,
): Rational | undefined {
  if (work.flops === 0n) return undefined;
  const { matmulPeak, vectorPeak, bandwidth } = assumptions;
  // Both times over the common denominator matmulPeak x vectorPeak x bandwidth.
  const compute = (work.matmulFlops * vectorPeak + (work.flops - work.matmulFlops) * matmulPeak) * bandwidth;
  const memory = work.bytes * matmulPeak * vectorPeak;
  const slowest = compute >= memory ? compute : memory;
  return rational(work.flops * matmulPeak * vectorPeak * bandwidth, slowest);
}

/** FLOPs over the predicted time of a module or a pass; undefined when it takes no time. */
export function predictedFlopsPerSecond(work: {
  readonly flops: bigint;
  readonly seconds: Rational;
}): Rational | undefined {
  if (work.seconds.numerator === 0n) return undefined;
  return rational(work.flops * work.seconds.denominator, work.seconds.numerator);
}
