/**
 * Architecture variants in config files and flags: what is accepted and carried, every new
 * validation message word for word, the override flags through loadModelConfig and run(argv),
 * and the new presets' dimensions against their authors' published hyperparameters.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARCHITECTURE_KEYS,
  applyOverrides,
  architectureOf,
  listPresets,
  loadModelConfig,
  parseModelConfig,
  type ConfigOverrides,
  type ModelConfig,
} from '../src/config/index.js';
import { InputError } from '../src/core/errors.js';
import { cli } from './helpers/cli_runner.js';
import { inputError } from './helpers/input_error.js';

/** A valid Llama-shaped config (d 4096, 32 heads) with some fields replaced (undefined removes one). */
function llamaWith(changes: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {
    vocab_size: 32000,
    context_length: 4096,
    num_layers: 32,
    d_model: 4096,
    num_heads: 32,
    d_ff: 11008,
    ...changes,
  };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete config[key];
  return config;
}

function problems(raw: Record<string, unknown>): readonly string[] {
  return inputError(() => parseModelConfig(raw, 'x.json', 'x')).problems;
}

describe('architecture keys in a config file', () => {
  it('are carried exactly as given, and a file without them parses to the six dimensions only', () => {
    expect(parseModelConfig(llamaWith({}), 'x.json', 'x')).toEqual({
      name: 'x',
      source: 'x.json',
      vocab_size: 32000,
      context_length: 4096,
      num_layers: 32,
      d_model: 4096,
      num_heads: 32,
      d_ff: 11008,
    });
    const every = {
      num_kv_heads: 8,
      tie_embeddings: true,
      ffn: 'gelu',
      norm: 'layernorm',
      positions: 'learned',
      bias: true,
      vocab_multiple: 64,
      rope_theta: 500000,
    };
    expect(parseModelConfig(llamaWith(every), 'x.json', 'x')).toEqual({
      name: 'x',
      source: 'x.json',
      ...llamaWith(every),
    });
    // Only what the file says: the defaults stay in architectureOf.
    expect(Object.keys(parseModelConfig(llamaWith({ bias: false }), 'x.json', 'x'))).not.toContain('ffn');
  });

  it('lets learned positions have an odd head width, which RoPE refuses', () => {
    // 100 / 4 = 25 features per head: fine for a position table, no pairs to rotate.
    const learned = parseModelConfig(llamaWith({ d_model: 100, num_heads: 4, positions: 'learned' }), 'x.json', 'x');
    expect(architectureOf(learned).head_dim).toBe(25);
    expect(problems(llamaWith({ d_model: 100, num_heads: 4, positions: 'rope' }))).toEqual([
      'x.json: head dim d_model / num_heads (100 / 4 = 25) must be even because RoPE rotates pairs of features; ' +
        'choose num_heads that divides d_model into an even head dim, e.g. 2 or 5, or make d_model a multiple of ' +
        '2 * num_heads = 8, e.g. 96 or 104',
    ]);
  });

  // Each expected line written out by hand: the divisors of 32 are 1, 2, 4, 8, 16, 32; of 12: 1, 2, 3, 4, 6, 12.
  const messages: [string, Record<string, unknown>, string][] = [
    [
      'kv heads that do not divide the heads',
      { num_kv_heads: 3 },
      'num_kv_heads (3) must divide num_heads (32); e.g. 1, 2, 4, 8, 16 or 32',
    ],
    [
      'more kv heads than heads',
      { d_model: 768, num_heads: 12, num_kv_heads: 16 },
      'num_kv_heads (16) must divide num_heads (12); e.g. 1, 2, 3, 4, 6 or 12',
    ],
    [
      // 720 has 30 divisors; the nearest to 7 are 6 and 8 (1440 / 720 = 2, an even head width).
      'kv heads among many divisors',
      { d_model: 1440, num_heads: 720, num_kv_heads: 7 },
      'num_kv_heads (7) must divide num_heads (720); e.g. 6 or 8',
    ],
    [
      'zero kv heads',
      { num_kv_heads: 0 },
      'num_kv_heads (0) must be a positive integer; fix: use a value of at least 1, e.g. 4',
    ],
    [
      'fractional kv heads',
      { num_kv_heads: 2.5 },
      'num_kv_heads (2.5) must be a positive integer; fix: use a whole number, e.g. 2 or 3',
    ],
    [
      'a quoted boolean',
      { tie_embeddings: 'true' },
      'tie_embeddings ("true") must be true or false; fix: write true without quotes',
    ],
    ['a number for a boolean', { bias: 0 }, 'bias (0) must be true or false; fix: write false'],
    ['a word for a boolean', { bias: 'yes' }, 'bias ("yes") must be true or false; fix: use true or false'],
    ['a typo in ffn', { ffn: 'gleu' }, 'ffn ("gleu") must be "swiglu", "gelu" or "geglu"; did you mean "gelu"?'],
    [
      "another tool's name for the activation",
      { ffn: 'silu' },
      'ffn ("silu") must be "swiglu", "gelu" or "geglu"; did you mean "swiglu"?',
    ],
    [
      'an ffn flopledger does not model',
      { ffn: 'relu' },
      'ffn ("relu") must be "swiglu", "gelu" or "geglu"; fix: use "swiglu" (W2(SiLU(W1 x) * W3 x)), "gelu" (W2 GELU(W1 x), two matrices) or "geglu" (W2(GELU(W1 x) * W3 x)), e.g. "ffn": "swiglu"',
    ],
    [
      // One letter from "rope", but a different scheme (no positional encoding): no suggestion.
      'a position scheme flopledger does not model',
      { positions: 'NoPE' },
      'positions ("NoPE") must be "rope" or "learned"; fix: use "rope" (rotary, no parameters) or "learned" (a context_length x d_model table), e.g. "positions": "rope"',
    ],
    [
      'a norm spelled as in PyTorch',
      { norm: 'LayerNorm' },
      'norm ("LayerNorm") must be "rmsnorm" or "layernorm"; did you mean "layernorm"?',
    ],
    [
      'a norm alias',
      { norm: 'rms_norm' },
      'norm ("rms_norm") must be "rmsnorm" or "layernorm"; did you mean "rmsnorm"?',
    ],
    [
      'positions by another name',
      { positions: 'rotary' },
      'positions ("rotary") must be "rope" or "learned"; did you mean "rope"?',
    ],
    [
      'positions as a number',
      { positions: 1 },
      'positions (1) must be "rope" or "learned"; fix: use "rope" (rotary, no parameters) or "learned" (a context_length x d_model table), e.g. "positions": "rope"',
    ],
    [
      'zero vocab multiple',
      { vocab_multiple: 0 },
      'vocab_multiple (0) must be a positive integer; fix: use a value of at least 1, e.g. 64',
    ],
    [
      'a negative RoPE base',
      { rope_theta: -1 },
      'rope_theta (-1) must be a positive number; fix: use e.g. 10000 (the RoPE paper and Llama 2) or 500000 (Llama 3)',
    ],
    [
      'a quoted RoPE base',
      { rope_theta: '500000' },
      'rope_theta ("500000") must be a positive number; fix: write 500000 without quotes',
    ],
    [
      // Learned positions need only divisibility: 100's divisors nearest 3 are 2 and 4; multiples of 3 around 100 are 99 and 102.
      'heads that do not split d_model, with learned positions',
      { d_model: 100, num_heads: 3, positions: 'learned' },
      'd_model (100) must be divisible by num_heads (3); choose num_heads that divides d_model, e.g. 2 or 4, ' +
        'or make d_model a multiple of num_heads = 3, e.g. 99 or 102',
    ],
  ];
  it.each(messages)('%s', (_, changes, expected) => {
    expect(problems(llamaWith(changes))).toEqual([`x.json: ${expected}`]);
  });

  it("suggests the architecture keys for typos and other tools' names, and lists them when nothing is close", () => {
    expect(
      problems(llamaWith({ num_kv_head: 8, tie_word_embeddings: true, vocab_multple: 64, colour: 'red' })),
    ).toEqual([
      'x.json: unknown key "num_kv_head": did you mean "num_kv_heads"?',
      'x.json: unknown key "tie_word_embeddings": did you mean "tie_embeddings"?',
      'x.json: unknown key "vocab_multple": did you mean "vocab_multiple"?',
      'x.json: unknown key "colour"; the keys are vocab_size, context_length, num_layers, d_model, num_heads, d_ff ' +
        `and optionally ${ARCHITECTURE_KEYS.join(', ')}`,
    ]);
  });

  it('reports every problem at once: unknown keys, then fields in key order, then the head rules', () => {
    expect(problems(llamaWith({ n_kv_heads: 2, ffn: 'gleu', bias: 'no', d_model: 100, num_heads: 3 }))).toEqual([
      'x.json: unknown key "n_kv_heads": did you mean "num_kv_heads"?',
      'x.json: ffn ("gleu") must be "swiglu", "gelu" or "geglu"; did you mean "gelu"?',
      'x.json: bias ("no") must be true or false; fix: use true or false',
      'x.json: d_model (100) must be divisible by num_heads (3); choose num_heads that divides d_model into an even ' +
        'head dim, e.g. 2 or 5, or make d_model a multiple of 2 * num_heads = 6, e.g. 96 or 102',
    ]);
  });

  it('accepts exactly the configs whose every field is valid and whose heads split (property over random variants)', () => {
    const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    const variant = fc.record({
      headWidth: fc.integer({ min: 1, max: 9 }),
      numHeads: fc.integer({ min: 1, max: 12 }),
      extraWidth: fc.constantFrom(0, 0, 0, 1),
      num_kv_heads: maybe(fc.oneof(fc.integer({ min: -1, max: 13 }), fc.constant(1.5))),
      tie_embeddings: maybe(fc.oneof(fc.boolean(), fc.constant('yes'))),
      ffn: maybe(fc.constantFrom('swiglu', 'gelu', 'relu')),
      norm: maybe(fc.constantFrom('rmsnorm', 'layernorm', 'batchnorm')),
      positions: maybe(fc.constantFrom('rope', 'learned', 'alibi')),
      bias: maybe(fc.oneof(fc.boolean(), fc.constant(1))),
      vocab_multiple: maybe(fc.integer({ min: -1, max: 128 })),
      rope_theta: maybe(fc.oneof(fc.double({ min: -10, max: 1e6, noNaN: true }), fc.constant(Infinity))),
    });
    fc.assert(
      fc.property(variant, ({ headWidth, numHeads, extraWidth, ...architecture }) => {
        const d_model = headWidth * numHeads + extraWidth;
        const given = Object.fromEntries(Object.entries(architecture).filter(([, value]) => value !== undefined));
        const raw = {
          vocab_size: 1000,
          context_length: 64,
          num_layers: 2,
          d_model,
          num_heads: numHeads,
          d_ff: 128,
          ...given,
        };

        // Validity written out independently of the parser, rule by rule.
        const { num_kv_heads: kv, rope_theta: theta } = architecture;
        const isCount = (v: unknown) => v === undefined || (Number.isSafeInteger(v) && (v as number) > 0);
        const rope = architecture.positions !== 'learned';
        const valid =
          isCount(kv) &&
          (kv === undefined || numHeads % kv === 0) &&
          [architecture.tie_embeddings, architecture.bias].every((v) => v === undefined || typeof v === 'boolean') &&
          [undefined, 'swiglu', 'gelu'].includes(architecture.ffn) &&
          [undefined, 'rmsnorm', 'layernorm'].includes(architecture.norm) &&
          [undefined, 'rope', 'learned'].includes(architecture.positions) &&
          isCount(architecture.vocab_multiple) &&
          (theta === undefined || (Number.isFinite(theta) && theta > 0)) &&
          d_model % numHeads === 0 &&
          (!rope || (d_model / numHeads) % 2 === 0);

        let parsed: ModelConfig | undefined;
        try {
          parsed = parseModelConfig(raw, 'x.json', 'x');
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
          for (const line of error.problems) expect(line.startsWith('x.json: ')).toBe(true);
        }
        expect(parsed !== undefined).toBe(valid);
        if (parsed !== undefined) expect(parsed).toEqual({ name: 'x', source: 'x.json', ...raw });
      }),
      { seed: 71, numRuns: 600 },
    );
  });
});

