/**
 * The bytes every kernel moves, traced against the analytic kernel list (src/analytic/bytes.ts),
 * module path by module path, kernel by kernel: bytes of weights read, of activations read, and
 * written. Like the FLOPs, the two sides are computed apart: the trace's from the tensors the
 * kernels received (src/core/byte_rules.ts, weights marked by what the tensors are), the
 * analytic side's from the architecture on paper.
 *
 * Compared: every outermost matmul, every kernel with non-matmul FLOPs, and every zero-FLOP kernel
 * the analytic list names at its module (the embedding gather, the position slice, RoPE's swap).
 * Not compared: data movement the analytic list leaves out (reshapes, transposes, the mask's
 * Range and Fill), which moves bytes on a backend that copies but computes nothing.
 */
import { kernelBytes, type KernelCost, type KernelList } from '../analytic/bytes.js';
import { recordBytes } from '../core/byte_rules.js';
import { groupDigits } from '../core/format.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { isAttentionCorePath } from './matmul_check.js';

/** One kernel's bytes as both sides state them. */
export interface KernelBytes {
  readonly kernel: string;
  readonly readWeights: bigint;
  readonly readActivations: bigint;
  readonly written: bigint;
}

export interface BytesCheck {
  readonly path: string;
  /** Kernels the analytic list has that the trace lacks, and the other way round (empty when they agree). */
  readonly missing: readonly KernelBytes[];
  readonly extra: readonly KernelBytes[];
  readonly expectedKernels: number;
  readonly tracedKernels: number;
}

export interface BytesComparison {
  readonly checks: readonly BytesCheck[];
  readonly mismatches: readonly BytesCheck[];
  /** Traced kernels compared, and the bytes they read and wrote. */
  readonly kernels: number;
  readonly tracedTotals: KernelBytes;
  /** Bytes (read plus written) of the compared traced kernels by dtype. */
  readonly byDtype: ReadonlyMap<string, bigint>;
  readonly ok: boolean;
}

function key(entry: KernelBytes): string {
  return `${entry.kernel} ${entry.readWeights} ${entry.readActivations} ${entry.written}`;
}

function analyticEntry(cost: KernelCost): KernelBytes {
  return {
    kernel: cost.kernel,
    readWeights: cost.read.weights,
    readActivations: cost.read.activations + cost.read.kvCache,
    written: kernelBytes(cost) - (cost.read.weights + cost.read.activations + cost.read.kvCache),
  };
}

/** What is in `a` and not in `b`, as multisets. */
function without(a: readonly KernelBytes[], b: readonly KernelBytes[]): KernelBytes[] {
  // Each key built once: it prints three bigints, and a large step compares a million entries.
  const counts = new Map<string, number>();
  for (const entry of b) {
    const entryKey = key(entry);
    counts.set(entryKey, (counts.get(entryKey) ?? 0) + 1);
  }
  return a.filter((entry) => {
    const entryKey = key(entry);
    const left = counts.get(entryKey) ?? 0;
    if (left === 0) return true;
    counts.set(entryKey, left - 1);
    return false;
  });
}

/**
 * `traced` with the pieces of a matmul dispatched per head (src/model/head_matmul.ts) joined: where
 * an expected MatMul has no traced kernel of its bytes, `count` traced MatMuls that each move
 * exactly 1 / count of its bytes, read and written, stand for it as one entry. Pieces that do
 * not add up to an expected matmul stay apart and are reported as they are.
 */
function joinDispatchedPieces(expected: readonly KernelBytes[], traced: readonly KernelBytes[]): KernelBytes[] {
  let joined = [...traced];
  for (const want of without(expected, joined)) {
    if (want.kernel !== 'MatMul') continue;
    const pieces = joined.filter(
      (got) =>
        got.kernel === 'MatMul' &&
        got.written > 0n &&
        want.written % got.written === 0n &&
        got.readWeights * (want.written / got.written) === want.readWeights &&
        got.readActivations * (want.written / got.written) === want.readActivations,
    );
    const count = pieces.length > 0 ? Number(want.written / pieces[0]!.written) : 0;
    const group = pieces.filter((piece) => key(piece) === key(pieces[0]!)).slice(0, count);
    if (count < 2 || group.length !== count) continue;
    const members = new Set(group);
    joined = [...joined.filter((entry) => !members.has(entry)), want];
  }
  return joined;
}

function push<T>(map: Map<string, T[]>, path: string, value: T): void {
  const list = map.get(path);
  if (list === undefined) map.set(path, [value]);
  else list.push(value);
}

