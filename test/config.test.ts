import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/core/errors.js';
import {
  ARCHITECTURE_KEYS,
  headDim,
  isConfigPath,
  listPresets,
  loadModelConfig,
  parseModelConfig,
  swigluDff,
  type ConfigOverrides,
} from '../src/config/index.js';
import { packageRoot, presetsDir } from '../src/core/package_root.js';
import { inputErrorWithoutStack as inputError } from './helpers/input_error.js';

const KEYS_LIST = 'vocab_size, context_length, num_layers, d_model, num_heads, d_ff';
const PRESETS_LIST =
  'tiny, gpt2-original-small, gpt2-small, qwen2.5-0.5b, gpt2-medium, gpt2-original-medium, tinyllama-1.1b, ' +
  'gpt2-large, gpt2-original-large, qwen1.5-moe-a2.7b, deepseek-v2-lite, gemma-2-2b, gpt2-original-xl, gpt2-xl, phi-3-mini-4k, ' +
  'qwen3-30b-a3b, qwen2.5-7b, llama-2-7b, llama-3-8b, llama-3.1-8b, mistral-7b, mixtral-8x7b, qwen3-8b, ' +
  'gemma-2-9b, deepseek-v2, deepseek-v3, llama-3.1-70b, llama-3.1-405b';

const scratch = mkdtempSync(join(tmpdir(), 'flopledger-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A valid tiny config with some fields replaced (undefined removes a field). */
function tinyWith(changes: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {
    vocab_size: 256,
    context_length: 64,
    num_layers: 2,
    d_model: 64,
    num_heads: 4,
    d_ff: 256,
    ...changes,
  };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete config[key];
  return config;
}

let fileCount = 0;
/** Write `text` to a fresh file under the scratch dir and return its path relative to the cwd, as a user would type it. */
function writeConfig(text: string, fileName = `config_${fileCount++}.json`): string {
  const dir = join(scratch, `case_${fileCount++}`);
  mkdirSync(dir);
  const file = join(dir, fileName);
  writeFileSync(file, text);
  return relative(process.cwd(), file);
}

function problemsOfFile(contents: Record<string, unknown> | string): { path: string; problems: readonly string[] } {
  const path = writeConfig(typeof contents === 'string' ? contents : JSON.stringify(contents, null, 2));
  return { path, problems: inputError(() => loadModelConfig(path)).problems };
}

describe('presets', () => {
  it('load with the seed shapes (d_ff = 4 * d_model) and the tiny demo shape', () => {
    const dims = (name: string) => {
      const { vocab_size, context_length, num_layers, d_model, num_heads, d_ff } = loadModelConfig(name);
      return [vocab_size, context_length, num_layers, d_model, num_heads, d_ff];
    };
    expect(dims('gpt2-small')).toEqual([50257, 1024, 12, 768, 12, 3072]);
    expect(dims('gpt2-medium')).toEqual([50257, 1024, 24, 1024, 16, 4096]);
    expect(dims('gpt2-large')).toEqual([50257, 1024, 36, 1280, 20, 5120]);
    expect(dims('gpt2-xl')).toEqual([50257, 1024, 48, 1600, 25, 6400]);
    expect(dims('tiny')).toEqual([256, 64, 2, 64, 4, 256]);
  });

  it('name themselves and cite their JSON file, with no variant', () => {
    const xl = loadModelConfig('gpt2-xl');
    expect(xl.name).toBe('gpt2-xl');
    expect(xl.source).toBe('models/gpt2-xl.json');
    expect(xl.variant).toBeUndefined();
    expect(headDim(xl)).toBe(64);
  });

  it('give the seed parameter count for gpt2-xl (2,127,057,600), summed here from the shapes', () => {
    const c = loadModelConfig('gpt2-xl');
    const [V, L, d, F] = [c.vocab_size, c.num_layers, c.d_model, c.d_ff].map(BigInt) as [
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    const perLayer = 4n * d * d + 3n * d * F + 2n * d;
    expect(2n * V * d + L * perLayer + d).toBe(2_127_057_600n);
  });

  it('are listed smallest first, by d_model * num_layers', () => {
    // d_model * num_layers: 128, 9216 (x2, then by name), 21504 (qwen2.5-0.5b), 24576 (x2), 45056 (tinyllama: 2048 x 22),
    // 46080 (x2), 59904 (gemma-2-2b), 76800 (x2), 98304 (phi-3), 100352 (qwen2.5-7b), 131072 (x4), 147456 (qwen3-8b),
    // 150528 (gemma-2-9b), 655360 (llama-3.1-70b), 2064384 (llama-3.1-405b).
    expect(listPresets()).toEqual(PRESETS_LIST.split(', '));
  });

  it('are found from the package root, whose package.json names flopledger', () => {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { name: string };
    expect(manifest.name).toBe('flopledger');
    expect(presetsDir()).toBe(join(packageRoot(), 'models'));
  });
});

describe('swigluDff', () => {
  it('rounds 8/3 * d_model up to a multiple of 64 (hand-worked cases)', () => {
    // 8*768/3 = 2048 exactly, already a multiple of 64.
    expect(swigluDff(768)).toBe(2048);
    // 8*1024/3 = 2730.67; 42*64 = 2688 is below it, 43*64 = 2752.
    expect(swigluDff(1024)).toBe(2752);
    // 8*1280/3 = 3413.33; 53*64 = 3392 is below it, 54*64 = 3456.
    expect(swigluDff(1280)).toBe(3456);
    // 8*1600/3 = 4266.67; 66*64 = 4224 is below it, 67*64 = 4288.
    expect(swigluDff(1600)).toBe(4288);
    // 8*1/3 = 2.67 -> 64, the smallest width.
    expect(swigluDff(1)).toBe(64);
  });

  it('is the least multiple of 64 that is at least 8d/3 (checked in integers: 3f >= 8d > 3(f - 64))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_000_000_000 }), (d) => {
        const f = BigInt(swigluDff(d));
        const d8 = 8n * BigInt(d);
        return f % 64n === 0n && 3n * f >= d8 && 3n * (f - 64n) < d8;
      }),
      { seed: 20240611, numRuns: 500 },
    );
  });

  it('rejects a d_model that is not a positive integer', () => {
    expect(inputError(() => swigluDff(0)).message).toBe('swigluDff: d_model (0) must be a positive integer');
    expect(inputError(() => swigluDff(2.5)).message).toBe('swigluDff: d_model (2.5) must be a positive integer');
  });
});