describe('override flags for the variants', () => {
  it('change the architecture and say so in the variant', () => {
    const overrides: ConfigOverrides = {
      ffn: 'gelu',
      norm: 'layernorm',
      positions: 'learned',
      bias: true,
      tie_embeddings: true,
    };
    const config = loadModelConfig('gpt2-small', overrides);
    expect(config).toMatchObject({ name: 'gpt2-small', source: 'models/gpt2-small.json', ...overrides });
    expect(config.variant).toBe('tie_embeddings=true, ffn=gelu, norm=layernorm, positions=learned, bias=true');
    expect(loadModelConfig('llama-3-8b', { num_kv_heads: 1 })).toMatchObject({
      num_kv_heads: 1,
      variant: 'kv_heads=1',
    });
    expect(loadModelConfig('tiny', { vocab_multiple: 64, context_length: 128 }).variant).toBe(
      'ctx=128, vocab_multiple=64',
    );
  });

  it('that restate the preset leave no variant', () => {
    expect(loadModelConfig('llama-3-8b', { num_kv_heads: 8, bias: false }).variant).toBeUndefined();
    // The seed's model is untied with SwiGLU: saying so changes nothing.
    expect(loadModelConfig('tiny', { tie_embeddings: false, ffn: 'swiglu' }).variant).toBeUndefined();
  });

  it('let kv heads follow a new head count when the preset has multi-head attention', () => {
    const config = loadModelConfig('llama-2-7b', { num_heads: 16 });
    expect(config.variant).toBe('heads=16');
    expect(config.num_kv_heads).toBeUndefined();
    expect(architectureOf(config).num_kv_heads).toBe(16);
  });

  it("keep a grouped-query preset's kv heads, and name the fields when the new head count breaks them", () => {
    expect(loadModelConfig('llama-3-8b', { num_heads: 64 })).toMatchObject({
      num_heads: 64,
      num_kv_heads: 8,
      variant: 'heads=64',
    });
    expect(inputError(() => loadModelConfig('llama-3-8b', { num_heads: 16, num_kv_heads: 3 })).problems).toEqual([
      'llama-3-8b with num_heads=16, num_kv_heads=3: num_kv_heads (3) must divide num_heads (16); e.g. 1, 2, 4, 8 or 16',
    ]);
  });

  it('name a switch turned off as field=false, and a mistyped choice with its suggestion', () => {
    expect(inputError(() => loadModelConfig('gpt2-original-small', { ffn: 'gleu', bias: false })).problems).toEqual([
      'gpt2-original-small with ffn=gleu, bias=false: ffn ("gleu") must be "swiglu", "gelu" or "geglu"; did you mean "gelu"?',
    ]);
    expect(loadModelConfig('gpt2-original-small', { bias: false, tie_embeddings: false }).variant).toBe(
      'tie_embeddings=false, bias=false',
    );
  });

  it('carry each bad field as data: the field, the value, what it takes and the closest choice', () => {
    const error = inputError(() => loadModelConfig('gpt2-small', { ffn: 'gleu', norm: 'batchnorm', num_layers: 0 }));
    expect(error.fields).toEqual([
      {
        problem: error.problems[0],
        field: 'num_layers',
        key: 'num_layers',
        value: 0,
        expected: 'a positive integer',
      },
      {
        problem: error.problems[1],
        field: 'ffn',
        key: 'ffn',
        value: 'gleu',
        expected: 'one of "swiglu", "gelu" or "geglu"',
        allowed: ['swiglu', 'gelu', 'geglu'],
        suggestion: 'gelu',
      },
      // batchnorm is a real norm flopledger does not model: no suggestion, the list instead.
      {
        problem: error.problems[2],
        field: 'norm',
        key: 'norm',
        value: 'batchnorm',
        expected: 'one of "rmsnorm" or "layernorm"',
        allowed: ['rmsnorm', 'layernorm'],
      },
    ]);
    // Every missing dimension is a field problem with no value.
    const missing = inputError(() => parseModelConfig({}, 'x.json', 'x')).fields;
    expect(missing.map((issue) => [issue.field, issue.value])).toEqual([
      ['vocab_size', undefined],
      ['context_length', undefined],
      ['num_layers', undefined],
      ['d_model', undefined],
      ['num_heads', undefined],
      ['d_ff', undefined],
    ]);
    expect(
      inputError(() => applyOverrides(loadModelConfig('tiny'), { d_ff_rule: 'swigul' as 'swiglu' })).fields,
    ).toEqual([expect.objectContaining({ field: 'd_ff_rule', value: 'swigul', allowed: ['given', 'swiglu'] })]);
  });

  it('allow an odd head width once --positions learned drops RoPE', () => {
    // tiny is d 64: 64 heads give width 1, which RoPE cannot rotate.
    expect(inputError(() => loadModelConfig('tiny', { num_heads: 64 })).problems[0]).toMatch(
      /^tiny with num_heads=64: head dim .* must be even/,
    );
    expect(loadModelConfig('tiny', { num_heads: 64, positions: 'learned' }).variant).toBe(
      'heads=64, positions=learned',
    );
  });
});