/**
 * Every kernel's bytes, analytic `list` against the forward-pass `records`, by module path: in a
 * training step, the records of its forward phase.
 */
export function compareKernelBytes(list: KernelList, records: readonly KernelRecord[]): BytesComparison {
  const listedZeroFlop = new Map<string, Set<string>>();
  for (const cost of list.kernels) {
    if (!cost.matmul && cost.flops === 0n) {
      const names = listedZeroFlop.get(cost.path) ?? new Set<string>();
      names.add(cost.kernel);
      listedZeroFlop.set(cost.path, names);
    }
  }
  return compareSelected(list, records, (record) => {
    if (record.phase !== undefined && record.phase !== 'forward') return false;
    return (
      record.matmul !== undefined ||
      (record.flops !== null && record.flops > 0n) ||
      (listedZeroFlop.get(record.path)?.has(record.kernel) ?? false)
    );
  });
}

/**
 * The bytes of every matmul of a training step's backward pass, analytic `list` (the backward
 * matmul inventory's rows with their bytes) against the backward-phase records, by the module path
 * of the forward matmul each differentiates. Only matmuls: the backward pass's other kernels (norm,
 * softmax and activation gradients, the engine's gradient sums) have no analytic list yet.
 */
export function compareBackwardMatmulBytes(list: KernelList, records: readonly KernelRecord[]): BytesComparison {
  return compareSelected(list, records, (record) => record.phase === 'backward' && record.matmul !== undefined);
}

/** The outermost `records` that `selects` takes, against every kernel of `list`, by module path. */
function compareSelected(
  list: KernelList,
  records: readonly KernelRecord[],
  selects: (record: KernelRecord) => boolean,
): BytesComparison {
  const expected = new Map<string, KernelBytes[]>();
  for (const cost of list.kernels) push(expected, cost.path, analyticEntry(cost));
  const traced = new Map<string, KernelBytes[]>();
  const byDtype = new Map<string, bigint>();
  const totals = { readWeights: 0n, readActivations: 0n, written: 0n };
  let kernels = 0;
  for (const record of records) {
    if (record.nested || !selects(record)) continue;
    const bytes = recordBytes(record);
    kernels += 1;
    totals.readWeights += bytes.readWeights;
    totals.readActivations += bytes.readActivations;
    totals.written += bytes.written;
    for (const [dtype, count] of bytes.byDtype) byDtype.set(dtype, (byDtype.get(dtype) ?? 0n) + count);
    push(traced, record.path, {
      kernel: record.matmul !== undefined ? 'MatMul' : record.kernel,
      readWeights: bytes.readWeights,
      readActivations: bytes.readActivations,
      written: bytes.written,
    });
  }
  const checks: BytesCheck[] = [];
  for (const path of new Set([...expected.keys(), ...traced.keys()])) {
    const want = expected.get(path) ?? [];
    // Only the attention core is ever dispatched per head; elsewhere pieces stay apart and fail.
    const pathKernels = traced.get(path) ?? [];
    const got = isAttentionCorePath(path) ? joinDispatchedPieces(want, pathKernels) : pathKernels;
    checks.push({
      path,
      missing: without(want, got),
      extra: without(got, want),
      expectedKernels: want.length,
      tracedKernels: got.length,
    });
  }
  const mismatches = checks.filter((check) => check.missing.length > 0 || check.extra.length > 0);
  return {
    checks,
    mismatches,
    kernels,
    tracedTotals: { kernel: 'all', ...totals },
    byDtype,
    ok: mismatches.length === 0,
  };
}

function entryText(entry: KernelBytes): string {
  return (
    `${entry.kernel} (reads ${groupDigits(entry.readWeights)} B of weights, ` +
    `${groupDigits(entry.readActivations)} B of activations; writes ${groupDigits(entry.written)} B)`
  );
}

/**
 * One line per module whose kernels' bytes differ:
 *   layers.0.ffn.w1: bytes: expected MatMul (reads 384 B of weights, ...); traced MatMul (reads 768 B ...)
 */
export function describeBytesMismatch(check: BytesCheck): string {
  const expected = check.missing.length === 0 ? 'nothing else expected' : check.missing.map(entryText).join(', ');
  const traced = check.extra.length === 0 ? 'nothing else traced' : check.extra.map(entryText).join(', ');
  return `${check.path}: bytes: expected ${expected}; traced ${traced}`;
}
