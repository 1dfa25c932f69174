/** What the tracer records for one kernel execution. Shapes are concrete numbers. */

export interface TensorSignature {
  readonly shape: readonly number[];
  readonly dtype: string;
  /**
   * Set on an input that is one of the model's weights (its data is a weight tensor's, shared by a
   * reshape or not), when the trace was given the weights (TraceOptions.weights).
   */
  readonly weight?: true;
}

/** The matmul a kernel performed, read off its operand shapes, attrs and broadcast batch dims. */
export interface TracedMatmul {
  /** Product of the broadcast batch dims of the output. */
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly flops: bigint;
}

/**
 * Which part of a training step ran a kernel. Forward traces leave it unset; a traced training
 * step (src/runtime/trace_training_step.ts) sets it through the tracer's `phaseOf` option.
 * 'recompute': a checkpointed block's forward pass run again inside the backward pass, from its
 * saved input, so its gradients can be formed (src/model/checkpoint.ts).
 */
export type KernelPhase = 'forward' | 'recompute' | 'backward' | 'optimizer';

export interface KernelRecord {
  /** Order of execution within the trace, from 0. */
  readonly index: number;
  /** Registered kernel name, e.g. "BatchMatMul", "Softmax". */
  readonly kernel: string;
  /** Module path active when the kernel ran ("" outside every scope). */
  readonly path: string;
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /** The kernel's attrs reduced to JSON-safe values (transposeA/B, axis, perm, ...). */
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Set for the outermost matmul kernel only; a matmul nested inside another is not counted. */
  readonly matmul?: TracedMatmul;
  /** True when this kernel ran inside another traced kernel (e.g. BatchMatMul inside _FusedMatMul). */
  readonly nested: boolean;
  /**
   * Non-matmul FLOPs by the rule table (src/core/flop_rules.ts); null when no rule covers the
   * kernel (reported as uncounted, by name, never as zero). Matmul kernels carry their matmul
   * count in `matmul`; here they carry only extra elementwise work (_FusedMatMul's bias add and
   * activation), 0n for a plain BatchMatMul. A nested record keeps its own rule's value, but every
   * total counts outermost records only: a nested kernel's work belongs to the kernel that called it.
   */
  readonly flops: bigint | null;
  /**
   * Wall time of the kernel function in milliseconds, only when traced with `timeKernels`. On
   * wasm, cpu and tfjs-node kernels run synchronously, so this is compute time; on GPU backends
   * (webgl, webgpu) it is only the time to dispatch the work. Includes nested kernels' time.
   */
  readonly timeMs?: number;
  /** Set only when the trace was asked for phases (TraceOptions.phaseOf). */
  readonly phase?: KernelPhase;
}

/** What a FLOP rule reads of an operand: its shape only, so formulas can run on shapes alone. */
export type Shaped = Pick<TensorSignature, 'shape'>;