describe('malformed config files', () => {
  it('d_model not divisible by num_heads, with real alternative head counts and widths', () => {
    // Heads giving an even width of 100: 1, 2, 5, 10, 25, 50; nearest to 3 are 2 and 5. Multiples of 6 around 100: 96, 102.
    const { path, problems } = problemsOfFile(tinyWith({ d_model: 100, num_heads: 3 }));
    expect(problems).toEqual([
      `${path}: d_model (100) must be divisible by num_heads (3); choose num_heads that divides d_model into an even ` +
        'head dim, e.g. 2 or 5, or make d_model a multiple of 2 * num_heads = 6, e.g. 96 or 102',
    ]);
  });

  it('an odd head dim (RoPE rotates pairs)', () => {
    // 100 / 4 = 25 is odd; 3 does not divide 100, 2 gives 50, 5 gives 20; multiples of 8 around 100: 96, 104.
    const { path, problems } = problemsOfFile(tinyWith({ d_model: 100, num_heads: 4 }));
    expect(problems).toEqual([
      `${path}: head dim d_model / num_heads (100 / 4 = 25) must be even because RoPE rotates pairs of features; ` +
        'choose num_heads that divides d_model into an even head dim, e.g. 2 or 5, or make d_model a multiple of ' +
        '2 * num_heads = 8, e.g. 96 or 104',
    ]);
  });

  it('an odd d_model, which no head count can fix', () => {
    const { path, problems } = problemsOfFile(tinyWith({ d_model: 99, num_heads: 3 }));
    expect(problems).toEqual([
      `${path}: head dim d_model / num_heads (99 / 3 = 33) must be even because RoPE rotates pairs of features; ` +
        'make d_model a multiple of 2 * num_heads = 6, e.g. 96 or 102 (an odd d_model has no even head dim)',
    ]);
  });

  const fieldCases: [string, Record<string, unknown>, string][] = [
    ['zero', { num_layers: 0 }, 'num_layers (0) must be a positive integer; fix: use a value of at least 1, e.g. 12'],
    ['negative', { d_ff: -256 }, 'd_ff (-256) must be a positive integer; fix: use a value of at least 1, e.g. 256'],
    [
      'fractional',
      { num_layers: 1.5 },
      'num_layers (1.5) must be a positive integer; fix: use a whole number, e.g. 1 or 2',
    ],
    [
      'a quoted number',
      { num_heads: '12' },
      'num_heads ("12") must be a positive integer; fix: write 12 without quotes',
    ],
    ['null', { vocab_size: null }, 'vocab_size (null) must be a positive integer; fix: use a whole number, e.g. 50257'],
    [
      'a boolean',
      { context_length: true },
      'context_length (true) must be a positive integer; fix: use a whole number, e.g. 1024',
    ],
    [
      'beyond 2^53',
      { vocab_size: 1e300 },
      'vocab_size (1e+300) must be a positive integer; fix: use at most 9007199254740991 (2^53 - 1)',
    ],
    [
      'missing',
      { d_ff: undefined },
      'd_ff (missing) must be a positive integer; fix: add it, e.g. "d_ff": 256 (4 * d_model)',
    ],
    [
      'an array',
      { d_ff: [256] },
      'd_ff ([256]) must be a positive integer; fix: use a whole number, e.g. 256 (4 * d_model)',
    ],
  ];
  it.each(fieldCases)('a field that is %s', (_, changes, expected) => {
    const { path, problems } = problemsOfFile(tinyWith(changes));
    expect(problems).toEqual([`${path}: ${expected}`]);
  });

  it("an unknown key, with did-you-mean for a typo and for another tool's name", () => {
    const { path, problems } = problemsOfFile(
      tinyWith({ d_model: undefined, dmodel: 64, n_head: 4, activation: 'gelu' }),
    );
    expect(problems).toEqual([
      `${path}: unknown key "dmodel": did you mean "d_model"?`,
      `${path}: unknown key "n_head": did you mean "num_heads"?`,
      `${path}: unknown key "activation"; the keys are ${KEYS_LIST} and optionally ${ARCHITECTURE_KEYS.join(', ')}`,
      `${path}: d_model (missing) must be a positive integer; fix: add it, e.g. "d_model": 768`,
    ]);
  });

  it('every problem at once, one line each, in key order after unknown keys', () => {
    const { path, problems } = problemsOfFile({ vocab_size: 0, context_length: '1k', num_layers: 2.5, numheads: 4 });
    expect(problems).toEqual([
      `${path}: unknown key "numheads": did you mean "num_heads"?`,
      `${path}: vocab_size (0) must be a positive integer; fix: use a value of at least 1, e.g. 50257`,
      `${path}: context_length ("1k") must be a positive integer; fix: use a whole number, e.g. 1024`,
      `${path}: num_layers (2.5) must be a positive integer; fix: use a whole number, e.g. 2 or 3`,
      `${path}: d_model (missing) must be a positive integer; fix: add it, e.g. "d_model": 768`,
      `${path}: num_heads (missing) must be a positive integer; fix: add it, e.g. "num_heads": 12`,
      `${path}: d_ff (missing) must be a positive integer; fix: add it, e.g. "d_ff": 3072`,
    ]);
    const error = inputError(() => loadModelConfig(path));
    expect(error.message).toBe(problems.join('\n'));
  });

  it('a top-level value that is not an object', () => {
    expect(problemsOfFile('[64, 4]').problems).toEqual([
      expect.stringMatching(
        new RegExp(`: top-level value must be a JSON object with keys ${KEYS_LIST}; got an array$`),
      ),
    ]);
    const { path, problems } = problemsOfFile('"gpt2-xl"');
    expect(problems).toEqual([
      `${path}: top-level value must be a JSON object with keys ${KEYS_LIST}; got a string ("gpt2-xl")`,
    ]);
  });

  it('a trailing comma: invalid JSON with the line and column of the fault', () => {
    // "{\n" is 2 characters and '  "vocab_size": 256,\n' is 21, so the '}' is at offset 23: line 3, column 1.
    const { path, problems } = problemsOfFile('{\n  "vocab_size": 256,\n}\n');
    expect(problems).toEqual([
      `${path}: invalid JSON at line 3, column 1: Expected double-quoted property name; ` +
        'fix the syntax (keys in double quotes, no trailing commas, no comments)',
    ]);
  });

  it('an unquoted value, which JSON.parse reports without a position', () => {
    // '{"vocab_size": ' is 15 characters, so the 'a' is column 16.
    const { path, problems } = problemsOfFile('{"vocab_size": abc}');
    expect(problems).toEqual([
      `${path}: invalid JSON at line 1, column 16: Unexpected token 'a'; ` +
        'fix the syntax (keys in double quotes, no trailing commas, no comments)',
    ]);
  });

  it('an empty file', () => {
    const { path, problems } = problemsOfFile('');
    expect(problems).toEqual([
      `${path}: invalid JSON at line 1, column 1: Unexpected end of JSON input; ` +
        'fix the syntax (keys in double quotes, no trailing commas, no comments)',
    ]);
  });

  it('a file saved with a byte-order mark still loads', () => {
    const path = writeConfig(`\uFEFF${JSON.stringify(tinyWith({}))}`);
    expect(loadModelConfig(path).d_model).toBe(64);
  });

  it('a missing file, a directory', () => {
    const missing = relative(process.cwd(), join(scratch, 'nope', 'model.json'));
    expect(inputError(() => loadModelConfig(missing)).message).toBe(
      `${missing}: file not found; check the path, or use a preset: ${PRESETS_LIST}`,
    );
    const directory = `${relative(process.cwd(), scratch)}/`;
    expect(inputError(() => loadModelConfig(directory)).message).toBe(
      `${directory}: is a directory; pass a JSON config file`,
    );
  });

  it('a missing file named like a preset points to the preset', () => {
    const missing = relative(process.cwd(), join(scratch, 'gpt2-xl.json'));
    expect(inputError(() => loadModelConfig(missing)).message).toBe(
      `${missing}: file not found; check the path, or use the preset name "gpt2-xl"`,
    );
  });
});

