/**
 * The bytes a traced kernel moves, read off its record: the trace side of the roofline's bytes,
 * apart from the analytic side (src/analytic/bytes.ts), which derives them from the architecture.
 *
 * Under the roofline's assumption (design.md section 2) a kernel reads each input once and writes
 * each output once, at the width of its dtype. Selecting kernels read what they select: GatherV2
 * reads the rows it gathers (as many elements as it writes) and its indices, Slice the slice. An
 * input the trace marks as a weight (TraceOptions.weights) is counted as weights, every other
 * input as activations; a forward pass reads no KV cache.
 */
import type { KernelRecord, TensorSignature } from './kernel_record.js';

/** Bytes per element of each tfjs dtype. */
const DTYPE_BYTES: Readonly<Record<string, bigint>> = {
  float32: 4n,
  int32: 4n,
  bool: 1n,
  complex64: 8n,
};

/** The bytes one traced kernel reads and writes. */
export interface TracedBytes {
  readonly readWeights: bigint;
  readonly readActivations: bigint;
  readonly written: bigint;
  /** Read plus written, by dtype ("float32", "int32", "bool"), in order of first appearance. */
  readonly byDtype: ReadonlyMap<string, bigint>;
}

function elements(shape: readonly number[]): bigint {
  return shape.reduce((total, dim) => total * BigInt(dim), 1n);
}

function width(tensor: TensorSignature, record: KernelRecord): bigint {
  const bytes = DTYPE_BYTES[tensor.dtype];
  if (bytes === undefined)
    throw new Error(`byte rules: ${record.kernel} at ${record.path} has a ${tensor.dtype} tensor`);
  return bytes;
}

/** Elements of input `index` the kernel reads: all of it, or what a selecting kernel selects. */
function elementsRead(record: KernelRecord, index: number, input: TensorSignature): bigint {
  const output = record.outputs[0];
  if (index === 0 && output !== undefined && (record.kernel === 'GatherV2' || record.kernel === 'Slice')) {
    return elements(output.shape);
  }
  return elements(input.shape);
}

/** The bytes of one kernel record under the rules above. */
export function recordBytes(record: KernelRecord): TracedBytes {
  const byDtype = new Map<string, bigint>();
  const add = (dtype: string, bytes: bigint) => byDtype.set(dtype, (byDtype.get(dtype) ?? 0n) + bytes);
  let [readWeights, readActivations, written] = [0n, 0n, 0n];
  record.inputs.forEach((input, index) => {
    const bytes = elementsRead(record, index, input) * width(input, record);
    if (input.weight === true) readWeights += bytes;
    else readActivations += bytes;
    add(input.dtype, bytes);
  });
  for (const output of record.outputs) {
    const bytes = elements(output.shape) * width(output, record);
    written += bytes;
    add(output.dtype, bytes);
  }
  return { readWeights, readActivations, written, byDtype };
}
