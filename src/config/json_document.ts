/**
 * JSON text read for a config: the value JSON.parse gives, plus what JSON.parse throws away and
 * a config must not lose. A key given twice in one object (JSON.parse keeps the last silently)
 * is reported with both places. Each number keeps the text it was written as, so a message can
 * show "9007199254740993" or "1e3" rather than the double they became, and a count written with
 * a fraction that the double rounded away ("4096.00000000000000001") can be refused.
 *
 * The parser follows RFC 8259 and walks containers with its own stack, so no nesting depth can
 * overflow the call stack; strings are decoded by JSON.parse itself and numbers by Number(),
 * which give exactly what JSON.parse would.
 */

/** Where a parse stopped: the offset of the first character that is not JSON. */
export class JsonSyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`not JSON at offset ${offset}`);
  }
}

/** A container opened deeper than the limit, at `offset`. */
export class JsonTooDeep extends Error {
  constructor(
    readonly offset: number,
    readonly limit: number,
  ) {
    super(`JSON nested deeper than ${limit} at offset ${offset}`);
  }
}

/** One key written twice in the same object. Offsets are of the key's opening quote. */
export interface DuplicateKey {
  /** Dotted path of the object holding the key ("" for the top level; "rope_scaling"). */
  readonly path: string;
  readonly key: string;
  readonly firstOffset: number;
  readonly secondOffset: number;
  /** Each value's text as written. */
  readonly firstText: string;
  readonly secondText: string;
}

export interface JsonDocument {
  readonly value: unknown;
  readonly duplicates: readonly DuplicateKey[];
}

/**
 * The text each number was written as, by the object (or array) holding it and its key (or
 * index); kept only where it differs from the number's own String() (1e3, 4096.0, 2^53 + 1).
 */
const writtenNumbers = new WeakMap<object, Map<string, string>>();

/** How the number at `container[key]` was written in its JSON text, when it came from one. */
export function writtenNumber(container: unknown, key: string): string | undefined {
  if (typeof container !== 'object' || container === null) return undefined;
  return writtenNumbers.get(container)?.get(key);
}

/** Carry the written form of `from[fromKey]` over to `to[toKey]`, for a value copied between objects. */
export function copyWrittenNumber(from: unknown, fromKey: string, to: object, toKey: string): void {
  const text = writtenNumber(from, fromKey);
  if (text !== undefined) remember(to, toKey, text);
}

function rememberIfOther(container: object, key: string, value: number, text: string): void {
  if (text !== String(value)) remember(container, key, text);
}

function remember(container: object, key: string, text: string): void {
  let map = writtenNumbers.get(container);
  if (map === undefined) {
    map = new Map<string, string>();
    writtenNumbers.set(container, map);
  }
  map.set(key, text);
}

/**
 * Whether a JSON number's text denotes a whole number exactly: "4096", "4096.0", "4.096e3", but
 * not "4096.5" or "4096.00000000000000001" (which Number() rounds to 4096).
 */
export function isWholeNumberText(text: string): boolean {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) return false;
  const [, whole = '', fraction = '', exponent = '0'] = match;
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return true; // zero
  const trailingZeros = digits.length - digits.replace(/0+$/, '').length;
  // The value is significant digits x 10^(exponent - fraction digits + trailing zeros).
  return Number(exponent) - fraction.length + trailingZeros >= 0;
}

type Frame =
  | {
      readonly kind: 'object';
      readonly value: Record<string, unknown>;
      readonly path: string;
      readonly start: number;
      /** Each key seen so far: where it was written and its value's text span. */
      readonly seen: Map<string, { offset: number; start: number; end: number }>;
      key: string;
      keyOffset: number;
    }
  | { readonly kind: 'array'; readonly value: unknown[]; readonly path: string; readonly start: number };

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39;
const isHex = (code: number): boolean =>
  isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);

/**
 * Parse `text` as one JSON value. Throws JsonSyntaxAt where the text stops being JSON, or
 * JsonTooDeep when containers nest deeper than `maxDepth`.
 */
