import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeJsonSyntaxError, jsonErrorOffset, lineAndColumn } from '../src/config/json_syntax_error.js';

function parseError(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be invalid JSON`);
}

/** Text built from JSON's own tokens and a few strays, so most strings are almost-JSON. */
const almostJson = fc
  .array(
    fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      ' ',
      '\n',
      '0',
      '1',
      '-',
      '.',
      'e',
      '+',
      'true',
      'null',
      'x',
      '\\',
      'u',
      '"a"',
      '"k":',
    ),
    { maxLength: 16 },
  )
  .map((tokens) => tokens.join(''));

describe('jsonErrorOffset', () => {
  it('finds no error in any JSON.stringify output', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => jsonErrorOffset(JSON.stringify(value, null, 2)) === undefined),
      {
        seed: 11,
        numRuns: 300,
      },
    );
  });

  it('agrees with JSON.parse on validity, and on the offset whenever V8 names one', () => {
    fc.assert(
      fc.property(almostJson, (text) => {
        const offset = jsonErrorOffset(text);
        let v8Error: unknown;
        try {
          JSON.parse(text);
        } catch (error) {
          v8Error = error;
        }
        if (v8Error === undefined) return offset === undefined;
        const named = /at position (\d+)/.exec((v8Error as Error).message);
        return offset !== undefined && (named?.[1] === undefined || Number(named[1]) === offset);
      }),
      { seed: 12, numRuns: 3000 },
    );
  });

  it('points at hand-checked faults', () => {
    expect(jsonErrorOffset('{"a": abc}')).toBe(6);
    expect(jsonErrorOffset('[1, 2,]')).toBe(6);
    expect(jsonErrorOffset('{"a": 1} x')).toBe(9);
    expect(jsonErrorOffset('{"a": 01}')).toBe(7);
    expect(jsonErrorOffset('"tab\there"')).toBe(4);
    expect(jsonErrorOffset('{"a": 1')).toBe(7);
  });
});

describe('describeJsonSyntaxError', () => {
  it('gives a 1-based line and column and the parser reason without the echoed text', () => {
    const text = '{\n  "d_model": 768\n  "num_heads": 12\n}';
    // Line 3 starts at offset 19 ("{\n" + '  "d_model": 768\n'); the stray '"' is 2 columns in.
    expect(describeJsonSyntaxError(text, parseError(text))).toEqual({
      line: 3,
      column: 3,
      reason: "Expected ',' or '}' after property value",
    });
    // 'n' could start null, so the fault is the 'o' at offset 7 (column 8); V8 names no position here.
    expect(describeJsonSyntaxError('{"a": nope}', parseError('{"a": nope}'))).toEqual({
      line: 1,
      column: 8,
      reason: "Unexpected token 'o'",
    });
  });

  it('lineAndColumn counts lines and columns from 1', () => {
    expect(lineAndColumn('ab\ncd\nef', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('ab\ncd\nef', 4)).toEqual({ line: 2, column: 2 });
    expect(lineAndColumn('ab\ncd\nef', 8)).toEqual({ line: 3, column: 3 });
  });
});
