/**
 * The one JSON writer. Views hand over typed data, with TypeScript's own field names and exact
 * bigints; this decides how it reads as JSON, the same way for every command:
 *
 * - Field names: a camelCase name becomes a snake_case key (`totalMacs` -> `total_macs`,
 *   `fp32Bytes` -> `fp32_bytes`); a name already in snake_case, or one that is not a plain
 *   identifier ("layers.0", "BatchMatMul"), is written as it is.
 * - A Map's keys are data, not field names (kernel names, tfjs attribute names such as
 *   `transposeA`, module paths): they are written exactly as they are, in insertion order.
 * - Counts: JSON numbers are doubles in most readers, so a bigint past 2^53 would silently lose
 *   digits; every bigint is written as its exact decimal string ("2127057600"). Plain numbers
 *   (dimensions, ratios, shares, times) stay numbers.
 * - A field whose value is undefined is left out; null stays null.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** `camelCase` -> `camel_case`; keys that are not lower camelCase identifiers are kept. */
function jsonKey(name: string): string {
  return /^[a-z][A-Za-z0-9]*$/.test(name) ? name.replace(/[A-Z]/g, (capital) => `_${capital.toLowerCase()}`) : name;
}

/** `value` as plain JSON data under the rules above. */
function toJsonValue(value: unknown): JsonValue {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      // As JSON.stringify writes them: NaN and the infinities have no JSON form.
      return Number.isFinite(value) ? value : null;
    case 'string':
    case 'boolean':
      return value;
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
    case 'object':
      break;
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((item: unknown) => toJsonValue(item));
  const object: Record<string, JsonValue> = {};
  if (value instanceof Map) {
    for (const [key, item] of value as Map<unknown, unknown>) {
      if (item !== undefined) object[String(key)] = toJsonValue(item);
    }
    return object;
  }
  for (const [name, item] of Object.entries(value)) {
    if (item !== undefined) object[jsonKey(name)] = toJsonValue(item);
  }
  return object;
}

/** `value` as JSON text under the rules above, indented by `indent` spaces. */
export function toJsonText(value: unknown, indent = 2): string {
  return JSON.stringify(toJsonValue(value), null, indent);
}
