/**
 * The kernel tracer: the interceptor half of the FlopCounterMode pattern (the formulas live in
 * matmul_shapes.ts and flop_rules.ts).
 *
 * Every op dispatches through the engine's runKernel, which looks the kernel up in the global
 * registry (tf.getKernel) at each call. So, for the duration of `fn` only, each kernel of the
 * active backend has its kernelFunc swapped for one that records what ran and then calls the
 * original. That catches kernels run by ops, by gradient functions (tf.grads
 * runs ops too) and by kernels that call other kernels through the engine (tfjs-node's
 * _FusedMatMul calls BatchMatMul): a depth counter marks those inner records `nested`, and only
 * outermost matmuls are counted. Kernels a backend calls as plain functions (cpu and wasm
 * helpers) never pass through the registry and are part of the kernel that called them.
 *
 * The swap happens in place, on the registered config object itself, and is undone in `finally`:
 * the registry keeps the very same objects (setupFunc and disposeFunc untouched, which wasm
 * kernels need), and a trace costs a few microseconds to set up instead of the ~0.2 ms that
 * unregistering and re-registering ~160 kernels takes, which mattered against a 4 ms forward pass.
 *
 * The wrapper never reads tensor data and does as little as it can while kernels run: it keeps
 * references to the kernel's inputs, attrs and outputs and reads the module path; shapes are
 * copied, attrs made JSON-safe and FLOPs computed once `fn` has returned. The wrappers of a
 * backend are built once and reused (listing the registry costs ~2 ms, more than a small
 * forward pass); the cache is rebuilt whenever the registry's size, a registered config or its
 * kernelFunc has changed, so a kernel registered later is never missed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { currentModulePath } from '../core/scope.js';
import { isMatmulKernel, matmulFromKernel } from '../core/matmul_shapes.js';
import { nonMatmulFlops } from '../core/flop_rules.js';
import type { KernelPhase, KernelRecord, TensorSignature } from '../core/kernel_record.js';

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
  /**
   * The model's weights: an input whose data is one of theirs is marked `weight` in its record,
   * so the bytes a kernel reads can be split into weights and activations by what the tensors
   * are, not by where a formula expects a weight. Their data is taken as `fn` starts and each
   * input is looked up as its kernel runs: an optimizer that assigns a variable gives it new data,
   * and a gradient may read the weight's old data through a clone the engine saved for it. A clone
   * of a weight holds the weight's data: on cpu it shares the storage, on wasm it is a copy.
   */
  readonly weights?: readonly tf.Tensor[];
}

export interface Trace<T> {
  readonly result: T;
  readonly records: KernelRecord[];
}

type KernelConfig = ReturnType<typeof tf.getKernel>;
type KernelArgs = Parameters<KernelConfig['kernelFunc']>[0];

/** What the wrapper captures while the kernel runs; FLOPs are added after `fn` returns. */
/** What a kernel call leaves behind: references only, turned into a record after the trace. */
interface CapturedKernel {
  readonly kernel: string;
  readonly path: string;
  readonly inputs: KernelArgs['inputs'];
  readonly output: ReturnType<KernelConfig['kernelFunc']>;
  readonly attrs: KernelArgs['attrs'];
  readonly nested: boolean;
  readonly timeMs: number | undefined;
  readonly phase: KernelPhase | undefined;
  /** Keys of the inputs whose data was a weight's when the kernel ran; undefined when none was. */
  readonly weightInputs: ReadonlySet<string> | undefined;
}

/** The capture of the trace now running; wrappers forward untouched when there is none. */
interface ActiveCapture {
  readonly captured: (CapturedKernel | undefined)[];
  readonly timeKernels: boolean;
  readonly phaseOf: (() => KernelPhase | undefined) | undefined;
  /** The weights' data when the trace started, and the copies of it the trace has made since. */
  readonly weightData: Set<unknown>;
  depth: number;
}

let active: ActiveCapture | undefined;

