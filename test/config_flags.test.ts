import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIntegerList, parsePositiveInteger } from '../src/cli/flags.js';
import { loadModelConfig, resolveRunShape } from '../src/config/index.js';
import { inputError } from './helpers/input_error.js';

describe('parsePositiveInteger', () => {
  it('reads plain digits and thousands grouped by "," or "_"', () => {
    expect(parsePositiveInteger('1024', '--seq')).toBe(1024);
    expect(parsePositiveInteger('16,384', '--seq')).toBe(16384);
    expect(parsePositiveInteger('1_000_000', '--batch')).toBe(1_000_000);
    expect(parsePositiveInteger(' 8 ', '--batch')).toBe(8);
    expect(parsePositiveInteger('9007199254740991', '--vocab')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('round-trips every positive safe integer, plain and as en-US formats it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
        return (
          parsePositiveInteger(String(n), '--seq') === n &&
          parsePositiveInteger(n.toLocaleString('en-US'), '--seq') === n
        );
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it.each(['abc', '0', '-1', '+5', '1.5', '1e3', '16k', '', '0x10', '1,2', '12,34', '1__000', '1,000_000'])(
    'rejects "%s" naming the flag and an example',
    (raw) => {
      expect(inputError(() => parsePositiveInteger(raw, '--seq')).message).toBe(
        `--seq: "${raw}" is not a positive integer; use e.g. --seq 1024`,
      );
    },
  );

  it('uses an example that fits the flag', () => {
    expect(inputError(() => parsePositiveInteger('-1', '--batch')).message).toBe(
      '--batch: "-1" is not a positive integer; use e.g. --batch 8',
    );
    expect(inputError(() => parsePositiveInteger('lots', '--d-model')).message).toBe(
      '--d-model: "lots" is not a positive integer; use e.g. --d-model 768',
    );
  });

  it('rejects integers beyond 2^53 - 1 rather than rounding them', () => {
    expect(inputError(() => parsePositiveInteger('9007199254740993', '--seq')).message).toBe(
      '--seq: "9007199254740993" is too large; use at most 9007199254740991 (2^53 - 1)',
    );
  });
});

describe('parseIntegerList', () => {
  it('splits on commas, in the order given', () => {
    expect(parseIntegerList('1024,2048,4096', '--seq')).toEqual([1024, 2048, 4096]);
    expect(parseIntegerList('4096, 1024', '--seq')).toEqual([4096, 1024]);
    expect(parseIntegerList('512', '--seq')).toEqual([512]);
  });

  it('reads any list of positive integers joined by commas', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 8 }), (values) => {
        expect(parseIntegerList(values.join(','), '--seq')).toEqual(values);
      }),
      { seed: 5, numRuns: 200 },
    );
  });

  it('names every bad item and the whole list', () => {
    expect(inputError(() => parseIntegerList('1024,abc,0', '--seq')).message).toBe(
      '--seq: "abc", "0" in "1024,abc,0" are not positive integers; use e.g. --seq 1024,2048,4096',
    );
    expect(inputError(() => parseIntegerList('1024,,2048', '--seq')).message).toBe(
      '--seq: "" in "1024,,2048" is not a positive integer; use e.g. --seq 1024,2048,4096',
    );
    expect(inputError(() => parseIntegerList('1_024', '--seq')).message).toBe(
      '--seq: "1_024" is not a positive integer; use e.g. --seq 1024,2048,4096',
    );
  });
});

describe('resolveRunShape', () => {
  const xl = loadModelConfig('gpt2-xl');

  it('defaults to one sequence of the full context', () => {
    expect(resolveRunShape(xl, {})).toEqual({ batch: 1, seq: 1024 });
    expect(resolveRunShape(xl, { batch: 4, seq: 128 })).toEqual({ batch: 4, seq: 128 });
  });

  it('refuses a sequence longer than the context and says how to raise it', () => {
    expect(inputError(() => resolveRunShape(xl, { seq: 16384 })).message).toBe(
      'seq=16384 is longer than the context length of gpt2-xl (1024); set context_length=16384 to raise it, ' +
        'or use seq=1024 or less',
    );
    const long = loadModelConfig('gpt2-xl', { context_length: 16384 });
    expect(resolveRunShape(long, { seq: 16384 })).toEqual({ batch: 1, seq: 16384 });
    expect(resolveRunShape(long, {})).toEqual({ batch: 1, seq: 16384 });
    expect(inputError(() => resolveRunShape(long, { seq: 20000 })).message).toMatch(
      /^seq=20000 is longer than the context length of gpt2-xl with ctx=16384 \(16384\); set context_length=20000/,
    );
  });

  it('reports a bad batch and a bad seq together', () => {
    expect(inputError(() => resolveRunShape(xl, { batch: 0, seq: 1.5 })).problems).toEqual([
      'batch: 0 is not a positive integer; use e.g. batch=8',
      'seq: 1.5 is not a positive integer; use e.g. seq=1024',
    ]);
  });
});
