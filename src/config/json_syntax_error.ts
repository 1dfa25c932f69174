/**
 * Where a JSON config file is broken, as a line and column a user can jump to. V8's JSON.parse
 * names an offset for most errors ("... in JSON at position 42") but not all: "Unexpected token
 * 'a', "..." is not valid JSON" carries none. For those, a small scanner of RFC 8259 finds the
 * first offset where the text stops being JSON.
 */

export interface JsonSyntaxProblem {
  /** 1-based line of the offending character. */
  readonly line: number;
  /** 1-based column (in UTF-16 code units, like most editors' "Ln, Col"). */
  readonly column: number;
  /** The parser's reason without its position or echo of the text, e.g. "Expected ',' or '}' after property value". */
  readonly reason: string;
}

/** Locate the error `error` (thrown by JSON.parse(text)) in `text`. */
export function describeJsonSyntaxError(text: string, error: unknown): JsonSyntaxProblem {
  const message = error instanceof Error ? error.message : String(error);
  const reported = /at position (\d+)/.exec(message);
  const offset = reported?.[1] !== undefined ? Number(reported[1]) : (jsonErrorOffset(text) ?? text.length);
  const reason = message
    .replace(/,\s*".*" is not valid JSON$/s, '')
    .replace(/\s*in JSON at position \d+.*$/s, '')
    .trim();
  return { ...lineAndColumn(text, offset), reason: reason === '' ? 'not valid JSON' : reason };
}

/** 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.min(offset, text.length));
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: before.length - lineStart + 1 };
}

class SyntaxAt {
  constructor(readonly offset: number) {}
}

/** Offset of the first character where `text` stops being one JSON value, or undefined if it is valid JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  let pos = 0;
  const fail = (): never => {
    throw new SyntaxAt(pos);
  };
  const skipWhitespace = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text.charAt(pos))) pos++;
  };
  const expect = (literal: string): void => {
    for (const char of literal) {
      if (text.charAt(pos) !== char) fail();
      pos++;
    }
  };
  const digits = (): void => {
    if (!/[0-9]/.test(text.charAt(pos))) fail();
    while (/[0-9]/.test(text.charAt(pos))) pos++;
  };
  const number = (): void => {
    if (text.charAt(pos) === '-') pos++;
    if (text.charAt(pos) === '0') pos++;
    else digits();
    if (text.charAt(pos) === '.') {
      pos++;
      digits();
    }
    if (/[eE]/.test(text.charAt(pos))) {
      pos++;
      if (/[+-]/.test(text.charAt(pos))) pos++;
      digits();
    }
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      if (pos >= text.length) fail();
      const code = text.charCodeAt(pos);
      if (code < 0x20) fail();
      const char = text.charAt(pos);
      if (char === '"') {
        pos++;
        return;
      }
      if (char === '\\') {
        pos++;
        const escape = text.charAt(pos);
        if (escape === 'u') {
          pos++;
          for (let i = 0; i < 4; i++) {
            if (!/[0-9a-fA-F]/.test(text.charAt(pos))) fail();
            pos++;
          }
        } else if ('"\\/bfnrt'.includes(escape) && escape !== '') {
          pos++;
        } else {
          fail();
        }
      } else {
        pos++;
      }
    }
  };
  const value = (): void => {
    skipWhitespace();
    const char = text.charAt(pos);
    if (char === '{') {
      pos++;
      skipWhitespace();
      if (text.charAt(pos) === '}') {
        pos++;
        return;
      }
      for (;;) {
        skipWhitespace();
        string();
        skipWhitespace();
        expect(':');
        value();
        skipWhitespace();
        if (text.charAt(pos) === '}') {
          pos++;
          return;
        }
        expect(',');
      }
    } else if (char === '[') {
      pos++;
      skipWhitespace();
      if (text.charAt(pos) === ']') {
        pos++;
        return;
      }
      for (;;) {
        value();
        skipWhitespace();
        if (text.charAt(pos) === ']') {
          pos++;
          return;
        }
        expect(',');
      }
    } else if (char === '"') {
      string();
    } else if (char === 't') {
      expect('true');
    } else if (char === 'f') {
      expect('false');
    } else if (char === 'n') {
      expect('null');
    } else if (char === '-' || /[0-9]/.test(char)) {
      number();
    } else {
      fail();
    }
  };
  try {
    value();
    skipWhitespace();
    if (pos < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof SyntaxAt) return error.offset;
    throw error;
  }
}
