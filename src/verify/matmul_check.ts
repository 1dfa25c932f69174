import type { MatmulRow } from '../analytic/types.js';
import { product } from '../core/counting.js';
import { FLOP_COMPONENTS, matmulComponentOf, type FlopComponent } from '../core/module_paths.js';
import { groupDigits } from '../core/format.js';
import type { KernelRecord } from '../core/kernel_record.js';

/**
 * Joins the analytic matmul inventory and the traced matmul kernels by module path and compares
 * them exactly.
 *
 * Shapes are compared with the batch dims folded into the rows: a matmul of `batch` broadcast
 * elements of [m, k] @ [k, n] is compared as (batch * m, k, n). tfjs folds batch dims before
 * the kernel runs, and [B, T, d] @ [d, n] with a shared weight is the same work as
 * [B*T, d] @ [d, n]; what must agree exactly is the row count, the contraction length k, the
 * output width n, and the FLOPs.
 */

export type MismatchKind = 'missing' | 'extra' | 'shape' | 'count';

export interface FoldedShape {
  readonly rows: bigint;
  readonly k: number;
  readonly n: number;
}

export interface ExpectedMatmul {
  readonly shape: FoldedShape;
  /** How the formulas write it: "[B,T,d] x [d,d]" with numbers, e.g. "[1,1024,1600] x [1600,1600]". */
  readonly display: string;
  /** The same in symbols, from the inventory: "[B,T,d] x [d,d]". */
  readonly symbolic: string;
  readonly flops: bigint;
}

export interface TracedMatmulView {
  readonly kernel: string;
  readonly index: number;
  readonly shape: FoldedShape;
  /** The kernel's operand shapes and transposes as recorded: "[1,1024,1600] x [1600,1600]^T". */
  readonly display: string;
  readonly flops: bigint;
  /** Kernels that computed the row together (absent: one); their rows are summed into `shape`, their FLOPs into `flops`. */
  readonly kernels?: number;
}

export interface MatmulCheck {
  readonly path: string;
  readonly component: Exclude<FlopComponent, 'non_matmul'> | undefined;
  /** undefined when the row and the kernel agree exactly. */
  readonly mismatch: MismatchKind | undefined;
  readonly expected: ExpectedMatmul | undefined;
  readonly traced: TracedMatmulView | undefined;
}

export interface ComponentComparison {
  readonly component: Exclude<FlopComponent, 'non_matmul'>;
  readonly expected: bigint;
  readonly traced: bigint;
}

export interface MatmulComparison {
  readonly checks: readonly MatmulCheck[];
  readonly byComponent: readonly ComponentComparison[];
  readonly expectedTotal: bigint;
  readonly tracedTotal: bigint;
  readonly expectedCount: number;
  readonly tracedCount: number;
  /**
   * Traced matmuls with a row of their own, or as a row's pieces (one per head): a row dispatched
   * as several kernels counts once. Equal to tracedCount when every row ran as one kernel.
   */
  readonly dispatchCount: number;
  /** Checks where an inventory row and a traced kernel agree exactly. */
  readonly matchedCount: number;
  readonly mismatches: readonly MatmulCheck[];
  readonly ok: boolean;
}

function expectedOf(row: MatmulRow): ExpectedMatmul {
  const rows = product(row.batch) * BigInt(row.m);
  const left = [...row.batch, row.m, row.k].join(',');
  return {
    shape: { rows, k: row.k, n: row.n },
    display: `[${left}] x [${row.k},${row.n}]`,
    symbolic: row.symbolicShapes,
    flops: row.flops,
  };
}

function tracedOf(record: KernelRecord): TracedMatmulView {
  const matmul = record.matmul!;
  const transposeA = record.attrs['transposeA'] === true;
  const transposeB = record.attrs['transposeB'] === true;
  const [a, b] = record.inputs;
  const display = `[${a?.shape.join(',') ?? ''}]${transposeA ? '^T' : ''} x [${b?.shape.join(',') ?? ''}]${transposeB ? '^T' : ''}`;
  return {
    kernel: record.kernel,
    index: record.index,
    shape: { rows: BigInt(matmul.batch) * BigInt(matmul.m), k: matmul.k, n: matmul.n },
    display,
    flops: matmul.flops,
  };
}

function sameShape(a: FoldedShape, b: FoldedShape): boolean {
  return a.rows === b.rows && a.k === b.k && a.n === b.n;
}