describe('parseModelConfig', () => {
  it('returns the six dimensions with the given name and source', () => {
    expect(parseModelConfig(tinyWith({}), 'inline', 'demo')).toEqual({
      name: 'demo',
      source: 'inline',
      vocab_size: 256,
      context_length: 64,
      num_layers: 2,
      d_model: 64,
      num_heads: 4,
      d_ff: 256,
    });
  });

  it('rejects null and primitives as the top-level value', () => {
    expect(inputError(() => parseModelConfig(null, 'x.json', 'x')).message).toBe(
      `x.json: top-level value must be a JSON object with keys ${KEYS_LIST}; got null`,
    );
    expect(inputError(() => parseModelConfig(12, 'x.json', 'x')).message).toBe(
      `x.json: top-level value must be a JSON object with keys ${KEYS_LIST}; got a number (12)`,
    );
  });

  it('accepts exactly the configs whose dims are positive safe integers with an even whole head dim', () => {
    const dim = fc.oneof(fc.integer({ min: -3, max: 200 }), fc.constant(1.5), fc.constant(2 ** 53));
    fc.assert(
      fc.property(fc.tuple(dim, dim, dim, dim, dim, dim), (values) => {
        const [vocab_size, context_length, num_layers, d_model, num_heads, d_ff] = values;
        const config = { vocab_size, context_length, num_layers, d_model, num_heads, d_ff };
        const valid =
          values.every((v) => Number.isSafeInteger(v) && v > 0) &&
          d_model % num_heads === 0 &&
          (d_model / num_heads) % 2 === 0;
        let accepted = true;
        try {
          parseModelConfig(config, 'x.json', 'x');
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
          accepted = false;
          for (const line of error.problems) expect(line.startsWith('x.json: ')).toBe(true);
        }
        return accepted === valid;
      }),
      { seed: 7, numRuns: 400 },
    );
  });
});