describe('the variant flags on the command line', () => {
  it('reach the config of every model command and show in its JSON', async () => {
    const argv = [
      '--kv-heads',
      '4',
      '--ffn',
      'gelu',
      '--norm',
      'layernorm',
      '--positions',
      'learned',
      '--bias',
      '--tie-embeddings',
      '--vocab-multiple',
      '64',
    ];
    const variant =
      'kv_heads=4, tie_embeddings=true, ffn=gelu, norm=layernorm, positions=learned, bias=true, vocab_multiple=64';
    for (const command of ['params', 'memory', 'flops']) {
      const { code, stdout, stderr } = await cli(command, 'gpt2-small', ...argv, '--format', 'json');
      expect({ command, code, stderr }).toEqual({ command, code: 0, stderr: '' });
      expect(JSON.parse(stdout).model).toMatchObject({ name: 'gpt2-small', variant });
    }
  });

  it('turn a switch off with --no-', async () => {
    const { code, stdout } = await cli(
      'params',
      'gpt2-original-small',
      '--no-tie-embeddings',
      '--no-bias',
      '--format',
      'json',
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).model.variant).toBe('tie_embeddings=false, bias=false');
  });

  const bad: [string, string[], string][] = [
    [
      '--kv-heads that do not divide',
      ['--kv-heads', '5'],
      'gpt2-small with --kv-heads 5: num_kv_heads (5) must divide num_heads (12); e.g. 1, 2, 3, 4, 6 or 12',
    ],
    [
      // The config layer names fields (num_heads=12, bias=false); the command line quotes the flags typed.
      'a switch turned off, quoted as --no-<flag>',
      ['--kv-heads', '5', '--no-bias'],
      'gpt2-small with --kv-heads 5 --no-bias: num_kv_heads (5) must divide num_heads (12); e.g. 1, 2, 3, 4, 6 or 12',
    ],
    [
      'd_ff set twice',
      ['--d-ff', '3000', '--d-ff-rule', 'swiglu'],
      '--d-ff 3000 and --d-ff-rule swiglu both set d_ff; give only one',
    ],
    [
      '--kv-heads not a number',
      ['--kv-heads', 'all'],
      '--kv-heads: "all" is not a positive integer; use e.g. --kv-heads 4',
    ],
    [
      '--vocab-multiple 0',
      ['--vocab-multiple', '0'],
      '--vocab-multiple: "0" is not a positive integer; use e.g. --vocab-multiple 64',
    ],
  ];
  it.each(bad)('%s: one line, exit 2', async (_, flags, line) => {
    const { code, stdout, stderr } = await cli('params', 'gpt2-small', ...flags);
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: `flopledger: ${line}\n` });
  });

  // A bad choice is answered in the syntax the user typed: flags, never the config file's "ffn": "gelu".
  it.each([
    ['--ffn', 'gleu', ['--ffn gelu', '--ffn swiglu']],
    ['--norm', 'batchnorm', ['--norm rmsnorm', '--norm layernorm']],
    ['--positions', 'nope', ['--positions rope', '--positions learned']],
  ])('%s %s: one line in flag syntax, exit 2', async (flag, value, fixes) => {
    const { code, stdout, stderr } = await cli('params', 'gpt2-small', flag, value);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr.endsWith('\n') && !stderr.slice(0, -1).includes('\n')).toBe(true);
    expect(stderr.startsWith(`flopledger: ${flag}`)).toBe(true);
    expect(stderr).toContain(`"${value}"`);
    for (const fix of fixes) expect(stderr).toContain(fix);
    expect(stderr).not.toMatch(/"(ffn|norm|positions)":/);
  });
});

