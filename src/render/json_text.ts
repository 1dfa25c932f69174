/**
 * JSON output. JSON numbers are doubles in most readers, so counts past 2^53 would silently lose
 * digits; every bigint is therefore written as its exact decimal string ("2127057600").
 */

/** `value` as JSON text with bigints as decimal strings, indented by `indent` spaces. */
export function toJsonText(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item), indent);
}
