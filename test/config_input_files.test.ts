/**
 * Config files as they arrive: nothing is read before the path is known to be a regular file of
 * at most 1 MiB (a FIFO blocks, /dev/zero never ends); binary bytes are refused and never echoed;
 * a key given twice is refused with both places; numbers are shown as the file wrote them, and an
 * integer past 2^53 or a fraction a double rounds away is refused, never rounded.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE_KEYS, loadModelConfig, loadModelConfigFile, parseModelConfig } from '../src/config/index.js';
import { MAX_CONFIG_BYTES } from '../src/config/config_file.js';
import { isWholeNumberText, parseJsonDocument, writtenNumber } from '../src/config/json_document.js';
import { cli } from './helpers/cli_runner.js';
import { inputErrorWithoutStack as inputError } from './helpers/input_error.js';

const scratch = mkdtempSync(join(tmpdir(), 'flopledger-input-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
/** Write `contents` to a fresh file and return its path relative to the cwd, as a user types it. */
function write(contents: string | Uint8Array, fileName = 'config.json'): string {
  const dir = join(scratch, `case_${count++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, fileName), contents);
  return relative(process.cwd(), join(dir, fileName));
}

const TINY =
  '{\n  "vocab_size": 256,\n  "context_length": 64,\n  "num_layers": 2,\n  "d_model": 64,\n  "num_heads": 4,\n  "d_ff": 256\n}\n';
const problems = (path: string) => inputError(() => loadModelConfig(path)).problems;

describe('what is not a regular file is refused before anything is read', () => {
  it('a named pipe, which would block a read until a writer came', async () => {
    const path = join(relative(process.cwd(), scratch), `fifo_${count++}.json`);
    execFileSync('mkfifo', [path]);
    expect(problems(path)).toEqual([`${path}: is a named pipe (FIFO), not a regular file; pass a JSON config file`]);
    const { code, stdout, stderr } = await cli('params', '--config', path);
    expect({ code, stdout, stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: `flopledger: ${path}: is a named pipe (FIFO), not a regular file; pass a JSON config file\n`,
    });
  });

  it('/dev/zero, which never ends', () => {
    expect(inputError(() => loadModelConfigFile('/dev/zero')).problems).toEqual([
      '/dev/zero: is a character device, not a regular file; pass a JSON config file',
    ]);
  });

  it('a directory', () => {
    const path = relative(process.cwd(), scratch);
    expect(inputError(() => loadModelConfigFile(path)).problems).toEqual([
      `${path}: is a directory; pass a JSON config file`,
    ]);
  });

  it('a file over 1 MiB, by its size; exactly 1 MiB is read', () => {
    expect(MAX_CONFIG_BYTES).toBe(1_048_576);
    // Whitespace is valid JSON padding: the file is a valid config of exactly the cap.
    const atCap = TINY.slice(0, -1) + ' '.repeat(MAX_CONFIG_BYTES - TINY.length) + '\n';
    expect(Buffer.byteLength(atCap)).toBe(MAX_CONFIG_BYTES);
    expect(loadModelConfig(write(atCap)).d_model).toBe(64);
    const over = write(atCap + ' ');
    expect(problems(over)).toEqual([
      `${over}: is 1048577 bytes, more than a config file may be (1 MiB = 1048576 bytes); ` +
        'pass the model config (a config.json is a few KB), not weights or data',
    ]);
  });
});

describe('binary content is refused and never echoed', () => {
  it('a zero byte, as in a weights file', () => {
    const path = write(Uint8Array.from([0x7b, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x7d]));
    expect(problems(path)).toEqual([
      `${path}: is a binary file, not JSON text (a zero byte at offset 1); pass a JSON config file`,
    ]);
  });

  it('bytes that are not UTF-8', () => {
    const path = write(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]));
    expect(problems(path)).toEqual([
      `${path}: is not UTF-8 text; a config file is JSON, which is UTF-8; save it as UTF-8`,
    ]);
  });

  it('control characters in keys, values and syntax errors are shown escaped', () => {
    // ESC [2J would clear the terminal; U+202E would reverse the text after it.
    const key = write(TINY.replace('"d_ff"', '"d_ff\\u001b[2J"'));
    expect(problems(key)[0]).toMatch(
      new RegExp(`^${key.replace(/[.\\]/g, '\\$&')}: unknown key "d_ff\\\\u001b\\[2J"; the keys are `),
    );
    const value = write(TINY.replace('"d_ff": 256', '"d_ff": "\\u202e652"'));
    expect(problems(value)).toEqual([
      `${value}: d_ff ("\\u202e652") must be a positive integer; fix: use a whole number, e.g. 256 (4 * d_model)`,
    ]);
    const syntax = write('{"d_ff": \u0007}');
    expect(problems(syntax)[0]).toMatch(/^.*: invalid JSON at line 1, column 10: Unexpected token '\\u0007'; /);
    for (const line of [...problems(key), ...problems(value), ...problems(syntax)]) {
      const unprintable = [...line].filter((char) => {
        const code = char.codePointAt(0) ?? 0;
        return code < 0x20 || (code >= 0x7f && code <= 0x9f) || (code >= 0x202a && code <= 0x202e);
      });
      expect(unprintable).toEqual([]);
    }
  });
});

describe('a key given twice is refused, naming both places', () => {
  it('at the top level', () => {
    const path = write(TINY.replace('"d_ff": 256', '"d_ff": 256,\n  "d_model": 128'));
    expect(problems(path)).toEqual([
      `${path}: key "d_model" is given twice, as 64 at line 5, column 3 and as 128 at line 8, column 3; ` +
        'JSON readers keep only one of them, so the file is ambiguous; fix: remove one',
    ]);
  });

  it('inside a nested object, with its path', () => {
    const path = write('{"model_type": "llama", "rope_scaling": {"factor": 8.0, "factor": 4.0}}');
    expect(problems(path)).toEqual([
      `${path}: key "factor" in rope_scaling is given twice, as 8.0 at line 1, column 42 and as 4.0 at line 1, column 57; ` +
        'JSON readers keep only one of them, so the file is ambiguous; fix: remove one',
    ]);
  });
});

describe('numbers as written', () => {
  it('an integer past 2^53 is shown as written and refused, not rounded', () => {
    // JSON.parse reads 9007199254740993 as 9007199254740992.
    const path = write(TINY.replace('"d_ff": 256', '"d_ff": 9007199254740993'));
    expect(problems(path)).toEqual([
      `${path}: d_ff (9007199254740993) must be a positive integer; fix: use at most 9007199254740991 (2^53 - 1)`,
    ]);
  });

  it('a fraction a double cannot hold is refused, not read as the whole number it rounds to', () => {
    const path = write(TINY.replace('"num_layers": 2', '"num_layers": 2.0000000000000001'));
    expect(problems(path)).toEqual([
      `${path}: num_layers (2.0000000000000001) must be a positive integer; fix: use a whole number, e.g. 2`,
    ]);
  });

  it('whole numbers in other spellings are read', () => {
    expect(
      loadModelConfig(write(TINY.replace('"d_model": 64', '"d_model": 6.4e1').replace('"d_ff": 256', '"d_ff": 256.0'))),
    ).toMatchObject({ d_model: 64, d_ff: 256 });
  });

  it('infinity and exponents are shown as written', () => {
    const path = write(TINY.replace('"num_layers": 2', '"num_layers": 1e400'));
    expect(problems(path)).toEqual([
      `${path}: num_layers (1e400) must be a positive integer; fix: use a whole number, e.g. 12`,
    ]);
  });

  it('isWholeNumberText reads the text exactly', () => {
    for (const text of ['0', '-0', '12', '12.0', '1.2e1', '120e-1', '0.0e5', '1E+2', '100000000000000000000001'])
      expect(isWholeNumberText(text)).toBe(true);
    for (const text of ['0.5', '1e-1', '12.01', '2.0000000000000001', '1.25e1', '1e-400'])
      expect(isWholeNumberText(text)).toBe(false);
  });
});

describe('nesting', () => {
  it('deeper than 32 is refused without overflowing the stack, valid or not', () => {
    const deep = write(`{"a": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    expect(problems(deep)).toEqual([
      `${deep}: nests objects and arrays more than 32 deep (at line 1, column 38); a config is a flat object of numbers, strings and booleans`,
    ]);
    const broken = write(`{"a": ${'['.repeat(200_000)}x`);
    expect(problems(broken)[0]).toMatch(/nests objects and arrays more than 32 deep/);
  });
});

