/**
 * Totals over trace records. Every total counts outermost records only: a nested kernel (one
 * run by another kernel through the engine) is part of the work of the kernel that called it,
 * so counting it again would count that work twice.
 */
import { rollUp } from '../core/module_paths.js';
import type { KernelRecord } from '../core/kernel_record.js';

/** Records that were not run by another traced kernel. */
export function outermostRecords(records: readonly KernelRecord[]): KernelRecord[] {
  return records.filter((record) => !record.nested);
}

/** Matmul FLOPs of the trace (only outermost matmuls carry `matmul`). */
export function totalMatmulFlops(records: readonly KernelRecord[]): bigint {
  let total = 0n;
  for (const record of records) if (record.matmul !== undefined) total += record.matmul.flops;
  return total;
}

/** Number of counted (outermost) matmul kernel executions. */
export function matmulKernelCount(records: readonly KernelRecord[]): number {
  return records.filter((record) => record.matmul !== undefined).length;
}

/** Non-matmul FLOPs by the rule table, over the outermost kernels that have a rule. */
export function totalNonMatmulFlops(records: readonly KernelRecord[]): bigint {
  let total = 0n;
  for (const record of records) if (!record.nested && record.flops !== null) total += record.flops;
  return total;
}

/** Outermost kernels without a FLOP rule, by kernel name, with how many times each ran. */
export function uncountedKernels(records: readonly KernelRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.nested || record.flops !== null) continue;
    counts.set(record.kernel, (counts.get(record.kernel) ?? 0) + 1);
  }
  return counts;
}

/** What a group of records adds up to. `timeMs` is undefined unless the trace was timed. */
export interface KernelTotals {
  /** Outermost kernel executions in the group. */
  readonly kernels: number;
  readonly matmulKernels: number;
  readonly matmulFlops: bigint;
  readonly nonMatmulFlops: bigint;
  /** Executions with no FLOP rule (their work is in neither total). */
  readonly uncountedKernels: number;
  readonly timeMs: number | undefined;
}

interface MutableTotals {
  kernels: number;
  matmulKernels: number;
  matmulFlops: bigint;
  nonMatmulFlops: bigint;
  uncountedKernels: number;
  timeMs: number | undefined;
}

function emptyTotals(): MutableTotals {
  return { kernels: 0, matmulKernels: 0, matmulFlops: 0n, nonMatmulFlops: 0n, uncountedKernels: 0, timeMs: undefined };
}

function addRecord(totals: MutableTotals, record: KernelRecord): void {
  totals.kernels += 1;
  if (record.matmul !== undefined) {
    totals.matmulKernels += 1;
    totals.matmulFlops += record.matmul.flops;
  }
  if (record.flops === null) totals.uncountedKernels += 1;
  else totals.nonMatmulFlops += record.flops;
  if (record.timeMs !== undefined) totals.timeMs = (totals.timeMs ?? 0) + record.timeMs;
}

function totalsBy(
  records: readonly KernelRecord[],
  keyOf: (record: KernelRecord) => string,
): Map<string, KernelTotals> {
  const groups = new Map<string, MutableTotals>();
  for (const record of records) {
    if (record.nested) continue;
    const key = keyOf(record);
    let totals = groups.get(key);
    if (totals === undefined) {
      totals = emptyTotals();
      groups.set(key, totals);
    }
    addRecord(totals, record);
  }
  return groups;
}

/** Totals of the whole trace. */
export function traceTotals(records: readonly KernelRecord[]): KernelTotals {
  return totalsBy(records, () => '').get('') ?? emptyTotals();
}

/**
 * Totals per module path rolled up to `depth` (rollUp from module_paths.ts: 1 "layers", 2
 * "layers.3", 3 "layers.3.attn", ...), in order of first appearance. Kernels outside every scope
 * roll up to "".
 */
export function totalsByPath(records: readonly KernelRecord[], depth: number): Map<string, KernelTotals> {
  return totalsBy(records, (record) => rollUp(record.path, depth));
}

/** Totals per kernel name, in order of first appearance. */
export function totalsByKernel(records: readonly KernelRecord[]): Map<string, KernelTotals> {
  return totalsBy(records, (record) => record.kernel);
}

/**
 * Total kernel wall time in milliseconds over outermost kernels (a nested kernel's time is
 * already inside its caller's); undefined when the trace was not timed.
 */
export function totalTimeMs(records: readonly KernelRecord[]): number | undefined {
  return traceTotals(records).timeMs;
}
