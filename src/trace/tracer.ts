/**
 * The kernel tracer: the interceptor half of the FlopCounterMode pattern (the formulas live in
 * matmul_shapes.ts and flop_rules.ts).
 *
 * Every op dispatches through the engine's runKernel, which looks the kernel up in the global
 * registry (tf.getKernel) at each call. So, for the duration of `fn` only, each kernel of the
 * active backend is re-registered as a copy of its config whose kernelFunc records what ran and
 * then calls the original. That catches kernels run by ops, by gradient functions (tf.grads
 * runs ops too) and by kernels that call other kernels through the engine (tfjs-node's
 * _FusedMatMul calls BatchMatMul): a depth counter marks those inner records `nested`, and only
 * outermost matmuls are counted. Kernels a backend calls as plain functions (cpu and wasm
 * helpers) never pass through the registry and are part of the kernel that called them.
 *
 * The copy keeps setupFunc and disposeFunc: the engine calls setupFunc on every kernel of a
 * backend when that backend is set (engine.setupRegisteredKernels), and wasm kernels bind their
 * WebAssembly functions there. Wrapping happens after the backend is initialised, so the
 * originals have already run their setup and the wrapper only forwards to them; keeping
 * setupFunc means a backend set again while wrapped still initialises every kernel.
 *
 * The wrapper never reads tensor data: it copies shapes, dtypes and attrs and reads the module
 * path, so tracing stays cheap. FLOPs are computed once `fn` has returned, outside the kernels.
 * Wrapping and restoring ~170 registry entries is a fixed cost of about half a millisecond per
 * trace on this machine, so trace a whole forward pass once rather than each small op.
 */
import * as tf from '@tensorflow/tfjs';
import { currentModulePath } from '../scope.js';
import { isMatmulKernel, matmulFromKernel } from './matmul_shapes.js';
import { nonMatmulFlops } from './flop_rules.js';
import type { KernelPhase, KernelRecord, TensorSignature } from './types.js';

export interface TraceOptions {
  /**
   * Record each kernel's wall time (performance.now around the kernel function). On wasm, cpu
   * and tfjs-node this is compute time; on GPU backends it is only dispatch time.
   */
  readonly timeKernels?: boolean;
  /**
   * Asked as each kernel starts; its answer is kept as the record's `phase`. A traced training
   * step answers forward, backward or optimizer from its own state: the tracer knows kernels,
   * not what they are for.
   */
  readonly phaseOf?: () => KernelPhase | undefined;
}

export interface Trace<T> {
  readonly result: T;
  readonly records: KernelRecord[];
}

type KernelConfig = ReturnType<typeof tf.getKernel>;
type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/** What the wrapper captures while the kernel runs; FLOPs are added after `fn` returns. */
interface CapturedKernel {
  readonly kernel: string;
  readonly path: string;
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly nested: boolean;
  readonly timeMs: number | undefined;
  readonly phase: KernelPhase | undefined;
}

let traceRunning = false;

/**
 * Run `fn` synchronously with every kernel of the active backend recorded, and restore the
 * kernel registry afterwards, also when `fn` throws. Traces do not nest.
 */
export function traceKernels<T>(fn: () => T, options: TraceOptions = {}): Trace<T> {
  if (traceRunning) {
    throw new Error('traceKernels: a trace is already running; traces cannot nest (trace the outer function once)');
  }
  // tf.backend() initialises the default backend if none is set yet, and throws a clear error
  // if an asynchronous backend (wasm) has not finished initialising.
  tf.backend();
  const backendName = tf.getBackend();
  const timeKernels = options.timeKernels === true;
  // Slots are reserved when a kernel starts so records keep execution order (an outer kernel
  // before the kernels it calls); a kernel that throws leaves its slot empty.
  const captured: (CapturedKernel | undefined)[] = [];
  let depth = 0;

  const wrap = (original: KernelConfig): KernelConfig => {
    const kernel = original.kernelName;
    const kernelFunc = (args: KernelArgs) => {
      const slot = captured.length;
      captured.push(undefined);
      const path = currentModulePath();
      const inputs = signaturesOf(args.inputs);
      const attrs = args.attrs === undefined ? {} : jsonSafeAttrs(args.attrs);
      const nested = depth > 0;
      const phase = options.phaseOf?.();
      depth++;
      let output: ReturnType<KernelConfig['kernelFunc']>;
      let timeMs: number | undefined;
      try {
        if (timeKernels) {
          const start = performance.now();
          output = original.kernelFunc(args);
          timeMs = performance.now() - start;
        } else {
          output = original.kernelFunc(args);
        }
      } finally {
        depth--;
      }
      const outputs = Array.isArray(output) ? output.map(signatureOf) : [signatureOf(output)];
      captured[slot] = { kernel, path, inputs, outputs, attrs, nested, timeMs, phase };
      return output;
    };
    return { ...original, kernelFunc };
  };

  traceRunning = true;
  const wrapped = new Map<string, { original: KernelConfig; wrapper: KernelConfig }>();
  try {
    for (const original of tf.getKernelsForBackend(backendName)) {
      const wrapper = wrap(original);
      tf.unregisterKernel(original.kernelName, backendName);
      tf.registerKernel(wrapper);
      wrapped.set(original.kernelName, { original, wrapper });
    }
    const result = fn();
    if (isPromiseLike(result)) {
      result.then(undefined, () => undefined);
      throw new Error(
        'traceKernels: fn returned a promise; tracing is synchronous, so kernels run after an await would be missed. Trace a synchronous function.',
      );
    }
    if (tf.getBackend() !== backendName) {
      throw new Error(
        `traceKernels: the backend changed from '${backendName}' to '${tf.getBackend()}' during the trace; set the backend before tracing`,
      );
    }
    return { result, records: finishRecords(captured) };
  } finally {
    restore(backendName, wrapped);
    traceRunning = false;
  }
}