describe('parseJsonDocument', () => {
  it('gives what JSON.parse gives, for any JSON text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        expect(parseJsonDocument(text).value).toStrictEqual(JSON.parse(text));
      }),
      { seed: 21, numRuns: 400 },
    );
  });

  it('keeps a "__proto__" key as data, as JSON.parse does', () => {
    const value = parseJsonDocument('{"__proto__": {"polluted": 1}}').value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(inputError(() => parseModelConfig(value, 'c.json', 'c')).problems[0]).toMatch(
      /^c\.json: unknown key "__proto__"/,
    );
  });

  it('remembers how each number was written', () => {
    const value = parseJsonDocument('{"a": 1.0e3, "b": [9007199254740993, 2]}').value as { a: number; b: number[] };
    expect(writtenNumber(value, 'a')).toBe('1.0e3');
    expect(writtenNumber(value.b, '0')).toBe('9007199254740993');
    expect(value.b[0]).toBe(9007199254740992);
  });
});

describe('a field problem carries the number as written', () => {
  it('in the FieldIssue data as in the message', () => {
    const path = write(TINY.replace('"d_ff": 256', '"d_ff": 2.56e2').replace('"num_heads": 4', '"num_heads": 4.5e0'));
    const error = inputError(() => loadModelConfig(path));
    expect(error.fields).toEqual([
      expect.objectContaining({ field: 'num_heads', value: 4.5, written: '4.5e0', expected: 'a positive integer' }),
    ]);
    expect(error.problems).toEqual([
      `${path}: num_heads (4.5e0) must be a positive integer; fix: use a whole number, e.g. 4 or 5`,
    ]);
  });
});

describe('many faults of one kind', () => {
  it('take ten lines and a count, not a line each', () => {
    const strays = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`stray_${i}`, i]));
    const path = write(JSON.stringify({ ...JSON.parse(TINY), ...strays }));
    const lines = problems(path);
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe(
      `${path}: unknown key "stray_0"; the keys are vocab_size, context_length, num_layers, d_model, num_heads, d_ff and optionally ${ARCHITECTURE_KEYS.join(', ')}`,
    );
    expect(lines[10]).toBe(`${path}: and 4990 more unknown keys`);
    const twice = write(`{${Array.from({ length: 12 }, (_, i) => `"k${i}": 1, "k${i}": 2`).join(', ')}}`);
    expect(problems(twice).at(-1)).toBe(`${twice}: and 2 more keys given twice`);
  });
});
