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
import * as tf from '@tensorflow/tfjs-core';

import { layerIndexOf } from '../core/module_paths.js';
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

/** The first kernel a module path ran in a phase, and the storage held just before it. */
export interface FirstKernel {
  /** Its place among the run's kernels, from 0. */
  readonly order: number;
  readonly kernel: string;
  /** Storage held, each buffer once, as the kernel was called: nothing of its own counted yet. */
  readonly bytesBefore: number;
}

/** Storage held at the storage peak by the buffers one kernel made at one module path, in one phase. */
export interface BufferOwner {
  /** undefined for what was held before the run. */
  readonly phase: KernelPhase | undefined;
  readonly path: string;
  /** The kernel that made the buffers; '(held before the run)' or '(made outside a kernel)' otherwise. */
  readonly kernel: string;
  readonly buffers: number;
  readonly bytes: number;
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
  /** Highest storage held after a kernel of each phase, each buffer once, and where. */
  readonly bufferPeakByPhase: Partial<Readonly<Record<KernelPhase, PeakMoment>>>;
  /** The same by phase and module path: the highest storage while that module's kernels of that phase ran. */
  readonly bufferPeakByPhaseAndPath: ReadonlyMap<KernelPhase, ReadonlyMap<string, PeakMoment>>;
  /**
   * The first kernel of each module path in each phase, with the storage held just before it: at
   * a block's first backward kernel, what the backward pass holds between two blocks.
   */
  readonly firstKernelByPhaseAndPath: ReadonlyMap<KernelPhase, ReadonlyMap<string, FirstKernel>>;
  /**
   * The storage right after the last Add outside every module in each phase: in the backward pass
   * tfjs's running sums of gradients are such Adds, the last of them a tied table's two gradients.
   */
  readonly lastAddOutsideModules: Partial<Readonly<Record<KernelPhase, number>>>;
  /**
   * The first kernel of each block (any path under layers.{i}) in each phase, keyed `${phase} ${i}`,
   * and of each module outside the blocks, keyed `${phase} ${path}`.
   */
  readonly firstKernelByPhaseAndBlock: ReadonlyMap<string, FirstKernel>;
  /**
   * Who made the storage held at bufferPeak, largest first: the bytes add up to bufferPeak.bytes.
   * Found by replaying the allocations and releases up to the peak once the run is over, so
   * naming the buffers costs O(buffers), not a copy at every new peak.
   */
  readonly bufferPeakHeldBy: readonly BufferOwner[];
  /**
   * Where the peak lies inside a block (its path under layers.{i}) or a module outside the blocks:
   * who made the storage held just before that block's (or module's) first kernel in the peak's phase. Set beside bufferPeakHeldBy, the two say
   * what the block made and freed on its way to the peak.
   */
  readonly heldAtPeakBlockStart:
    { readonly first: FirstKernel; readonly phase: KernelPhase; readonly heldBy: readonly BufferOwner[] } | undefined;
  /**
   * Who made the storage held just before the first kernel of each phase, largest first: at the
   * start of the backward pass this is what the forward pass left for it.
   */
  readonly heldAtPhaseStart: Partial<Readonly<Record<KernelPhase, readonly BufferOwner[]>>>;
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

interface BlockStart {
  readonly first: FirstKernel;
  readonly phase: KernelPhase;
  /** Events recorded before the first kernel ran. */
  readonly events: number;
}

/**
 * Where the block (or module) holding the peak started: in the peak's phase, except that in the
 * backward pass a block's recompute and backward kernels are one stretch: from the block's first
 * backward kernel once it has run (a selectively checkpointed core reruns after it, a fully
 * checkpointed block before it), from the rerun's first kernel while the rerun runs.
 */
function startOfPeakBlock(
  starts: ReadonlyMap<string, BlockStart>,
  peak: PeakMoment,
  peakOrder: number,
): BlockStart | undefined {
  const group = blockOf(peak.path);
  const phase = peak.phase;
  if (group === undefined || phase === undefined) return undefined;
  if (phase !== 'backward' && phase !== 'recompute') return starts.get(`${phase} ${group}`);
  // Only starts reached by the peak count: once the block's backward kernels have begun (after a
  // full rerun, or before a selective core's rerun), they start the stretch; during a rerun, it.
  const reached = (start: BlockStart | undefined) =>
    start !== undefined && start.first.order <= peakOrder ? start : undefined;
  const backward = reached(starts.get(`backward ${group}`));
  const recompute = reached(starts.get(`recompute ${group}`));
  return backward ?? recompute;
}

/**
 * The group of kernels a path belongs to for the block starts: a block's index (any path under
 * layers.{i}), or a module outside the blocks itself (lm_head, ln_final, ...); undefined for the
 * step's own kernels outside every module, which run throughout.
 */
function blockOf(path: string): string | undefined {
  const layer = layerIndexOf(path);
  if (layer !== undefined) return String(layer);
  return path === '' ? undefined : path;
}

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

