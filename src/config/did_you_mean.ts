/**
 * "Did you mean" for unknown model names and config keys. Names are compared after folding case
 * and dropping separators, so "GPT2_XL", "gpt-2-xl" and "dModel" find "gpt2-xl" and "d_model";
 * a real typo then costs one edit per character.
 */
import levenshtein from 'fast-levenshtein';

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
    const distance = levenshtein.get(folded, target);
    const allowed = Math.max(1, Math.floor(target.length / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function fold(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, '');
}
