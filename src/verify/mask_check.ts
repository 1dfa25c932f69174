/**
 * The attention masks a trace shows, against the masks the formulas expect (analytic
 * attention_blocks.ts, expectedMasks): which scores module applied a mask, over which query and
 * key positions, with which window.
 *
 * Why this is needed beside the matmul check: a dense core computes every score whatever its
 * mask, so a window one position too wide changes no matmul; and in a blocked run it changes the
 * blocks computed only when the extra position crosses a block edge (w = 1 mod b). The matmuls
 * prove the work; the band must be read from the mask itself.
 *
 * What a trace can show of a mask: kernel names, operand shapes and attrs, never values. The
 * model builds each mask from three position ranges (src/model/causal_softmax.ts, bandMask), and
 * a Range kernel's attrs are its bounds: the query positions [q0, q0 + R), the key positions
 * [k0, k0 + C), and, on a layer with a window, each query's earliest kept key [q0 - w + 1,
 * q0 - w + 1 + R), from which the window reads back as w = q0 - start + 1. So the trace proves
 * which positions and which window each mask was built for. It does not prove that the
 * comparisons the ranges feed are the right ones (the kernel names Sub, Greater, Less and
 * LogicalOr are there, but not which tensor went where), nor that the mask reached the scores: a trace has
 * no dataflow. Those are checked with values, against a reference written from the definition,
 * on a real backend (test/blocked_attention.test.ts).
 */
import type { ExpectedMask } from '../analytic/attention_blocks.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { groupDigits } from '../core/format.js';

/** A mask as a trace shows it. */
export interface TracedMask {
  readonly path: string;
  readonly queryStart: number;
  readonly queries: number;
  readonly keyStart: number;
  readonly keys: number;
  /** Read back from the earliest-key range; undefined when the mask has none (causal only). */
  readonly window: number | undefined;
  /** Index of the mask's first Range kernel in the trace. */
  readonly index: number;
}

export type MaskMismatchKind = 'missing' | 'extra' | 'band';

export interface MaskCheck {
  readonly path: string;
  readonly mismatch: MaskMismatchKind | undefined;
  readonly expected: ExpectedMask | undefined;
  readonly traced: TracedMask | undefined;
}

export interface MaskComparison {
  readonly checks: readonly MaskCheck[];
  readonly mismatches: readonly MaskCheck[];
  readonly expectedCount: number;
  readonly tracedCount: number;
  readonly ok: boolean;
}

/** A scores module of some layer, dense or one block: where masks are built. */
const SCORES_PATH = /^layers\.\d+\.attn\.scores(?:\.q\d+_k\d+)?$/;

interface RangeBounds {
  readonly start: number;
  readonly stop: number;
  readonly index: number;
}

function boundsOf(record: KernelRecord): RangeBounds | undefined {
  const { start, stop, step } = record.attrs;
  if (typeof start !== 'number' || typeof stop !== 'number' || (step !== undefined && step !== 1)) return undefined;
  return { start, stop, index: record.index };
}

/**
 * The masks of a trace, read off the Range kernels of each scores module (forward kernels only):
 * two ranges (queries, keys) make a causal mask, three (and the earliest keys) a windowed one.
 */
function tracedMasks(records: readonly KernelRecord[]): TracedMask[] {
  const byPath = new Map<string, RangeBounds[]>();
  for (const record of records) {
    if (record.nested || record.kernel !== 'Range' || !SCORES_PATH.test(record.path)) continue;
    if (record.phase !== undefined && record.phase !== 'forward') continue;
    const bounds = boundsOf(record);
    if (bounds === undefined) continue;
    const list = byPath.get(record.path);
    if (list === undefined) byPath.set(record.path, [bounds]);
    else list.push(bounds);
  }
  const masks: TracedMask[] = [];
  for (const [modulePath, ranges] of byPath) {
    const [queries, keys, earliest] = ranges;
    if (queries === undefined || keys === undefined) continue;
    masks.push({
      path: modulePath,
      queryStart: queries.start,
      queries: queries.stop - queries.start,
      keyStart: keys.start,
      keys: keys.stop - keys.start,
      window: earliest === undefined ? undefined : queries.start - earliest.start + 1,
      index: queries.index,
    });
  }
  return masks.sort((a, b) => a.index - b.index);
}

function sameBand(expected: ExpectedMask, traced: TracedMask): boolean {
  return (
    expected.queryStart === traced.queryStart &&
    expected.queries === traced.queries &&
    expected.keyStart === traced.keyStart &&
    expected.keys === traced.keys &&
    expected.window === traced.window
  );
}

/** Every expected mask against the trace's, joined by scores module; a module masked on one side only is missing or extra. */
export function compareMasks(expected: readonly ExpectedMask[], records: readonly KernelRecord[]): MaskComparison {
  const traced = tracedMasks(records);
  const tracedByPath = new Map(traced.map((mask) => [mask.path, mask]));
  const checks: MaskCheck[] = [];
  for (const mask of expected) {
    const found = tracedByPath.get(mask.path);
    tracedByPath.delete(mask.path);
    const mismatch = found === undefined ? 'missing' : sameBand(mask, found) ? undefined : 'band';
    checks.push({ path: mask.path, mismatch, expected: mask, traced: found });
  }
  for (const mask of tracedByPath.values()) {
    checks.push({ path: mask.path, mismatch: 'extra', expected: undefined, traced: mask });
  }
  const mismatches = checks.filter((check) => check.mismatch !== undefined);
  return {
    checks,
    mismatches,
    expectedCount: expected.length,
    tracedCount: traced.length,
    ok: mismatches.length === 0,
  };
}

type Band = Omit<ExpectedMask, 'path'>;

/** "keys q - 4096 < k <= q (window 4096), queries 0..32,767, keys 0..32,767". */
function bandText(band: Band): string {
  const n = (value: number) => groupDigits(BigInt(value));
  const kept =
    band.window === undefined
      ? 'keys k <= q (causal)'
      : `keys q - ${n(band.window)} < k <= q (window ${n(band.window)})`;
  return (
    `${kept}, queries ${n(band.queryStart)}..${n(band.queryStart + band.queries - 1)}, ` +
    `keys ${n(band.keyStart)}..${n(band.keyStart + band.keys - 1)}`
  );
}

/** One line per mask mismatch: path, kind, both bands. */
export function describeMaskMismatch(check: MaskCheck): string {
  const expected = check.expected === undefined ? 'expected no mask' : `expected ${bandText(check.expected)}`;
  const traced = check.traced === undefined ? 'traced no mask' : `traced ${bandText(check.traced)}`;
  return `${check.path}: mask ${check.mismatch ?? 'match'}: ${expected}; ${traced}`;
}