interface WrappedKernel {
  /** The registered config object; its kernelFunc is swapped during a trace. */
  readonly config: KernelConfig;
  readonly originalFunc: KernelConfig['kernelFunc'];
  readonly tracingFunc: KernelConfig['kernelFunc'];
  /** The config's key in tfjs's registry ("wasm_BatchMatMul"). */
  readonly registryKey: string;
}

interface BackendWrappers {
  /** The kernel registry's size when the wrappers were built (undefined: not readable). */
  readonly registrySize: number | undefined;
  readonly kernels: readonly WrappedKernel[];
}

const wrappersByBackend = new Map<string, BackendWrappers>();

export function traceKernels<T>(fn: () => T, options: TraceOptions = {}): Trace<T> {
  if (active !== undefined) {
    throw new Error('traceKernels: a trace is already running; traces cannot nest (trace the outer function once)');
  }
  // tf.backend() initialises the default backend if none is set yet, and throws a clear error
  // if an asynchronous backend (wasm) has not finished initialising.
  tf.backend();
  const backendName = tf.getBackend();
  const kernels = wrappersFor(backendName);
  // Slots are reserved when a kernel starts so records keep execution order (an outer kernel
  // before the kernels it calls); a kernel that throws leaves its slot empty.
  const capture: ActiveCapture = {
    captured: [],
    timeKernels: options.timeKernels === true,
    phaseOf: options.phaseOf,
    weightData: new Set<unknown>((options.weights ?? []).map((tensor) => tensor.dataId)),
    depth: 0,
  };
  active = capture;
  try {
    for (const entry of kernels) entry.config.kernelFunc = entry.tracingFunc;
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
    // Records (shapes copied, attrs made JSON-safe, FLOPs counted) are built when first read and
    // kept: that is analysis of the trace, not part of running the traced function.
    const captured = capture.captured;
    let records: KernelRecord[] | undefined;
    return {
      result,
      get records(): KernelRecord[] {
        records ??= finishRecords(captured);
        return records;
      },
    };
  } finally {
    for (const entry of kernels) entry.config.kernelFunc = entry.originalFunc;
    active = undefined;
  }
}

/** tfjs's global kernel registry, where it can be read (tfjs keeps it in a global map). */
function kernelRegistry(): Map<string, unknown> | undefined {
  const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  const registry = globals?.get('kernelRegistry');
  return registry instanceof Map ? (registry as Map<string, unknown>) : undefined;
}

/**
 * This backend's kernels with their tracing functions, rebuilt unless the registry is exactly as
 * it was when they were built: same size, every cached config still registered and still holding
 * the kernelFunc it had.
 */
function wrappersFor(backendName: string): readonly WrappedKernel[] {
  const registry = kernelRegistry();
  const registrySize = registry?.size;
  const cached = wrappersByBackend.get(backendName);
  // Read at every trace, so the check reads the registry by each kernel's key, built once: tf.getKernel
  // builds the key anew on every call, and over ~150 kernels that was most of a small model's tracing cost.
  const stillRegistered = (kernel: WrappedKernel): boolean =>
    (registry?.get(kernel.registryKey) ?? tf.getKernel(kernel.config.kernelName, backendName)) === kernel.config;
  if (
    cached !== undefined &&
    registrySize !== undefined &&
    cached.registrySize === registrySize &&
    cached.kernels.every((kernel) => kernel.config.kernelFunc === kernel.originalFunc && stillRegistered(kernel))
  ) {
    return cached.kernels;
  }
  const kernels = tf.getKernelsForBackend(backendName).map((config) => ({
    config,
    originalFunc: config.kernelFunc,
    tracingFunc: tracingKernelFunc(config.kernelName, config.kernelFunc),
    registryKey: `${backendName}_${config.kernelName}`,
  }));
  wrappersByBackend.set(backendName, { registrySize, kernels });
  return kernels;
}