describe('presets from published architectures', () => {
  /** Dimensions and architecture in one comparable record. */
  const shape = (config: ModelConfig) => {
    const { num_kv_heads, tie_embeddings, ffn, norm, positions, bias, rope_theta } = architectureOf(config);
    const { vocab_size, context_length, num_layers, d_model, num_heads, d_ff } = config;
    return {
      vocab_size,
      context_length,
      num_layers,
      d_model,
      num_heads,
      d_ff,
      num_kv_heads,
      tie_embeddings,
      ffn,
      norm,
      positions,
      bias,
      rope_theta,
    };
  };
  const gpt2 = {
    vocab_size: 50257,
    context_length: 1024,
    tie_embeddings: true,
    ffn: 'gelu',
    norm: 'layernorm',
    positions: 'learned',
    bias: true,
    rope_theta: 10000,
  };
  const llama = { tie_embeddings: false, ffn: 'swiglu', norm: 'rmsnorm', positions: 'rope', bias: false };

  // Radford et al. 2019 (Table 2) and the hub configs gpt2, gpt2-medium, gpt2-large, gpt2-xl: n_inner = 4 * n_embd.
  it.each([
    ['gpt2-original-small', 12, 768, 12],
    ['gpt2-original-medium', 24, 1024, 16],
    ['gpt2-original-large', 36, 1280, 20],
    ['gpt2-original-xl', 48, 1600, 25],
  ])('%s: the original GPT-2 block (Radford et al. 2019; Hugging Face gpt2 configs)', (name, layers, width, heads) => {
    expect(shape(loadModelConfig(name))).toEqual({
      ...gpt2,
      num_layers: layers,
      d_model: width,
      num_heads: heads,
      num_kv_heads: heads,
      d_ff: 4 * width,
    });
  });

  it('llama-2-7b (Touvron et al. 2023; meta-llama/Llama-2-7b-hf config.json)', () => {
    expect(shape(loadModelConfig('llama-2-7b'))).toEqual({
      ...llama,
      vocab_size: 32000,
      context_length: 4096,
      num_layers: 32,
      d_model: 4096,
      num_heads: 32,
      num_kv_heads: 32,
      d_ff: 11008,
      rope_theta: 10000,
    });
  });

  it('llama-3-8b (meta-llama/Meta-Llama-3-8B config.json)', () => {
    expect(shape(loadModelConfig('llama-3-8b'))).toEqual({
      ...llama,
      vocab_size: 128256,
      context_length: 8192,
      num_layers: 32,
      d_model: 4096,
      num_heads: 32,
      num_kv_heads: 8,
      d_ff: 14336,
      rope_theta: 500000,
    });
  });

  it('mistral-7b (Jiang et al. 2023; mistralai/Mistral-7B-v0.1 config.json; its sliding window changes no count)', () => {
    expect(shape(loadModelConfig('mistral-7b'))).toEqual({
      ...llama,
      vocab_size: 32000,
      context_length: 32768,
      num_layers: 32,
      d_model: 4096,
      num_heads: 32,
      num_kv_heads: 8,
      d_ff: 14336,
      rope_theta: 10000,
    });
  });

  it('tinyllama-1.1b (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json)', () => {
    expect(shape(loadModelConfig('tinyllama-1.1b'))).toEqual({
      ...llama,
      vocab_size: 32000,
      context_length: 2048,
      num_layers: 22,
      d_model: 2048,
      num_heads: 32,
      num_kv_heads: 4,
      d_ff: 5632,
      rope_theta: 10000,
    });
  });

  it('are listed smallest first by d_model * num_layers, ties by name', () => {
    // d * L: tiny 128; small 9,216; qwen2.5-0.5b 21,504; medium 24,576; tinyllama 45,056; large 46,080;
    // gemma-2-2b 59,904; xl 76,800; phi-3 98,304; qwen2.5-7b 100,352; the Llama and Mistral 7-8B models 131,072;
    // qwen3-8b 147,456; gemma-2-9b 150,528; llama-3.1-70b 655,360; llama-3.1-405b 2,064,384.
    expect(listPresets()).toEqual([
      'tiny',
      'gpt2-original-small',
      'gpt2-small',
      'qwen2.5-0.5b',
      'gpt2-medium',
      'gpt2-original-medium',
      'tinyllama-1.1b',
      'gpt2-large',
      'gpt2-original-large',
      'qwen1.5-moe-a2.7b',
      'deepseek-v2-lite',
      'gemma-2-2b',
      'gpt2-original-xl',
      'gpt2-xl',
      'phi-3-mini-4k',
      'qwen3-30b-a3b',
      'qwen2.5-7b',
      'llama-2-7b',
      'llama-3-8b',
      'llama-3.1-8b',
      'mistral-7b',
      'mixtral-8x7b',
      'qwen3-8b',
      'gemma-2-9b',
      'deepseek-v2',
      'deepseek-v3',
      'llama-3.1-70b',
      'llama-3.1-405b',
    ]);
  });

  it("a near miss of a new preset's name is suggested", () => {
    expect(inputError(() => loadModelConfig('llama-7b')).message).toMatch(
      /^unknown model "llama-7b": did you mean "llama-2-7b"\?/,
    );
    expect(inputError(() => loadModelConfig('mistral7b')).message).toMatch(
      /^unknown model "mistral7b": did you mean "mistral-7b"\?/,
    );
  });
});
