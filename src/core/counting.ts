/**
 * Counting conventions (design.md section 3), each written down once, here.
 *
 * - A matmul [..., m, k] @ [..., k, n] costs 2*m*k*n FLOPs per broadcast batch element:
 *   one multiply and one add per term. A MAC is one multiply-add, so MACs = FLOPs / 2.
 *   FLOPs and MACs may both be shown, never mixed in one total.
 * - Causal attention is counted in full (the kernels compute every T x T score); the
 *   "useful" causal triangle T(T+1)/2 is a labelled alternative, never substituted silently.
 * - Every count is an exact bigint; formatting happens only at the edge (src/views and src/render).
 */

/** FLOPs of one matmul with `batch` broadcast batch elements of [m, k] @ [k, n]. */
export function matmulFlops(batch: bigint, m: bigint, k: bigint, n: bigint): bigint {
  return 2n * batch * m * k * n;
}

/** MACs of the same matmul: one per multiply-add term. */
export function matmulMacs(batch: bigint, m: bigint, k: bigint, n: bigint): bigint {
  return batch * m * k * n;
}

/** Product of dimensions as an exact bigint (1n for an empty list, like a scalar's size). */
export function product(dims: readonly (number | bigint)[]): bigint {
  // A trace sizes every operand of every kernel, and each bigint step allocates: multiply in
  // doubles while that is exact. With whole dims, each partial product is at most the last in
  // magnitude unless a dim is 0, which makes the result 0 exactly; so a safe-integer result means
  // every step was exact. Anything else (a step past 2^53, a bigint or fractional dim) takes the
  // bigint path, which also keeps its RangeError for a dim that is not whole.
  let inDoubles = 1;
  for (const dim of dims) {
    if (typeof dim !== 'number' || !Number.isInteger(dim)) return bigintProduct(dims);
    inDoubles *= dim;
  }
  return Number.isSafeInteger(inDoubles) ? BigInt(inDoubles) : bigintProduct(dims);
}

function bigintProduct(dims: readonly (number | bigint)[]): bigint {
  let total = 1n;
  for (const dim of dims) total *= BigInt(dim);
  return total;
}

/** Sum of bigints. */
export function sum(values: Iterable<bigint>): bigint {
  let total = 0n;
  for (const value of values) total += value;
  return total;
}

/** Bytes per element of each storage dtype the memory accounting reports. */
export const BYTES_PER_ELEMENT = {
  fp32: 4n,
  fp16: 2n,
  bf16: 2n,
  int8: 1n,
} as const;
export type StorageDtype = keyof typeof BYTES_PER_ELEMENT;