  const buffers = new Map<object, { bytes: number; owner: number }>();
  let bufferBytes = 0;
  // Owners by index, and every allocation (+bytes) and release (-bytes) by owner, in order.
  const owners: { phase: KernelPhase | undefined; path: string; kernel: string }[] = [];
  const events: number[] = []; // owner, bytes, owner, bytes, ...
  let eventsAtPeak = 0;
  const phaseStarts = new Map<KernelPhase, number>();
  // Owner indices by phase, then path, then kernel: a lookup per new buffer without building a key string.
  const ownerIndex = new Map<KernelPhase | undefined, Map<string, Map<string, number>>>();
  const ownerOf = (kernel: string, before: boolean): number => {
    const phase = before ? undefined : currentPhase();
    const path = before ? '' : currentModulePath();
    let byPath = ownerIndex.get(phase);
    if (byPath === undefined) ownerIndex.set(phase, (byPath = new Map<string, Map<string, number>>()));
    let byKernel = byPath.get(path);
    if (byKernel === undefined) byPath.set(path, (byKernel = new Map<string, number>()));
    let index = byKernel.get(kernel);
    if (index === undefined) {
      index = owners.length;
      owners.push({ phase, path, kernel });
      byKernel.set(kernel, index);
    }
    return index;
  };
  const track = (tensor: tf.TensorInfo, kernel: string, before = false): void => {
    if (buffers.has(tensor.dataId)) return;
    const bytes = tf.util.sizeFromShape(tensor.shape) * tf.util.bytesPerElement(tensor.dtype);
    const owner = ownerOf(kernel, before);
    buffers.set(tensor.dataId, { bytes, owner });
    events.push(owner, bytes);
    bufferBytes += bytes;
  };
  /** Forgets a buffer once the engine has (its last tensor disposed). */
  const release = (dataId: object): void => {
    const buffer = buffers.get(dataId);
    if (buffer === undefined || engine.state.tensorInfo.has(dataId)) return;
    buffers.delete(dataId);
    events.push(buffer.owner, -buffer.bytes);
    bufferBytes -= buffer.bytes;
  };
  /**
   * Who held storage after each of `eventCounts` events, from one replay of the events: a replay
   * per moment read the whole run's events again for each phase.
   */
  const heldAt = (eventCounts: readonly number[]): BufferOwner[][] => {
    const bytes = new Map<number, number>();
    const counts = new Map<number, number>();
    const owned = (): BufferOwner[] =>
      [...bytes]
        .filter(([, held]) => held > 0)
        .map(([owner, held]) => ({ ...owners[owner]!, buffers: counts.get(owner) ?? 0, bytes: held }))
        .sort((a, b) => b.bytes - a.bytes);
    const order = eventCounts.map((count, i) => ({ count, i })).sort((a, b) => a.count - b.count);
    const held: BufferOwner[][] = new Array<BufferOwner[]>(eventCounts.length);
    let replayed = 0;
    for (const { count, i } of order) {
      for (; replayed < count; replayed += 2) {
        const owner = events[replayed]!;
        const delta = events[replayed + 1]!;
        bytes.set(owner, (bytes.get(owner) ?? 0) + delta);
        counts.set(owner, (counts.get(owner) ?? 0) + Math.sign(delta));
      }
      held[i] = owned();
    }
    return held;
  };

