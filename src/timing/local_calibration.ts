/**
 * Calibrates this machine as a device for the local roofline (kernel_classes.ts): bare kernels
 * of every class at three sizes, from launch-bound to rate-bound, timed by the tracer's kernel
 * timers (the same clock the forward pass's records are read with), and the class lines fitted
 * through their medians.
 *
 * The sizes are fixed here, not taken from the model to be predicted: the calibration is taken
 * once and predicts every config. They span the shapes of small models on one or two cores
 * (d_model 64 to 768, 64 to 512 tokens); beyond them a class extrapolates along its line.
 *
 * A round times every benchmark once; callers interleave rounds with the runs they predict, so
 * calibration and measurement see the same load on a shared machine, and take medians.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelRecord } from '../core/kernel_record.js';
import { traceKernels } from '../trace/tracer.js';
import {
  fitClass,
  KERNEL_CLASSES,
  kernelClassOf,
  workOf,
  type CalibrationPoint,
  type ClassFit,
  type KernelClass,
} from './kernel_classes.js';
import { median } from './statistics.js';

/** One bare kernel: build its operands once, run the kernel, dispose the operands. */
export interface CalibrationBenchmark {
  readonly kernelClass: KernelClass;
  /** "BatchMatMul [256,256] x [256,256]". */
  readonly label: string;
  readonly setup: () => {
    readonly run: () => tf.Tensor;
    readonly dispose: () => void;
    /** Operands that stand for a model's weights: the trace marks them, as a pass's trace does. */
    readonly weights?: readonly tf.Tensor[];
  };
}

type Shape = readonly number[];

const filled = (shape: Shape, value = 0.5) => tf.fill([...shape], value, 'float32');

function matmulBenchmark(kernelClass: KernelClass, a: Shape, b: Shape, transposeB = false): CalibrationBenchmark {
  return {
    kernelClass,
    label: `BatchMatMul [${a.join(',')}] x [${b.join(',')}]${transposeB ? '^T' : ''}`,
    setup: () => {
      const [left, right] = [filled(a), filled(b)];
      return { run: () => tf.matMul(left, right, false, transposeB), dispose: () => tf.dispose([left, right]) };
    },
  };
}

/**
 * A fast-path product as a pass runs it. A weight's is timed once its first product has packed it,
 * as every pass after the first reads it. An operand the pass made is packed on every product, so
 * its product is timed fresh, after one product of the same shape on another fresh operand, as a
 * per-head core runs head after head: a first product on a cold path is no such product.
 */
function fastPathBenchmark(kernelClass: KernelClass, a: Shape, b: Shape): CalibrationBenchmark {
  const rightIsWeight = kernelClass !== 'matmul 2-D, right operand packed per call';
  return {
    kernelClass,
    label: `BatchMatMul [${a.join(',')}] x [${b.join(',')}]`,
    setup: () => {
      const [left, right] = [filled(a), filled(b)];
      const warmRight = rightIsWeight ? right : filled(b);
      tf.dispose(tf.matMul(left, warmRight));
      if (warmRight !== right) warmRight.dispose();
      return {
        run: () => tf.matMul(left, right),
        dispose: () => tf.dispose([left, right]),
        weights: rightIsWeight ? [right] : [],
      };
    },
  };
}

function opBenchmark(
  kernelClass: KernelClass,
  label: string,
  shapes: readonly Shape[],
  op: (...inputs: tf.Tensor[]) => tf.Tensor,
): CalibrationBenchmark {
  return {
    kernelClass,
    label: `${label} ${shapes.map((shape) => `[${shape.join(',')}]`).join(' ')}`,
    setup: () => {
      const inputs = shapes.map((shape) => filled(shape));
      return { run: () => op(...inputs), dispose: () => tf.dispose(inputs) };
    },
  };
}

/** Elements of the three sizes of a memory-bound class: 1 Ki (launch-bound) to 256 Ki float32. */
const SIZES = [1024, 16 * 1024, 256 * 1024] as const;

