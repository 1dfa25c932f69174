/**
 * "Did you mean" for unknown model names, config keys and choices. Names are compared after
 * folding case and dropping separators, so "GPT2_XL", "gpt-2-xl" and "dModel" find "gpt2-xl" and
 * "d_model"; a real typo then costs one edit per character, and two swapped neighbours ("gleu"
 * for "gelu") count as one edit.
 */
import { createRequire } from 'node:module';
import type levenshteinModule from 'fast-levenshtein';

/**
 * fast-levenshtein, required the first time a name is compared: it sets up an Intl.Collator as it
 * loads (about 10 ms), and only a mistyped name needs it.
 */
let levenshtein: typeof levenshteinModule | undefined;
function editDistance(a: string, b: string): number {
  levenshtein ??= createRequire(import.meta.url)('fast-levenshtein') as typeof levenshteinModule;
  return levenshtein.get(a, b);
}

/**
 * The candidate closest to `input`, or undefined when none is close: at most one edit per three
 * characters (at least one edit). Ties go to the earlier candidate. `aliases` maps names used by
 * other tools (normalised) to a candidate, e.g. nanoGPT's "n_embd" to "d_model".
 */
export function closestMatch(
  input: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const folded = fold(input);
  for (const [alias, target] of Object.entries(aliases)) {
    if (fold(alias) === folded) return target;
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const target = fold(candidate);
    const distance = isAdjacentSwap(folded, target) ? 1 : editDistance(folded, target);
    const allowed = Math.max(1, Math.floor(target.length / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Whether `a` is `b` with two neighbouring characters swapped. */
function isAdjacentSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const differ = [...a].flatMap((char, i) => (char === b[i] ? [] : [i]));
  const [first, second] = differ;
  return (
    differ.length === 2 &&
    first !== undefined &&
    second === first + 1 &&
    a[first] === b[second] &&
    a[second] === b[first]
  );
}

function fold(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, '');
}
