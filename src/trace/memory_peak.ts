/**
 * Peak memory of a run, sampled after every kernel.
 *
 * The sample is taken in a wrapper around the engine's runKernel (every op dispatches through
 * it), right after it returns: by then the engine has registered the kernel's outputs and saved
 * what the gradient needs, and nothing has been freed yet, so each peak is seen exactly. A
 * wrapper inside the kernel function (the tracer's) would run before the outputs are counted.
 *
 * Two figures, because tfjs counts memory per tensor:
 *   - tensorBytes: tf.memory().numBytes, the sum over live tensors of size * bytes per element.
 *     A reshape view, or a tensor saved for the gradient as a clone that shares storage (cpu,
 *     meta), counts again though no byte is copied.
 *   - bufferBytes: storage actually held, each buffer once, tracked here by data id from the
 *     tensors the kernels take and return. A buffer is dropped when the engine forgets its data
 *     id (its last tensor disposed): the engine's removeDataId is wrapped for the run, so each
 *     release costs O(1). Scanning every tracked buffer for freed ones instead, at each kernel
 *     that could set a new peak, made a training step quadratic in the layer count: during the
 *     forward pass nearly every kernel raises the peak, and the saved activations of all layers
 *     so far are live.
 * On the meta backend both count shapes: what the real tensors would take on a backend that
 * stores values the way cpu does (meta shares storage where cpu does: reshape, identity, casts
 * that lose nothing). meta's own memory() reports 0 bytes held.
 */
import * as tf from '@tensorflow/tfjs';

import { currentModulePath } from '../core/scope.js';
import type { KernelPhase } from '../core/kernel_record.js';
import { currentPhase } from '../core/phase.js';

/** Where a peak was reached: right after this kernel returned. */
export interface PeakMoment {
  readonly bytes: number;
  readonly kernel: string;
  readonly path: string;
  readonly phase: KernelPhase | undefined;
}

export interface MemoryPeak {
  /** tf.memory().numBytes before the run (weights, optimizer state, inputs). */
  readonly tensorBytesBefore: number;
  /** Highest tf.memory().numBytes after any kernel, and where. */
  readonly tensorPeak: PeakMoment;
  /** Storage held before the run, each buffer once. */
  readonly bufferBytesBefore: number;
  /** Highest storage held after any kernel, each buffer once, and where. */
  readonly bufferPeak: PeakMoment;
  /** tf.memory().numBytes after the run, what `fn` returned still alive. */
  readonly tensorBytesAfter: number;
  /** Kernels sampled. */
  readonly kernels: number;
}

type RunKernel = (
  kernelName: string,
  inputs: Record<string, tf.TensorInfo>,
  attrs?: Record<string, unknown>,
) => unknown;

type RemoveDataId = (dataId: object, backend: unknown) => void;

interface TrackedEngine {
  runKernel: RunKernel;
  removeDataId: RemoveDataId;
  state: { numBytes: number; tensorInfo: WeakMap<object, unknown> };
}

let measuring = false;

/**
 * Run `fn` with memory sampled after every kernel. `held` are the tensors alive before the run
 * whose storage counts from the start (weights, optimizer state, ids); tensors made outside any
 * kernel during the run count once a kernel takes them. Does not nest.
 */
export function measurePeakMemory<T>(held: readonly tf.Tensor[], fn: () => T): { result: T; memory: MemoryPeak } {
  if (measuring) throw new Error('measurePeakMemory: a measurement is already running; measurements cannot nest');
  const engine = tf.engine() as unknown as TrackedEngine;
  const hadOwnRunKernel = Object.prototype.hasOwnProperty.call(engine, 'runKernel');
  const hadOwnRemoveDataId = Object.prototype.hasOwnProperty.call(engine, 'removeDataId');
  const original = engine.runKernel;
  const originalRemoveDataId = engine.removeDataId;

  const buffers = new Map<object, number>();
  let bufferBytes = 0;
  const track = (tensor: tf.TensorInfo): void => {
    if (buffers.has(tensor.dataId)) return;
    const bytes = tf.util.sizeFromShape(tensor.shape) * tf.util.bytesPerElement(tensor.dtype);
    buffers.set(tensor.dataId, bytes);
    bufferBytes += bytes;
  };
  /** Forgets a buffer once the engine has (its last tensor disposed). */
  const release = (dataId: object): void => {
    const bytes = buffers.get(dataId);
    if (bytes === undefined || engine.state.tensorInfo.has(dataId)) return;
    buffers.delete(dataId);
    bufferBytes -= bytes;
  };

  for (const tensor of held) track(tensor);
  const tensorBytesBefore = tf.memory().numBytes;
  const bufferBytesBefore = bufferBytes;
  const moment = (bytes: number, kernel: string): PeakMoment => ({
    bytes,
    kernel,
    path: currentModulePath(),
    phase: currentPhase(),
  });
  let tensorPeak: PeakMoment = moment(tensorBytesBefore, '(before the run)');
  let bufferPeak: PeakMoment = moment(bufferBytesBefore, '(before the run)');
  let kernels = 0;

  engine.runKernel = function (this: unknown, kernelName, inputs, attrs) {
    const output = original.call(this, kernelName, inputs, attrs);
    kernels++;
    for (const name in inputs) {
      const input = inputs[name];
      if (input != null) track(input);
    }
    for (const tensor of Array.isArray(output) ? output : [output]) track(tensor as tf.TensorInfo);
    const tensorBytes = tf.memory().numBytes;
    if (tensorBytes > tensorPeak.bytes) tensorPeak = moment(tensorBytes, kernelName);
    if (bufferBytes > bufferPeak.bytes) bufferPeak = moment(bufferBytes, kernelName);
    return output;
  };
  engine.removeDataId = function (this: unknown, dataId, backend) {
    originalRemoveDataId.call(this, dataId, backend);
    release(dataId);
  };

  measuring = true;
  try {
    const result = fn();
    return {
      result,
      memory: {
        tensorBytesBefore,
        tensorPeak,
        bufferBytesBefore,
        bufferPeak,
        tensorBytesAfter: tf.memory().numBytes,
        kernels,
      },
    };
  } finally {
    if (hadOwnRunKernel) engine.runKernel = original;
    else delete (engine as Partial<TrackedEngine>).runKernel;
    if (hadOwnRemoveDataId) engine.removeDataId = originalRemoveDataId;
    else delete (engine as Partial<TrackedEngine>).removeDataId;
    measuring = false;
  }
}