describe('preset names and paths', () => {
  it('tells a path from a preset name', () => {
    expect(isConfigPath('gpt2-xl')).toBe(false);
    expect(isConfigPath('my-model')).toBe(false);
    expect(isConfigPath('gpt2-xl.json')).toBe(true);
    expect(isConfigPath('configs/model')).toBe(true);
    expect(isConfigPath('./model')).toBe(true);
  });

  it('loads a path even when its file is named like a preset, keeping the path relative', () => {
    const path = writeConfig(JSON.stringify(tinyWith({ num_layers: 3 })), 'gpt2-xl.json');
    const config = loadModelConfig(path);
    expect(config).toMatchObject({ name: 'gpt2-xl', source: path, num_layers: 3, d_model: 64 });
    expect(path.startsWith('/')).toBe(false);
  });

  it('loads the bundled preset file by its relative path', () => {
    const viaPath = loadModelConfig('models/gpt2-medium.json');
    expect(viaPath.source).toBe('models/gpt2-medium.json');
    expect(viaPath.num_layers).toBe(24);
  });

  it('an unknown model name suggests the closest preset', () => {
    expect(inputError(() => loadModelConfig('gpt2-xxl')).message).toBe(
      `unknown model "gpt2-xxl": did you mean "gpt2-xl"? Available presets: ${PRESETS_LIST}; or pass a path to a JSON config file.`,
    );
    expect(inputError(() => loadModelConfig('GPT2_Medium')).message).toMatch(
      /^unknown model "GPT2_Medium": did you mean "gpt2-medium"\?/,
    );
    expect(inputError(() => loadModelConfig('llama-7b')).message).toBe(
      `unknown model "llama-7b": did you mean "llama-2-7b"? Available presets: ${PRESETS_LIST}; or pass a path to a JSON config file.`,
    );
    expect(inputError(() => loadModelConfig('bert-base')).message).toBe(
      `unknown model "bert-base". Available presets: ${PRESETS_LIST}; or pass a path to a JSON config file.`,
    );
  });
});