/**
 * The kernels at one path that together compute `row`, when the attention core dispatched it in
 * pieces (one 2-D matmul per (batch, key/value head), src/model/head_matmul.ts): `count` untaken
 * kernels of one shape (rows / count, k, n), each holding whole matrices of the row (rows / count
 * a multiple of m: a grouped-query piece holds its G query heads), in execution order. Only the
 * core's rows (scores and weighted sums, a blocked run's blocks included) are ever dispatched so;
 * any other row must match one kernel, so a projection run in pieces is still refused. The
 * multiset of shapes is then exactly the row's; their FLOPs are compared by the caller.
 * undefined when no such set is there.
 */
function dispatchedGroup(
  row: MatmulRow,
  shape: FoldedShape,
  kernels: readonly KernelRecord[],
  kernelTaken: readonly boolean[],
): number[] | undefined {
  if (!isAttentionCorePath(row.path)) return undefined;
  const free = kernels.flatMap((kernel, i) => (kernelTaken[i] ? [] : [{ i, shape: tracedOf(kernel).shape }]));
  for (const candidate of free) {
    const { rows, k, n } = candidate.shape;
    if (k !== shape.k || n !== shape.n || rows === 0n || rows >= shape.rows) continue;
    if (shape.rows % rows !== 0n || rows % BigInt(row.m) !== 0n) continue;
    const count = Number(shape.rows / rows);
    const members = free.filter((entry) => sameShape(entry.shape, candidate.shape)).slice(0, count);
    if (members.length === count) return members.map((entry) => entry.i);
  }
  return undefined;
}

/** The attention core's matmul paths: layers.{i}.attn.scores and .weighted_sum, and their blocks. */
export function isAttentionCorePath(modulePath: string): boolean {
  return /^layers\.\d+\.attn\.(scores|weighted_sum)(\.|$)/.test(modulePath);
}

/**
 * Pairs the rows and kernels of one path. A row first takes a kernel of exactly its folded shape
 * (a backward pass may run a path's input- and weight-gradient matmuls in either order), then
 * a set of kernels that dispatches it in pieces (dispatchedGroup); what is left pairs up in
 * execution order, so a wrong shape is reported against its nearest partner and a surplus on
 * either side stays unpaired (missing or extra).
 */
function pairWithinPath(
  rows: readonly MatmulRow[],
  kernels: readonly KernelRecord[],
): [MatmulRow | undefined, KernelRecord[]][] {
  const kernelTaken = new Array<boolean>(kernels.length).fill(false);
  const partners = rows.map((row) => {
    const shape = expectedOf(row).shape;
    const index = kernels.findIndex((kernel, i) => !kernelTaken[i] && sameShape(shape, tracedOf(kernel).shape));
    const group = index >= 0 ? [index] : dispatchedGroup(row, shape, kernels, kernelTaken);
    for (const i of group ?? []) kernelTaken[i] = true;
    return group;
  });
  const leftoverKernels = kernels.filter((_, i) => !kernelTaken[i]);
  const pairs: [MatmulRow | undefined, KernelRecord[]][] = rows.map((row, i) => {
    const group = partners[i];
    if (group !== undefined) return [row, group.map((index) => kernels[index]!)];
    const next = leftoverKernels.shift();
    return [row, next === undefined ? [] : [next]];
  });
  for (const kernel of leftoverKernels) pairs.push([undefined, [kernel]]);
  // Report in execution order of the traced kernels; unpaired rows keep their inventory order at the end.
  return pairs.sort(([, a], [, b]) => (a[0]?.index ?? Infinity) - (b[0]?.index ?? Infinity));
}

/**
 * Several kernels that together compute one row, as one view: the rows summed, the FLOPs summed,
 * the first kernel's index, and how it was dispatched ("16 kernels of [128,64] x [64,128]").
 */
function groupView(kernels: readonly KernelRecord[]): TracedMatmulView {
  const views = kernels.map(tracedOf);
  const first = views[0]!;
  if (views.length === 1) return first;
  return {
    kernel: first.kernel,
    index: first.index,
    shape: { ...first.shape, rows: views.reduce((total, view) => total + view.shape.rows, 0n) },
    display: `${views.length} kernels of ${first.display}`,
    flops: views.reduce((total, view) => total + view.flops, 0n),
    kernels: views.length,
  };
}

/** The outermost matmul kernels of a trace, the ones that carry a count. */
export function countedMatmuls(records: readonly KernelRecord[]): KernelRecord[] {
  return records.filter((record) => record.matmul !== undefined && !record.nested);
}

/**
 * Compare expected matmuls with traced ones, path by path, in execution order within a path.
 * A path with more traced kernels than rows yields `extra` checks; fewer yields `missing`.
 */
