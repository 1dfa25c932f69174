/**
 * Text from a user's file shown in a message: never raw. A key or value may hold control
 * characters (a terminal runs escape sequences), bidirectional overrides (they reorder what the
 * reader sees) or half a surrogate pair; each is written as a \uXXXX escape instead, and long
 * text is cut to an excerpt.
 */

/** Code points shown as escapes: C0 and C1 controls, DEL, bidi marks and overrides, line and paragraph separators, BOM. */
function isUnprintable(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0xfeff ||
    (code >= 0xd800 && code <= 0xdfff)
  );
}

/** `text` with every unprintable code point escaped, cut to `max` code points with "..." when longer. */
export function printable(text: string, max = 40): string {
  const out: string[] = [];
  // for...of walks code points; a lone surrogate arrives on its own and is escaped.
  for (const char of text) {
    if (out.length === max) {
      out.splice(max - 3, 3, '...');
      return out.join('');
    }
    const code = char.codePointAt(0) ?? 0;
    out.push(isUnprintable(code) ? `\\u${code.toString(16).padStart(4, '0')}` : char);
  }
  return out.join('');
}

/** `items` joined by ", ", at most `max` of them, then "and N more". */
export function shortList(items: readonly string[], max = 20): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
