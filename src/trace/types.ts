/** What the tracer records for one kernel execution. Shapes are concrete numbers. */

export interface TensorSignature {
  readonly shape: readonly number[];
  readonly dtype: string;
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
   * Non-matmul FLOPs by the rule table; null when no rule covers the kernel (reported as
   * uncounted, by name, never as zero). Matmul kernels carry their count in `matmul` and 0n here.
   */
  readonly flops: bigint | null;
}
