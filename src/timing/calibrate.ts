/**
 * The backend's own bare matmul rate: one matmul kernel timed alone, so the forward pass's
 * achieved rate can be read as an efficiency (achieved / calibrated).
 *
 * Two shapes are worth calibrating, and both are reported:
 * - the model's largest matmul exactly as the model dispatches it (same operand shapes, same
 *   transposes), which is the best the model's own matmuls could do;
 * - the same work as one plain [m, k] x [k, n] with batch 1 and no transposes, the shape XNNPACK
 *   runs on its fast path on wasm, which is the best the backend can do at that size.
 * The gap between the two is what a different weight layout or flattening would win.
 *
 * Operands are made with tf.fill: matmul time does not depend on the values, and fill builds no
 * JavaScript array first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmulFlops, product } from '../core/counting.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { gflopsPerSecond } from './attribution.js';
import { summarize, type SampleSummary } from './statistics.js';

/** One BatchMatMul as the engine receives it. */
export interface MatmulDispatch {
  readonly aShape: readonly number[];
  readonly bShape: readonly number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

export interface MatmulCalibration {
  readonly dispatch: MatmulDispatch;
  /** "[2,256,512] x [512,512]^T". */
  readonly label: string;
  readonly flops: bigint;
  /** Per-call wall times in ms. */
  readonly summary: SampleSummary;
  /** At the median time. */
  readonly gflops: number;
}

export interface CalibrateOptions {
  /** Keep timing until this much time has passed (and at least minRuns calls). Default 1000 ms. */
  readonly minTimeMs?: number;
  readonly minRuns?: number;
  readonly maxRuns?: number;
  readonly warmupRuns?: number;
  /** False on backends whose kernels return before the work is done: then each call awaits its result. */
  readonly synchronous: boolean;
  /** Called after each timed call (a calibration runs for about a second per shape). */
  readonly onCall?: () => void;
  /**
   * 'kept' (the default): every call multiplies by the same right operand, as a pass multiplies
   * by a weight. 'fresh': each call gets a right operand made just before it (outside the clock),
   * as a per-head attention core's slices of k^T and v are: on wasm, XNNPACK packs a right
   * operand it has not seen on its first product and keeps the packed copy with the tensor, so a
   * fresh operand pays the packing on every call.
   */
  readonly rightOperand?: 'kept' | 'fresh';
}

/** The dispatch of a traced matmul record (its operand shapes and transposes). */
export function dispatchOfRecord(record: Pick<KernelRecord, 'kernel' | 'inputs' | 'attrs'>): MatmulDispatch {
  const [a, b] = record.inputs;
  if (a === undefined || b === undefined) {
    throw new Error(`calibrate: ${record.kernel} record has ${record.inputs.length} inputs, expected at least 2`);
  }
  return {
    aShape: a.shape,
    bShape: b.shape,
    transposeA: record.attrs['transposeA'] === true,
    transposeB: record.attrs['transposeB'] === true,
  };
}

/** The (batch, m, k, n) a dispatch computes, batch from the broadcast of both operands' leading dims. */
export function dispatchDims(dispatch: MatmulDispatch): { batch: number; m: number; k: number; n: number } {
  const { aShape: a, bShape: b, transposeA, transposeB } = dispatch;
  if (a.length < 2 || b.length < 2) {
    throw new Error(`calibrate: matmul operands must have rank >= 2, got [${a}] and [${b}]`);
  }
  const last = (shape: readonly number[], fromEnd: number) => shape[shape.length - fromEnd]!;
  const m = transposeA ? last(a, 1) : last(a, 2);
  const k = transposeA ? last(a, 2) : last(a, 1);
  const kB = transposeB ? last(b, 1) : last(b, 2);
  const n = transposeB ? last(b, 2) : last(b, 1);
  if (k !== kB)
    throw new Error(`calibrate: inner dims differ: [${a}]${transposeA ? '^T' : ''} x [${b}]${transposeB ? '^T' : ''}`);
  const batch = Number(product(broadcastShapes(a.slice(0, -2), b.slice(0, -2))));
  return { batch, m, k, n };
}

function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`calibrate: batch dims [${a}] and [${b}] do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}

export function dispatchFlops(dispatch: MatmulDispatch): bigint {
  const { batch, m, k, n } = dispatchDims(dispatch);
  return matmulFlops(BigInt(batch), BigInt(m), BigInt(k), BigInt(n));
}

/** The same work as one [batch*m, k] x [k, n] with no transposes: XNNPACK's fast path on wasm. */
export function fastPathDispatch(dispatch: MatmulDispatch): MatmulDispatch {
  const { batch, m, k, n } = dispatchDims(dispatch);
  return { aShape: [batch * m, k], bShape: [k, n], transposeA: false, transposeB: false };
}

/** True when a dispatch is already batch 1 with no transposes. */
export function isFastPathDispatch(dispatch: MatmulDispatch): boolean {
  const batchOne = (shape: readonly number[]) => shape.slice(0, -2).every((dim) => dim === 1);
  return !dispatch.transposeA && !dispatch.transposeB && batchOne(dispatch.aShape) && batchOne(dispatch.bShape);
}

export function dispatchLabel(dispatch: MatmulDispatch): string {
  const operand = (shape: readonly number[], transposed: boolean) => `[${shape.join(',')}]${transposed ? '^T' : ''}`;
  return `${operand(dispatch.aShape, dispatch.transposeA)} x ${operand(dispatch.bShape, dispatch.transposeB)}`;
}

/** The outermost matmul record with the most FLOPs (the first of equals); undefined if none. */
export function largestMatmulRecord<R extends Pick<KernelRecord, 'matmul' | 'nested'>>(
  records: readonly R[],
): R | undefined {
  let largest: R | undefined;
  for (const record of records) {
    if (record.nested || record.matmul === undefined) continue;
    if (largest === undefined || record.matmul.flops > (largest.matmul?.flops ?? 0n)) largest = record;
  }
  return largest;
}

/** Time `dispatch` on the active backend. */
export async function calibrateMatmul(dispatch: MatmulDispatch, options: CalibrateOptions): Promise<MatmulCalibration> {
  const minTimeMs = options.minTimeMs ?? 1000;
  const minRuns = options.minRuns ?? 5;
  const maxRuns = options.maxRuns ?? 1000;
  const warmupRuns = options.warmupRuns ?? 2;
  const fresh = options.rightOperand === 'fresh';
  const a = tf.fill([...dispatch.aShape], 0.01);
  const keptB = fresh ? undefined : tf.fill([...dispatch.bShape], 0.01);
  try {
    const once = async (): Promise<number> => {
      const b = keptB ?? tf.fill([...dispatch.bShape], 0.01);
      const start = performance.now();
      const out = tf.matMul(a, b, dispatch.transposeA, dispatch.transposeB);
      try {
        if (!options.synchronous) await out.data();
        return performance.now() - start;
      } finally {
        out.dispose();
        if (b !== keptB) b.dispose();
      }
    };
    for (let i = 0; i < warmupRuns; i++) await once();
    const samples: number[] = [];
    const started = performance.now();
    while (samples.length < maxRuns && (samples.length < minRuns || performance.now() - started < minTimeMs)) {
      samples.push(await once());
      options.onCall?.();
    }
    const summary = summarize(samples);
    const flops = dispatchFlops(dispatch);
    return { dispatch, label: dispatchLabel(dispatch), flops, summary, gflops: gflopsPerSecond(flops, summary.median) };
  } finally {
    a.dispose();
    keptB?.dispose();
  }
}

/** The bare-matmul rates a forward pass is compared with. */
export interface ForwardCalibration {
  /** Module path of the largest matmul. */
  readonly path: string;
  /** The largest matmul exactly as the model dispatches it. */
  readonly dispatched: MatmulCalibration;
  /** The same work on the fast path; undefined when the model already dispatches it that way. */
  readonly fastPath: MatmulCalibration | undefined;
  /** The higher of the two rates: what "calibrated" means in an efficiency. */
  readonly bestGflops: number;
}

/** Calibrate the largest matmul of a trace both ways; undefined when the trace has no matmul. */
export async function calibrateLargestMatmul(
  records: readonly KernelRecord[],
  options: CalibrateOptions,
): Promise<ForwardCalibration | undefined> {
  const largest = largestMatmulRecord(records);
  if (largest === undefined) return undefined;
  const dispatch = dispatchOfRecord(largest);
  const dispatched = await calibrateMatmul(dispatch, options);
  const fastPath = isFastPathDispatch(dispatch)
    ? undefined
    : await calibrateMatmul(fastPathDispatch(dispatch), options);
  return {
    path: largest.path,
    dispatched,
    fastPath,
    bestGflops: Math.max(dispatched.gflops, fastPath?.gflops ?? 0),
  };
}