describe('overrides', () => {
  it('raise the context length, keeping the preset name and describing the variant', () => {
    const config = loadModelConfig('gpt2-xl', { context_length: 16384 });
    expect(config).toMatchObject({ name: 'gpt2-xl', source: 'models/gpt2-xl.json', context_length: 16384, d_ff: 6400 });
    expect(config.variant).toBe('ctx=16384');
  });

  it('d_ff_rule swiglu recomputes d_ff from the final d_model', () => {
    expect(loadModelConfig('gpt2-xl', { d_ff_rule: 'swiglu' })).toMatchObject({
      d_ff: 4288,
      variant: 'd_ff=4288 (swiglu)',
    });
    const resized = loadModelConfig('gpt2-small', { d_model: 1024, num_heads: 16, d_ff_rule: 'swiglu' });
    expect(resized).toMatchObject({ d_model: 1024, num_heads: 16, d_ff: 2752 });
    expect(resized.variant).toBe('d_model=1024, heads=16, d_ff=2752 (swiglu)');
  });

  it('that change nothing leave no variant', () => {
    expect(loadModelConfig('gpt2-xl', { context_length: 1024, d_ff_rule: 'given' }).variant).toBeUndefined();
    // 8*96/3 = 256 exactly, tiny's own d_ff: only d_model changed.
    expect(loadModelConfig('tiny', { d_ff_rule: 'swiglu', d_model: 96 })).toMatchObject({
      d_ff: 256,
      variant: 'd_model=96',
    });
  });

  const badOverrides: [string, string, ConfigOverrides, string][] = [
    [
      'a d_model the heads do not divide',
      'gpt2-xl',
      { d_model: 1010 },
      // 1010 = 2*5*101: even head dims come from 1, 5, 101, 505 heads; nearest to 25 are 5 and 101.
      'gpt2-xl with d_model=1010: d_model (1010) must be divisible by num_heads (25); choose num_heads that divides ' +
        'd_model into an even head dim, e.g. 5 or 101, or make d_model a multiple of 2 * num_heads = 50, e.g. 1000 or 1050',
    ],
    [
      'a head count that does not divide d_model',
      'gpt2-small',
      { num_heads: 7 },
      // 768 = 2^8 * 3: 6 and 8 heads give widths 128 and 96.
      'gpt2-small with num_heads=7: d_model (768) must be divisible by num_heads (7); choose num_heads that divides ' +
        'd_model into an even head dim, e.g. 6 or 8, or make d_model a multiple of 2 * num_heads = 14, e.g. 756 or 770',
    ],
    [
      'zero layers',
      'gpt2-small',
      { num_layers: 0, context_length: 2048 },
      'gpt2-small with context_length=2048, num_layers=0: num_layers (0) must be a positive integer; fix: use a value of at least 1, e.g. 12',
    ],
    [
      'd_ff given twice',
      'gpt2-xl',
      { d_ff: 3000, d_ff_rule: 'swiglu' },
      'd_ff=3000 and d_ff_rule=swiglu both set d_ff; give only one',
    ],
    [
      'an unknown d_ff rule',
      'gpt2-xl',
      { d_ff_rule: 'foo' as 'swiglu' },
      'd_ff_rule: "foo" is not a d_ff rule; use d_ff_rule=given (d_ff as configured) or d_ff_rule=swiglu (8/3 * d_model rounded up to a multiple of 64)',
    ],
  ];
  it.each(badOverrides)('reject %s, naming the fields', (_, model, overrides, expected) => {
    expect(inputError(() => loadModelConfig(model, overrides)).message).toBe(expected);
  });

  it('on a file cite the path as the user gave it', () => {
    const path = writeConfig(JSON.stringify(tinyWith({})));
    expect(inputError(() => loadModelConfig(path, { num_heads: 3 })).message).toBe(
      `${path} with num_heads=3: d_model (64) must be divisible by num_heads (3); choose num_heads that divides d_model ` +
        'into an even head dim, e.g. 2 or 4, or make d_model a multiple of 2 * num_heads = 6, e.g. 60 or 66',
    );
  });
});