function tracingKernelFunc(kernel: string, originalFunc: KernelConfig['kernelFunc']): KernelConfig['kernelFunc'] {
  return (args: KernelArgs) => {
    const capture = active;
    if (capture === undefined) return originalFunc(args);
    const slot = capture.captured.length;
    capture.captured.push(undefined);
    const path = currentModulePath();
    const nested = capture.depth > 0;
    const phase = capture.phaseOf?.();
    const weightInputs = capture.weightData.size === 0 ? undefined : weightInputKeys(args.inputs, capture.weightData);
    capture.depth++;
    let output: ReturnType<KernelConfig['kernelFunc']>;
    let timeMs: number | undefined;
    try {
      if (capture.timeKernels) {
        const start = performance.now();
        output = originalFunc(args);
        timeMs = performance.now() - start;
      } else {
        output = originalFunc(args);
      }
    } finally {
      capture.depth--;
    }
    if (weightInputs !== undefined && kernel === CLONE_KERNEL) {
      for (const info of Array.isArray(output) ? output : [output]) capture.weightData.add(info.dataId);
    }
    capture.captured[slot] = {
      kernel,
      path,
      inputs: args.inputs,
      output,
      attrs: args.attrs,
      nested,
      timeMs,
      phase,
      weightInputs,
    };
    return output;
  };
}

/** The kernel tf.clone runs, and the engine when it saves a kernel's inputs for their gradients. */
const CLONE_KERNEL = 'Identity';

/** Keys of `inputs` whose data is in `weightData` now, or undefined when none is. */
function weightInputKeys(inputs: KernelArgs['inputs'], weightData: ReadonlySet<unknown>): Set<string> | undefined {
  let keys: Set<string> | undefined;
  for (const key in inputs) {
    const info = inputs[key];
    if (info != null && weightData.has(info.dataId)) (keys ??= new Set<string>()).add(key);
  }
  return keys;
}

type MutableRecord = { -readonly [K in keyof KernelRecord]: KernelRecord[K] };

function finishRecords(captured: readonly (CapturedKernel | undefined)[]): KernelRecord[] {
  const records: KernelRecord[] = [];
  for (const kernel of captured) {
    if (kernel === undefined) continue;
    const inputs = signaturesOf(kernel.inputs, kernel.weightInputs);
    const outputs = Array.isArray(kernel.output)
      ? kernel.output.map((info) => signatureOf(info))
      : [signatureOf(kernel.output)];
    const attrs = kernel.attrs === undefined ? {} : jsonSafeAttrs(kernel.attrs);
    const matmul =
      isMatmulKernel(kernel.kernel) && !kernel.nested
        ? matmulFromKernel(kernel.kernel, inputs, outputs, attrs)
        : undefined;
    // Optional keys are added in place, not spread in: a spread builds a throwaway object per
    // record, hundreds of thousands in a large training step. Keys keep the order JSON shows.
    const index = records.length;
    const { kernel: name, path, nested } = kernel;
    const flops = nonMatmulFlops(name, inputs, outputs, attrs);
    const record: MutableRecord =
      matmul === undefined
        ? { index, kernel: name, path, inputs, outputs, attrs, nested, flops }
        : { index, kernel: name, path, inputs, outputs, attrs, matmul, nested, flops };
    if (kernel.timeMs !== undefined) record.timeMs = kernel.timeMs;
    if (kernel.phase !== undefined) record.phase = kernel.phase;
    records.push(record);
  }
  return records;
}

interface TensorInfoLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly dataId?: unknown;
}

function signatureOf(info: TensorInfoLike, weight = false): TensorSignature {
  const signature: { -readonly [K in keyof TensorSignature]: TensorSignature[K] } = {
    shape: info.shape.slice(),
    dtype: info.dtype,
  };
  if (weight) signature.weight = true;
  return signature;
}

/** Inputs arrive as a named map ({a, b}) or an array (Concat, Einsum); absent optional inputs are skipped. */
function signaturesOf(inputs: KernelArgs['inputs'], weightInputs: ReadonlySet<string> | undefined): TensorSignature[] {
  const signatures: TensorSignature[] = [];
  for (const key in inputs) {
    const info = inputs[key];
    if (info != null) signatures.push(signatureOf(info, weightInputs?.has(key) ?? false));
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
