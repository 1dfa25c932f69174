/**
 * The rules across fields about attention heads, each with real alternatives as its fix:
 * num_heads splits d_model exactly; with RoPE the head width is even (it rotates pairs of
 * features; learned positions need no pairs); num_kv_heads divides num_heads, so each key/value
 * head serves the same number of query heads.
 */
import type { KeyNames } from './config_fields.js';

/** The d_model / num_heads rule, or undefined when it holds. `pairs`: the head width must be even (RoPE). */
export function headSplitProblem(
  source: string,
  dModel: number,
  numHeads: number,
  pairs: boolean,
  names: KeyNames,
): string | undefined {
  const [d, h] = [names('d_model'), names('num_heads')];
  const fixes = headSplitFixes(dModel, numHeads, pairs, names);
  if (dModel % numHeads !== 0) {
    return `${source}: ${d} (${dModel}) must be divisible by ${h} (${numHeads}); ${fixes}`;
  }
  const headWidth = dModel / numHeads;
  if (pairs && headWidth % 2 !== 0) {
    return (
      `${source}: head dim ${d} / ${h} (${dModel} / ${numHeads} = ${headWidth}) must be even ` +
      `because RoPE rotates pairs of features; ${fixes}`
    );
  }
  return undefined;
}

/**
 * The rule for a head width of its own (head_dim given): with RoPE it is even, as it rotates pairs
 * of features; it need not divide d_model, since q is num_heads * head_dim wide.
 */
export function headDimProblem(source: string, headDim: number, pairs: boolean, names: KeyNames): string | undefined {
  if (!pairs || headDim % 2 === 0) return undefined;
  const nearby = [headDim - 1, headDim + 1].filter((width) => width > 0);
  return (
    `${source}: ${names('head_dim')} (${headDim}) must be even because RoPE rotates pairs of features; ` +
    `fix: use ${nearby.join(' or ')}`
  );
}

/** The num_kv_heads rule, or undefined when it holds. */
export function kvHeadsProblem(
  source: string,
  numKvHeads: number,
  numHeads: number,
  names: KeyNames,
): string | undefined {
  if (numHeads % numKvHeads === 0) return undefined;
  return (
    `${source}: ${names('num_kv_heads')} (${numKvHeads}) must divide ${names('num_heads')} (${numHeads}); ` +
    `e.g. ${divisorExamples(numHeads, numKvHeads)}`
  );
}

/** Every divisor of `n` when there are few ("1, 2, 4, 8, 16 or 32"), else the ones nearest `near`. */
function divisorExamples(n: number, near: number): string {
  const divisors = smallDivisors(n);
  if (divisors === undefined || divisors.length > 12) {
    const below = nearestDivisor(n, near, -1);
    const above = nearestDivisor(n, near, 1);
    return orList([...new Set([below ?? 1, above ?? n])].sort((a, b) => a - b));
  }
  return orList(divisors);
}

/** All divisors of n in ascending order, or undefined when n is too large to factor by trial quickly. */
function smallDivisors(n: number): number[] | undefined {
  if (n > 1e10) return undefined;
  const low: number[] = [];
  const high: number[] = [];
  for (let i = 1; i * i <= n; i++) {
    if (n % i !== 0) continue;
    low.push(i);
    if (i !== n / i) high.unshift(n / i);
  }
  return [...low, ...high];
}

/** The divisor of n nearest `from` in `direction`, searching a bounded number of steps. */
function nearestDivisor(n: number, from: number, direction: 1 | -1): number | undefined {
  for (let step = 1, k = from + direction; step <= 1_000_000 && k >= 1 && k <= n; step++, k += direction) {
    if (n % k === 0) return k;
  }
  return undefined;
}

function orList(values: readonly number[]): string {
  if (values.length === 1) return String(values[0]);
  return `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
}

/** Real alternatives: the nearest head counts that split d_model (evenly when `pairs`), and the nearest d_model that works with num_heads. */
function headSplitFixes(dModel: number, numHeads: number, pairs: boolean, names: KeyNames): string {
  const [d, h] = [names('d_model'), names('num_heads')];
  const heads = nearestHeadCounts(dModel, numHeads, pairs);
  const step = pairs ? 2 * numHeads : numHeads;
  const below = Math.floor(dModel / step) * step;
  const models = [below, below + step].filter((value) => value > 0 && value !== dModel);
  const modelFix = pairs
    ? `make ${d} a multiple of 2 * ${h} = ${step}, e.g. ${models.join(' or ')}`
    : `make ${d} a multiple of ${h} = ${step}, e.g. ${models.join(' or ')}`;
  if (heads.length === 0) return `${modelFix} (an odd ${d} has no even head dim)`;
  const split = pairs ? `divides ${d} into an even head dim` : `divides ${d}`;
  return `choose ${h} that ${split}, e.g. ${heads.join(' or ')}, or ${modelFix}`;
}

/** The closest head count below and above `numHeads` that splits d_model (into an even width when `pairs`). */
function nearestHeadCounts(dModel: number, numHeads: number, pairs: boolean): number[] {
  const width = pairs ? 2 : 1;
  const fits = (heads: number): boolean => dModel % heads === 0 && (dModel / heads) % width === 0;
  // An odd d_model has no even head dim. Any d_model fits 1 head (an even one when pairs are
  // needed); a million steps either way is plenty for any real model and keeps absurd inputs fast.
  if (dModel % width !== 0) return [];
  const found: number[] = [];
  const lowest = Math.max(1, numHeads - 1_000_000);
  for (let heads = Math.min(numHeads - 1, dModel / width); heads >= lowest; heads--) {
    if (fits(heads)) {
      found.push(heads);
      break;
    }
  }
  if (found.length === 0 && numHeads > 1) found.push(1);
  const limit = Math.min(dModel / width, numHeads + 1_000_000);
  for (let heads = numHeads + 1; heads <= limit; heads++) {
    if (fits(heads)) {
      found.push(heads);
      break;
    }
  }
  return found;
}