export function compareMatmuls(inventory: readonly MatmulRow[], records: readonly KernelRecord[]): MatmulComparison {
  const tracedByPath = new Map<string, KernelRecord[]>();
  const traced = countedMatmuls(records);
  for (const record of traced) {
    const list = tracedByPath.get(record.path);
    if (list) list.push(record);
    else tracedByPath.set(record.path, [record]);
  }

  const checks: MatmulCheck[] = [];
  const rowsByPath = new Map<string, MatmulRow[]>();
  for (const row of inventory) {
    const list = rowsByPath.get(row.path);
    if (list) list.push(row);
    else rowsByPath.set(row.path, [row]);
  }

  for (const [modulePath, rows] of rowsByPath) {
    const kernels = tracedByPath.get(modulePath) ?? [];
    for (const [row, group] of pairWithinPath(rows, kernels)) {
      const expected = row ? expectedOf(row) : undefined;
      const tracedView = group.length > 0 ? groupView(group) : undefined;
      let mismatch: MismatchKind | undefined;
      if (!tracedView) mismatch = 'missing';
      else if (!expected) mismatch = 'extra';
      else if (!sameShape(expected.shape, tracedView.shape)) mismatch = 'shape';
      else if (expected.flops !== tracedView.flops) mismatch = 'count';
      checks.push({
        path: modulePath,
        component: row?.component ?? matmulComponentOf(modulePath),
        mismatch,
        expected,
        traced: tracedView,
      });
    }
    tracedByPath.delete(modulePath);
  }
  // Kernels at paths the inventory never mentions, in trace order.
  for (const [modulePath, kernels] of tracedByPath) {
    for (const kernel of kernels) {
      checks.push({
        path: modulePath,
        component: matmulComponentOf(modulePath),
        mismatch: 'extra',
        expected: undefined,
        traced: tracedOf(kernel),
      });
    }
  }

  const byComponent = FLOP_COMPONENTS.filter(
    (component): component is Exclude<FlopComponent, 'non_matmul'> => component !== 'non_matmul',
  )
    .map((component) => {
      let expected = 0n;
      let tracedFlops = 0n;
      for (const check of checks) {
        if (check.component !== component) continue;
        expected += check.expected?.flops ?? 0n;
        tracedFlops += check.traced?.flops ?? 0n;
      }
      return { component, expected, traced: tracedFlops };
    })
    // A dense model's report lists no router or experts, a model without latent attention no latent projections.
    .filter(
      (entry) =>
        entry.expected > 0n ||
        entry.traced > 0n ||
        !['latent_projections', 'router', 'routed_experts', 'shared_experts'].includes(entry.component),
    );

  let expectedTotal = 0n;
  let tracedTotal = 0n;
  for (const check of checks) {
    expectedTotal += check.expected?.flops ?? 0n;
    tracedTotal += check.traced?.flops ?? 0n;
  }
  const mismatches = checks.filter((check) => check.mismatch !== undefined);
  return {
    checks,
    byComponent,
    expectedTotal,
    tracedTotal,
    expectedCount: inventory.length,
    tracedCount: traced.length,
    dispatchCount: checks.filter((check) => check.traced !== undefined).length,
    matchedCount: checks.length - mismatches.length,
    mismatches,
    ok: mismatches.length === 0,
  };
}

/**
 * A folded shape as the matmul it is compared as: "[10,8] x [8,12]" is rows x k times k x n.
 * Both sides of a check print this way, so a reader compares like with like whatever batch dims,
 * weight layout or transposes the kernel was called with (the raw shapes are in `display`).
 */
export function foldedShapeText(shape: FoldedShape): string {
  return `[${shape.rows},${shape.k}] x [${shape.k},${shape.n}]`;
}

/** One line per mismatch: path, kind, both shapes (batch dims folded into rows) and both counts. */
export function describeMismatch(check: MatmulCheck): string {
  const expected = check.expected
    ? `expected ${foldedShapeText(check.expected.shape)} = ${groupDigits(check.expected.flops)} FLOPs`
    : 'expected no matmul';
  const traced = check.traced
    ? `traced ${check.traced.kernel}${(check.traced.kernels ?? 1) > 1 ? ` (${check.traced.kernels} kernels)` : ''} ` +
      `${foldedShapeText(check.traced.shape)} = ${groupDigits(check.traced.flops)} FLOPs`
    : 'traced no matmul';
  return `${check.path}: ${check.mismatch ?? 'match'}: ${expected}; ${traced}`;
}
