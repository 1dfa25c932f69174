/**
 * Where the time of a traced forward pass went: kernel times attributed to module paths and
 * grouped by FLOP component (or rolled up to a path depth), each group's share of the kernel
 * time beside its share of the FLOPs.
 *
 * Conventions:
 * - Only outermost kernels count: a nested kernel's time is already inside its caller's.
 * - A matmul kernel belongs to its path's matmul component (matmulComponentOf); every other
 *   kernel, and a matmul at a path that names no matmul, is `non_matmul` work.
 * - A group's FLOPs are its matmul FLOPs plus the non-matmul FLOPs of the rule table. Kernels
 *   without a rule add time but no FLOPs; they are counted in `uncountedKernels`, never as zero.
 * - Shares are of the totals over every group, so the time shares add up to 1, and so do the
 *   FLOP shares (up to rounding).
 */
import { FLOP_COMPONENTS, matmulComponentOf, rollUp } from '../core/module_paths.js';
import type { KernelRecord } from '../core/kernel_record.js';

/** What attribution reads of a trace record. */
export type TimedRecord = Pick<KernelRecord, 'kernel' | 'path' | 'matmul' | 'flops' | 'nested' | 'timeMs'>;

export const NON_MATMUL = 'non_matmul';

export interface ShareRow {
  /** A FLOP component ("ffn", "non_matmul") or a rolled-up module path ("layers.3"; "" is outside every module). */
  readonly key: string;
  readonly kernels: number;
  readonly timeMs: number;
  readonly timeShare: number;
  readonly matmulFlops: bigint;
  readonly flops: bigint;
  readonly flopShare: number;
  /** Kernels in the group with no FLOP rule. */
  readonly uncountedKernels: number;
}

interface Group {
  kernels: number;
  timeMs: number;
  matmulFlops: bigint;
  flops: bigint;
  uncountedKernels: number;
}

/** The component a record's time belongs to. */
export function componentOfRecord(record: TimedRecord): string {
  if (record.matmul === undefined) return NON_MATMUL;
  return matmulComponentOf(record.path) ?? NON_MATMUL;
}

/** Shares per FLOP component, in FLOP_COMPONENTS order; components with no kernels are left out. */
export function sharesByComponent(records: readonly TimedRecord[]): ShareRow[] {
  const rows = sharesBy(records, componentOfRecord);
  const order = FLOP_COMPONENTS as readonly string[];
  return rows.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
}

/** Shares per module path rolled up to `depth` (module_paths.rollUp), in order of first appearance. */
export function sharesByPath(records: readonly TimedRecord[], depth: number): ShareRow[] {
  return sharesBy(records, (record) => rollUp(record.path, depth));
}

/** Shares per key of `keyOf`, in order of first appearance. Throws if a record has no time. */
export function sharesBy(records: readonly TimedRecord[], keyOf: (record: TimedRecord) => string): ShareRow[] {
  const groups = new Map<string, Group>();
  let totalTime = 0;
  let totalFlops = 0n;
  for (const record of records) {
    if (record.nested) continue;
    if (record.timeMs === undefined) {
      throw new Error(`attribution: a kernel at "${record.path}" has no time; trace with { timeKernels: true }`);
    }
    const key = keyOf(record);
    let group = groups.get(key);
    if (group === undefined) {
      group = { kernels: 0, timeMs: 0, matmulFlops: 0n, flops: 0n, uncountedKernels: 0 };
      groups.set(key, group);
    }
    const matmulFlops = record.matmul?.flops ?? 0n;
    group.kernels += 1;
    group.timeMs += record.timeMs;
    group.matmulFlops += matmulFlops;
    group.flops += matmulFlops + (record.flops ?? 0n);
    if (record.flops === null) group.uncountedKernels += 1;
    totalTime += record.timeMs;
    totalFlops += matmulFlops + (record.flops ?? 0n);
  }
  return [...groups].map(([key, group]) => ({
    key,
    kernels: group.kernels,
    timeMs: group.timeMs,
    timeShare: totalTime > 0 ? group.timeMs / totalTime : 0,
    matmulFlops: group.matmulFlops,
    flops: group.flops,
    flopShare: totalFlops > 0n ? ratio(group.flops, totalFlops) : 0,
    uncountedKernels: group.uncountedKernels,
  }));
}

/** part / whole as a double, exact to double precision even past 2^53. */
export function ratio(part: bigint, whole: bigint): number {
  const scale = 10n ** 15n;
  return Number((part * scale) / whole) / Number(scale);
}

/** FLOPs per millisecond as GFLOP/s (1 GFLOP/s = 1e6 FLOP/ms); NaN when no time passed. */
export function gflopsPerSecond(flops: bigint, ms: number): number {
  return ms > 0 ? Number(flops) / ms / 1e6 : NaN;
}

/** The fraction of kernel time spent outside matmul kernels. */
export function nonMatmulTimeFraction(records: readonly TimedRecord[]): number {
  const rows = sharesByComponent(records);
  return rows.find((row) => row.key === NON_MATMUL)?.timeShare ?? 0;
}