function memoryBenchmarks(): CalibrationBenchmark[] {
  return SIZES.flatMap((n) => {
    const rows = n / 64;
    const benchmarks: CalibrationBenchmark[] = [
      opBenchmark('elementwise', 'Add', [[n], [n]], (a, b) => tf.add(a, b)),
      opBenchmark(
        'elementwise broadcast',
        'Multiply',
        [
          [rows, 64],
          [rows, 1],
        ],
        (a, b) => tf.mul(a, b),
      ),
      opBenchmark('unary', 'Square', [[n]], (a) => tf.square(a)),
      opBenchmark('unary transcendental', 'Sigmoid', [[n]], (a) => tf.sigmoid(a)),
      opBenchmark('reduction', 'Mean', [[rows, 64]], (a) => tf.mean(a, -1, true)),
      opBenchmark('softmax', 'Softmax', [[rows, 64]], (a) => tf.softmax(a)),
      opBenchmark('transpose', 'Transpose', [[1, rows, 4, 16]], (a) => tf.transpose(a, [0, 2, 1, 3])),
      opBenchmark('reverse', 'Reverse', [[rows, 32, 2]], (a) => tf.reverse(a, 2)),
      opBenchmark('comparison', 'Greater', [[n], [n]], (a, b) => tf.greater(a, b)),
      opBenchmark('copy', 'Slice', [[2 * n]], (a) => tf.slice(a, [0], [n])),
      opBenchmark('view', 'Reshape', [[n]], (a) => tf.reshape(a, [rows, 64])),
      {
        kernelClass: 'fill',
        label: `Fill [${n}]`,
        setup: () => ({ run: () => tf.fill([n], 1), dispose: () => undefined }),
      },
      {
        kernelClass: 'select',
        label: `Select [${n}] x 3`,
        setup: () => {
          const [a, b] = [filled([n]), filled([n])];
          const condition = tf.greaterEqual(a, 0);
          return { run: () => tf.where(condition, a, b), dispose: () => tf.dispose([condition, a, b]) };
        },
      },
    ];
    return benchmarks;
  });
}

/**
 * The causal mask's comparison: key minus query offsets, [s, s], against the scalar 0
 * (causal_softmax.ts bandMask), s x s booleans out.
 */
function comparisonBroadcastBenchmarks(): CalibrationBenchmark[] {
  return [32, 128, 512].map((s) =>
    opBenchmark('comparison broadcast', 'Greater', [[s, s], []], (a, b) => tf.greater(a, b)),
  );
}

/** An embedding lookup: `rows` rows of a [8192, 256] table. */
function gatherBenchmarks(): CalibrationBenchmark[] {
  return [16, 128, 512].map((rows) => ({
    kernelClass: 'gather' as const,
    label: `GatherV2 [8192,256] rows ${rows}`,
    setup: () => {
      const table = filled([8192, 256]);
      const ids = tf.tensor2d(
        Array.from({ length: rows }, (_, index) => (index * 37) % 8192),
        [1, rows],
        'int32',
      );
      return { run: () => tf.gather(table, ids), dispose: () => tf.dispose([table, ids]) };
    },
  }));
}

