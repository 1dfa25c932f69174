/**
 * The local roofline's model of this machine: kernels fall into classes that run at different
 * rates on the same backend, and each class is calibrated on its own.
 *
 *   time(kernel) = launch(class) + work(kernel) / rate(class)
 *
 * - work is FLOPs for a matmul class and bytes moved (src/core/byte_rules.ts: every input read
 *   once, every output written once) for every other class;
 * - rate and launch come from timing bare kernels of the class at a few sizes (local_calibration.ts)
 *   and fitting this line through them, so a class's launch cost is what its smallest kernels
 *   measure and its rate what its largest ones do.
 *
 * Why classes: on tfjs wasm a plain [m, k] x [k, n] matmul runs on XNNPACK's fast path, but a
 * batched or transposed one runs on a generic loop about 20 to 40 times slower, and a fast-path
 * matmul whose right operand outgrows the cache runs at about half the rate of one that fits.
 * XNNPACK packs the right operand into its own layout on the first product that reads it and
 * keeps the packed copy while the operand lives: a weight is packed once and read packed in every
 * later pass, but a right operand made by the pass itself (a head's k^T or v in the per-head
 * attention core) is packed on every product, so those products are a class of their own;
 * Reverse, broadcast comparisons and gathers run far below the bandwidth of a streaming Add. One
 * matmul rate and one bandwidth cannot predict all of them. The classes key on what the kernel
 * is (name, batch, transposes, broadcast, operand size), never on which model or module ran it,
 * so the same calibration predicts any config, and a change of how a module dispatches its work
 * (say, attention as per-head 2-D matmuls) moves its kernels to the class they now belong to.
 *
 * Pure functions of records and numbers; the tfjs side is local_calibration.ts.
 */
import { recordBytes } from '../core/byte_rules.js';
import type { KernelRecord } from '../core/kernel_record.js';

/**
 * The right operand size (bytes) up to which a fast-path matmul keeps its rate: [512, 512]
 * float32. Past it the rate falls (measured on this machine's wasm build; see
 * docs/bench_roofline.md).
 */
const CACHED_OPERAND_BYTES = 512 * 512 * 4;

export const KERNEL_CLASSES = [
  'matmul 2-D, right operand cached',
  'matmul 2-D, right operand large',
  'matmul 2-D, right operand packed per call',
  'matmul 2-D transposed',
  'matmul batched',
  'matmul batched transposed',
  'elementwise',
  'elementwise broadcast',
  'unary',
  'unary transcendental',
  'reduction',
  'softmax',
  'transpose',
  'reverse',
  'gather',
  'comparison',
  'comparison broadcast',
  'select',
  'copy',
  'fill',
  'view',
] as const;

export type KernelClass = (typeof KERNEL_CLASSES)[number];

const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul']);

/** Kernel names by class, for the classes that a name alone decides (broadcast aside). */
const CLASS_OF_NAME: Readonly<Record<string, KernelClass>> = {
  ...Object.fromEntries(
    ['Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow', 'FloorDiv'].map(
      (name) => [name, 'elementwise' as const],
    ),
  ),
  ...Object.fromEntries(
    ['Square', 'Neg', 'Abs', 'Relu', 'Relu6', 'Step', 'Sign', 'Floor', 'Ceil', 'Round', 'ClipByValue'].map((name) => [
      name,
      'unary' as const,
    ]),
  ),
  ...Object.fromEntries(
    ['Sigmoid', 'Exp', 'Expm1', 'Log', 'Log1p', 'Tanh', 'Rsqrt', 'Sqrt', 'Erf', 'Softplus', 'Sin', 'Cos', 'Elu'].map(
      (name) => [name, 'unary transcendental' as const],
    ),
  ),
  ...Object.fromEntries(
    ['Mean', 'Sum', 'Max', 'Min', 'Prod', 'All', 'Any', 'ArgMax', 'ArgMin'].map((name) => [name, 'reduction' as const]),
  ),
  ...Object.fromEntries(
    ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr'].map((name) => [
      name,
      'comparison' as const,
    ]),
  ),
  ...Object.fromEntries(
    ['Slice', 'Concat', 'Pad', 'Tile', 'Identity', 'Cast', 'StridedSlice', 'Pack', 'Unpack', 'OneHot'].map((name) => [
      name,
      'copy' as const,
    ]),
  ),
  ...Object.fromEntries(['Fill', 'Range', 'ZerosLike', 'OnesLike'].map((name) => [name, 'fill' as const])),
  Softmax: 'softmax',
  Transpose: 'transpose',
  Reverse: 'reverse',
  GatherV2: 'gather',
  Select: 'select',
  Reshape: 'view',
};

function elements(shape: readonly number[]): number {
  return shape.reduce((total, dim) => total * dim, 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, index) => dim === b[index]);
}