export function parseJsonDocument(text: string, maxDepth = Infinity): JsonDocument {
  let pos = 0;
  const duplicates: DuplicateKey[] = [];
  const stack: Frame[] = [];
  const fail = (): never => {
    throw new JsonSyntaxAt(pos);
  };
  const code = (): number => text.charCodeAt(pos); // NaN past the end, which matches nothing
  const skipWhitespace = (): void => {
    for (let c = code(); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = code()) pos++;
  };
  const expect = (literal: string): void => {
    for (let i = 0; i < literal.length; i++, pos++) if (text.charCodeAt(pos) !== literal.charCodeAt(i)) fail();
  };
  const literal = <T>(word: string, value: T): T => {
    expect(word);
    return value;
  };
  const digits = (): void => {
    if (!isDigit(code())) fail();
    while (isDigit(code())) pos++;
  };
  const number = (): number => {
    const start = pos;
    if (code() === 0x2d) pos++; // -
    if (code() === 0x30)
      pos++; // a leading 0 stands alone
    else digits();
    if (code() === 0x2e) {
      pos++;
      digits();
    }
    if (code() === 0x65 || code() === 0x45) {
      pos++;
      if (code() === 0x2b || code() === 0x2d) pos++;
      digits();
    }
    return Number(text.slice(start, pos));
  };
  const string = (): string => {
    const start = pos;
    if (code() !== 0x22) fail();
    pos++;
    let escaped = false;
    for (;;) {
      const c = code();
      if (Number.isNaN(c) || c < 0x20) fail();
      pos++;
      // Without escapes the text between the quotes is the string; with them JSON.parse decodes it.
      if (c === 0x22) return escaped ? (JSON.parse(text.slice(start, pos)) as string) : text.slice(start + 1, pos - 1);
      if (c !== 0x5c) continue; // backslash: one escape follows
      escaped = true;
      const escape = code();
      if (escape === 0x75) {
        pos++;
        for (let i = 0; i < 4; i++, pos++) if (!isHex(code())) fail();
      } else if ('"\\/bfnrt'.includes(text.charAt(pos)) && pos < text.length) {
        pos++;
      } else {
        fail();
      }
    }
  };
  /** An object's key and its colon; records where the key was written. */
  const key = (frame: Extract<Frame, { kind: 'object' }>): void => {
    skipWhitespace();
    frame.keyOffset = pos;
    frame.key = string();
    skipWhitespace();
    expect(':');
  };
  const open = (frame: Frame): void => {
    if (stack.length >= maxDepth) throw new JsonTooDeep(frame.start, maxDepth);
    stack.push(frame);
  };
  /** The dotted path of a container opened here, for naming a duplicate key inside it. */
  const pathHere = (): string => {
    const parent = stack.at(-1);
    if (parent === undefined) return '';
    if (parent.kind === 'array') return parent.path;
    return parent.path === '' ? parent.key : `${parent.path}.${parent.key}`;
  };

  for (;;) {
    // A value starts here: a scalar completes at once, a non-empty container is pushed.
    skipWhitespace();
    const start = pos;
    let value: unknown;
    const c = code();
    if (c === 0x7b) {
      pos++;
      skipWhitespace();
      if (code() === 0x7d) {
        pos++;
        value = {};
      } else {
        const frame: Frame = {
          kind: 'object',
          value: {},
          path: pathHere(),
          start,
          seen: new Map(),
          key: '',
          keyOffset: 0,
        };
        open(frame);
        key(frame);
        continue;
      }
    } else if (c === 0x5b) {
      pos++;
      skipWhitespace();
      if (code() === 0x5d) {
        pos++;
        value = [];
      } else {
        open({ kind: 'array', value: [], path: pathHere(), start });
        continue;
      }
    } else if (c === 0x22) value = string();
    else if (c === 0x74) value = literal('true', true);
    else if (c === 0x66) value = literal('false', false);
    else if (c === 0x6e) value = literal('null', null);
    else if (c === 0x2d || isDigit(c)) value = number();
    else fail();

    // The value is complete: put it in its container, then close every container that ends here.
    let valueStart = start;
    for (;;) {
      const frame = stack.at(-1);
      if (frame === undefined) {
        skipWhitespace();
        if (pos < text.length) fail();
        return { value, duplicates };
      }
      const end = pos;
      if (frame.kind === 'object') {
        const before = frame.seen.get(frame.key);
        if (before !== undefined) {
          duplicates.push({
            path: frame.path,
            key: frame.key,
            firstOffset: before.offset,
            secondOffset: frame.keyOffset,
            firstText: text.slice(before.start, before.end),
            secondText: text.slice(valueStart, end),
          });
        }
        frame.seen.set(frame.key, { offset: frame.keyOffset, start: valueStart, end });
        // A "__proto__" key is data, as JSON.parse makes it, not the object's prototype.
        if (frame.key === '__proto__') {
          Object.defineProperty(frame.value, frame.key, {
            value,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        } else {
          frame.value[frame.key] = value;
        }
        if (typeof value === 'number') rememberIfOther(frame.value, frame.key, value, text.slice(valueStart, end));
      } else {
        if (typeof value === 'number') {
          rememberIfOther(frame.value, String(frame.value.length), value, text.slice(valueStart, end));
        }
        frame.value.push(value);
      }
      skipWhitespace();
      const next = code();
      if (next === 0x2c) {
        pos++;
        if (frame.kind === 'object') key(frame);
        break;
      }
      if (next !== (frame.kind === 'object' ? 0x7d : 0x5d)) fail();
      pos++;
      stack.pop();
      value = frame.value;
      valueStart = frame.start;
    }
  }
}