function matmulBenchmarks(): CalibrationBenchmark[] {
  return [
    fastPathBenchmark('matmul 2-D, right operand cached', [64, 64], [64, 64]),
    fastPathBenchmark('matmul 2-D, right operand cached', [128, 256], [256, 256]),
    fastPathBenchmark('matmul 2-D, right operand cached', [256, 512], [512, 512]),
    fastPathBenchmark('matmul 2-D, right operand large', [16, 512], [512, 1024]),
    fastPathBenchmark('matmul 2-D, right operand large', [128, 512], [512, 2048]),
    fastPathBenchmark('matmul 2-D, right operand large', [256, 768], [768, 3072]),
    // The per-head core's two products: [T, dh] x [dh, T] and [T, T] x [T, dh].
    fastPathBenchmark('matmul 2-D, right operand packed per call', [64, 16], [16, 64]),
    fastPathBenchmark('matmul 2-D, right operand packed per call', [128, 64], [64, 128]),
    fastPathBenchmark('matmul 2-D, right operand packed per call', [256, 256], [256, 64]),
    matmulBenchmark('matmul 2-D transposed', [64, 16], [64, 16], true),
    matmulBenchmark('matmul 2-D transposed', [128, 64], [128, 64], true),
    matmulBenchmark('matmul 2-D transposed', [256, 64], [256, 64], true),
    matmulBenchmark('matmul batched', [4, 64, 64], [4, 64, 16]),
    matmulBenchmark('matmul batched', [4, 128, 128], [4, 128, 64]),
    matmulBenchmark('matmul batched', [8, 256, 256], [8, 256, 64]),
    matmulBenchmark('matmul batched transposed', [4, 64, 16], [4, 64, 16], true),
    matmulBenchmark('matmul batched transposed', [4, 128, 64], [4, 128, 64], true),
    matmulBenchmark('matmul batched transposed', [8, 256, 64], [8, 256, 64], true),
  ];
}

/** Every benchmark of the calibration, three per class. */
export function calibrationBenchmarks(): CalibrationBenchmark[] {
  return [...matmulBenchmarks(), ...memoryBenchmarks(), ...comparisonBroadcastBenchmarks(), ...gatherBenchmarks()];
}

/** One timed run of a benchmark: the kernel's record (for its work) and its time in seconds. */
export interface CalibrationSample {
  readonly record: KernelRecord;
  readonly seconds: number;
}

/**
 * Times each benchmark once (its operands built before, disposed after) and returns one sample
 * per benchmark, in order. A benchmark must run exactly one kernel of its class; anything else
 * is a mistake in the table, thrown as one.
 */
export function calibrationRound(benchmarks: readonly CalibrationBenchmark[]): CalibrationSample[] {
  return benchmarks.map((benchmark) => {
    const { run, dispose, weights } = benchmark.setup();
    try {
      const trace = traceKernels(run, { timeKernels: true, weights: weights ?? [] });
      trace.result.dispose();
      // An op may run helper kernels around the one it is named for (tf.where copies its
      // operands with Identity first); only the kernel of the benchmark's class is timed.
      const records = trace.records.filter((record) => !record.nested);
      const ofClass = records.filter((record) => kernelClassOf(record) === benchmark.kernelClass);
      const record = ofClass[0];
      if (ofClass.length !== 1 || record === undefined) {
        throw new Error(
          `calibration: ${benchmark.label} ran ${records.map((entry) => `${entry.kernel} (${kernelClassOf(entry) ?? 'no class'})`).join(', ')}, ` +
            `expected one ${benchmark.kernelClass} kernel`,
        );
      }
      return { record, seconds: (record.timeMs ?? 0) / 1000 };
    } finally {
      dispose();
    }
  });
}

/** A class's calibration: the medians it was fitted through, and the fit. */
export interface ClassCalibration {
  readonly kernelClass: KernelClass;
  readonly points: readonly (CalibrationPoint & { readonly label: string })[];
  readonly fit: ClassFit;
}

/**
 * The class fits from rounds of samples (rounds[r][i] is benchmark i of round r): each
 * benchmark's median time over the rounds, then one line per class through its benchmarks.
 */
export function fitCalibration(
  benchmarks: readonly CalibrationBenchmark[],
  rounds: readonly (readonly CalibrationSample[])[],
): ClassCalibration[] {
  return KERNEL_CLASSES.flatMap((kernelClass) => {
    const points = benchmarks.flatMap((benchmark, index) => {
      if (benchmark.kernelClass !== kernelClass) return [];
      const samples = rounds.map((round) => round[index]!);
      const seconds = median(samples.map((sample) => sample.seconds));
      const work = workOf(samples[0]!.record, kernelClass);
      return [{ label: benchmark.label, work, seconds: Math.max(seconds, 1e-7) }];
    });
    return points.length === 0 ? [] : [{ kernelClass, points, fit: fitClass(points) }];
  });
}