function matmulClass(record: Pick<KernelRecord, 'inputs' | 'attrs' | 'matmul'>): KernelClass {
  const transposed = record.attrs.transposeA === true || record.attrs.transposeB === true;
  const batch = record.matmul?.batch ?? 1;
  if (batch > 1) return transposed ? 'matmul batched transposed' : 'matmul batched';
  if (transposed) return 'matmul 2-D transposed';
  const right = record.inputs[1];
  // Only a trace that was handed the weights marks them (TraceOptions.weights); without the mark
  // every right operand counts as one the pass made.
  if (right?.weight !== true) return 'matmul 2-D, right operand packed per call';
  return elements(right.shape) * 4 <= CACHED_OPERAND_BYTES
    ? 'matmul 2-D, right operand cached'
    : 'matmul 2-D, right operand large';
}

/**
 * The class of a traced kernel, or undefined for a kernel no class covers (its name is then
 * reported; the prediction falls back to the elementwise class and says so).
 */
export function kernelClassOf(
  record: Pick<KernelRecord, 'kernel' | 'inputs' | 'outputs' | 'attrs' | 'matmul'>,
): KernelClass | undefined {
  if (MATMUL_KERNELS.has(record.kernel)) return matmulClass(record);
  const byName = CLASS_OF_NAME[record.kernel];
  if (byName !== 'elementwise' && byName !== 'comparison') return byName;
  // A binary kernel whose operands differ in shape broadcasts one of them, which wasm does on a
  // slower path than the same-shape loop (a scalar operand included).
  const output = record.outputs[0]?.shape ?? [];
  const broadcast = record.inputs.some((input) => !sameShape(input.shape, output));
  return broadcast ? `${byName} broadcast` : byName;
}

export type WorkUnit = 'FLOP' | 'byte';

export function unitOf(kernelClass: KernelClass): WorkUnit {
  return kernelClass.startsWith('matmul') ? 'FLOP' : 'byte';
}

/** A traced kernel's work in its class's unit: matmul FLOPs, or bytes read and written. */
export function workOf(record: KernelRecord, kernelClass: KernelClass): number {
  if (unitOf(kernelClass) === 'FLOP') return Number(record.matmul?.flops ?? 0n);
  const bytes = recordBytes(record);
  return Number(bytes.readWeights + bytes.readActivations + bytes.written);
}

/** One bare kernel timed: its work in the class's unit and its median time. */
export interface CalibrationPoint {
  readonly work: number;
  readonly seconds: number;
}

/** A class's fitted line: time = launchSeconds + work / rate. */
export interface ClassFit {
  readonly launchSeconds: number;
  /** Work units per second (FLOP/s or bytes/s); Infinity when time did not grow with work. */
  readonly rate: number;
}

/**
 * The line time = launch + work / rate through a class's points, by least squares on the
 * relative error (each residual divided by its measured time), so a 10 us kernel weighs as much
 * as a 100 ms one: launch is read off the small points, rate off the large ones. Neither may be
 * negative: when the free fit makes one so, that one is 0 and the other is fitted alone.
 */
export function fitClass(points: readonly CalibrationPoint[]): ClassFit {
  if (points.length === 0) throw new RangeError('fitClass: no calibration points');
  for (const point of points) {
    if (!(point.seconds > 0) || !(point.work >= 0)) {
      throw new RangeError(`fitClass: point (${point.work}, ${point.seconds} s) needs work >= 0 and time > 0`);
    }
  }
  // Weighted least squares of t = a + b x with weights 1 / t^2.
  let [sw, swx, swxx, swt, swxt] = [0, 0, 0, 0, 0];
  for (const { work: x, seconds: t } of points) {
    const w = 1 / (t * t);
    sw += w;
    swx += w * x;
    swxx += w * x * x;
    swt += w * t;
    swxt += w * x * t;
  }
  const determinant = sw * swxx - swx * swx;
  let a = determinant > 0 ? (swxx * swt - swx * swxt) / determinant : swt / sw;
  let b = determinant > 0 ? (sw * swxt - swx * swt) / determinant : 0;
  if (a < 0) {
    a = 0;
    b = swxt / swxx;
  }
  if (b <= 0) {
    a = swt / sw;
    b = 0;
  }
  return { launchSeconds: a, rate: b === 0 ? Infinity : 1 / b };
}

/** The predicted time of one kernel of `kernelClass` doing `work`. */
function predictSeconds(fit: ClassFit, work: number): number {
  return fit.launchSeconds + work / fit.rate;
}

/** How a traced kernel was predicted. */
export interface KernelPrediction {
  readonly kernelClass: KernelClass;
  /** False when no class covers the kernel and it was predicted as an elementwise one. */
  readonly classified: boolean;
  readonly work: number;
  readonly seconds: number;
}

/** A traced kernel's predicted time from the calibrated classes. */
export function predictKernel(
  record: KernelRecord,
  fits: Readonly<Partial<Record<KernelClass, ClassFit>>>,
): KernelPrediction {
  const found = kernelClassOf(record);
  const kernelClass = found ?? 'elementwise';
  const fit = fits[kernelClass];
  if (fit === undefined) throw new Error(`local roofline: class "${kernelClass}" was not calibrated`);
  const work = workOf(record, kernelClass);
  return { kernelClass, classified: found !== undefined, work, seconds: predictSeconds(fit, work) };
}