/** Put each original config back, unless `fn` itself re-registered that kernel (its choice stands). */
function restore(
  backendName: string,
  wrapped: ReadonlyMap<string, { original: KernelConfig; wrapper: KernelConfig }>,
): void {
  for (const [kernelName, { original, wrapper }] of wrapped) {
    if (tf.getKernel(kernelName, backendName) !== wrapper) continue;
    tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel(original);
  }
}

function finishRecords(captured: readonly (CapturedKernel | undefined)[]): KernelRecord[] {
  const records: KernelRecord[] = [];
  for (const kernel of captured) {
    if (kernel === undefined) continue;
    const matmul =
      isMatmulKernel(kernel.kernel) && !kernel.nested
        ? matmulFromKernel(kernel.kernel, kernel.inputs, kernel.outputs, kernel.attrs)
        : undefined;
    records.push({
      index: records.length,
      kernel: kernel.kernel,
      path: kernel.path,
      inputs: kernel.inputs,
      outputs: kernel.outputs,
      attrs: kernel.attrs,
      ...(matmul === undefined ? {} : { matmul }),
      nested: kernel.nested,
      flops: nonMatmulFlops(kernel.kernel, kernel.inputs, kernel.outputs, kernel.attrs),
      ...(kernel.timeMs === undefined ? {} : { timeMs: kernel.timeMs }),
      ...(kernel.phase === undefined ? {} : { phase: kernel.phase }),
    });
  }
  return records;
}

interface TensorInfoLike {
  readonly shape: readonly number[];
  readonly dtype: string;
}

function signatureOf(info: TensorInfoLike): TensorSignature {
  return { shape: info.shape.slice(), dtype: info.dtype };
}

/** Inputs arrive as a named map ({a, b}) or an array (Concat, Einsum); absent optional inputs are skipped. */
function signaturesOf(inputs: KernelArgs['inputs']): TensorSignature[] {
  const signatures: TensorSignature[] = [];
  for (const key in inputs) {
    const info = inputs[key];
    if (info != null) signatures.push(signatureOf(info));
  }
  return signatures;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

const MAX_ATTR_DEPTH = 6;

function jsonSafeAttrs(attrs: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const safe: Record<string, unknown> = {};
  for (const key in attrs) {
    const value = jsonSafe(attrs[key], 0);
    if (value !== undefined) safe[key] = value;
  }
  return safe;
}

/**
 * Attrs reduced to what JSON.stringify keeps faithfully: non-finite numbers and bigints become
 * strings, tensors their signature, functions and undefined are dropped.
 */
function jsonSafe(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (depth >= MAX_ATTR_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.map((item) => jsonSafe(item, depth + 1) ?? null);
  if (ArrayBuffer.isView(value)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (item) => jsonSafe(item, depth + 1));
  }
  const object = value as Record<string, unknown>;
  if ('dataId' in object && Array.isArray(object['shape']) && typeof object['dtype'] === 'string') {
    return signatureOf(object as unknown as TensorInfoLike);
  }
  const safe: Record<string, unknown> = {};
  for (const key in object) {
    const item = jsonSafe(object[key], depth + 1);
    if (item !== undefined) safe[key] = item;
  }
  return safe;
}