  for (const tensor of held) track(tensor, '(held before the run)', true);
  eventsAtPeak = events.length;
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
  const phasePeaks = new Map<KernelPhase, PeakMoment>();
  const pathPeaks = new Map<KernelPhase, Map<string, PeakMoment>>();
  const firstKernels = new Map<KernelPhase, Map<string, FirstKernel>>();
  const lastAdds = new Map<KernelPhase, number>();
  // Each block's first kernel in each phase, and the events before it, keyed `${phase} ${layer}`.
  const blockStarts = new Map<string, BlockStart>();
  let peakOrder = -1;

  engine.runKernel = function (this: unknown, kernelName, inputs, attrs) {
    const phase = currentPhase();
    if (phase !== undefined && !phaseStarts.has(phase)) phaseStarts.set(phase, events.length);
    const bytesBefore = bufferBytes;
    const eventsBefore = events.length;
    const output = original.call(this, kernelName, inputs, attrs);
    kernels++;
    for (const name in inputs) {
      const input = inputs[name];
      if (input != null) track(input, '(made outside a kernel)');
    }
    if (Array.isArray(output)) for (const tensor of output) track(tensor as tf.TensorInfo, kernelName);
    else track(output as tf.TensorInfo, kernelName);
    // What tf.memory().numBytes returns, read without the object tf.memory() builds per call.
    const tensorBytes = engine.state.numBytes;
    if (tensorBytes > tensorPeak.bytes) tensorPeak = moment(tensorBytes, kernelName);
    if (phase !== undefined) {
      if (bufferBytes > (phasePeaks.get(phase)?.bytes ?? -1)) phasePeaks.set(phase, moment(bufferBytes, kernelName));
      let byPath = pathPeaks.get(phase);
      if (byPath === undefined) pathPeaks.set(phase, (byPath = new Map<string, PeakMoment>()));
      const path = currentModulePath();
      const pathPeak = byPath.get(path);
      if (pathPeak === undefined) {
        let firstByPath = firstKernels.get(phase);
        if (firstByPath === undefined) firstKernels.set(phase, (firstByPath = new Map<string, FirstKernel>()));
        const first = { order: kernels - 1, kernel: kernelName, bytesBefore };
        firstByPath.set(path, first);
        const group = blockOf(path);
        const block = `${phase} ${group}`;
        if (group !== undefined && !blockStarts.has(block)) {
          blockStarts.set(block, { first, phase, events: eventsBefore });
        }
      }
      if (bufferBytes > (pathPeak?.bytes ?? -1)) byPath.set(path, moment(bufferBytes, kernelName));
      if (path === '' && kernelName === 'Add') lastAdds.set(phase, bufferBytes);
    }
    if (bufferBytes > bufferPeak.bytes) {
      bufferPeak = moment(bufferBytes, kernelName);
      eventsAtPeak = events.length;
      peakOrder = kernels - 1;
    }
    return output;
  };
  engine.removeDataId = function (this: unknown, dataId, backend) {
    originalRemoveDataId.call(this, dataId, backend);
    release(dataId);
  };

  measuring = true;
  try {
    const result = fn();
    // Found once the run is over, not at every new peak: in the forward pass nearly every kernel sets one.
    const blockStart = startOfPeakBlock(blockStarts, bufferPeak, peakOrder);
    const [atPeak, atBlockStart, ...atPhaseStarts] = heldAt([
      eventsAtPeak,
      blockStart?.events ?? 0,
      ...phaseStarts.values(),
    ]);
    const phases = [...phaseStarts.keys()];
    return {
      result,
      memory: {
        tensorBytesBefore,
        tensorPeak,
        bufferBytesBefore,
        bufferPeak,
        bufferPeakHeldBy: atPeak!,
        heldAtPeakBlockStart:
          blockStart === undefined
            ? undefined
            : { first: blockStart.first, phase: blockStart.phase, heldBy: atBlockStart! },
        bufferPeakByPhase: Object.fromEntries(phasePeaks),
        bufferPeakByPhaseAndPath: pathPeaks,
        firstKernelByPhaseAndPath: firstKernels,
        lastAddOutsideModules: Object.fromEntries(lastAdds),
        firstKernelByPhaseAndBlock: new Map([...blockStarts].map(([block, start]) => [block, start.first])),
        heldAtPhaseStart: Object.fromEntries(phases.map((phase, i) => [phase, atPhaseStarts[i]!])),
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
