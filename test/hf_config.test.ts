/**
 * Hugging Face config.json files read as they are. The fixtures in test/fixtures/hf/ hold the hub
 * configs of gpt2 (openai-community/gpt2), meta-llama/Llama-2-7b-hf, meta-llama/Meta-Llama-3-8B,
 * mistralai/Mistral-7B-v0.1 and TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T with their
 * usual bookkeeping keys. Each must describe exactly the model of its preset; keys that change no
 * count are named as ignored, any other as not understood, and both reach stderr as notes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  architectureOf,
  loadModelConfig,
  loadModelConfigFile,
  parseHuggingFaceConfig,
  type ModelConfig,
} from '../src/config/index.js';
import { cli } from './helpers/cli_runner.js';
import { inputErrorWithoutStack as inputError } from './helpers/input_error.js';

const FIXTURES = 'test/fixtures/hf';
const fixture = (file: string) => `${FIXTURES}/${file}`;
const fixtureJson = (file: string) => JSON.parse(readFileSync(fixture(file), 'utf8')) as Record<string, unknown>;

const scratch = mkdtempSync(join(tmpdir(), 'flopledger-hf-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let fileCount = 0;
/** Write `contents` as `dir/fileName` under the scratch dir; the path relative to the cwd, as a user types it. */
function writeJson(contents: unknown, fileName = 'config.json', dir = `case_${fileCount++}`): string {
  mkdirSync(join(scratch, dir), { recursive: true });
  const file = join(scratch, dir, fileName);
  writeFileSync(file, JSON.stringify(contents, null, 2));
  return relative(process.cwd(), file);
}

/** Every dimension and architecture choice, defaults resolved, so files that say the same thing compare equal. */
function shape(config: ModelConfig) {
  const { vocab_size, context_length, num_layers, d_model, num_heads, d_ff } = config;
  return { vocab_size, context_length, num_layers, d_model, num_heads, d_ff, ...architectureOf(config) };
}

/** One of the fixtures with keys replaced (undefined removes one), read from memory as "config.json". */
function readEdited(file: string, changes: Record<string, unknown>): ModelConfig {
  const raw = { ...fixtureJson(file), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete raw[key];
  return parseHuggingFaceConfig(raw, 'config.json', 'edited');
}

function problemsOf(file: string, changes: Record<string, unknown>): readonly string[] {
  return inputError(() => readEdited(file, changes)).problems;
}

describe('the hub configs', () => {
  it.each([
    ['gpt2.json', 'gpt2-original-small'],
    ['Llama-2-7b-hf.json', 'llama-2-7b'],
    ['Meta-Llama-3-8B.json', 'llama-3-8b'],
    ['Mistral-7B-v0.1.json', 'mistral-7b'],
    ['TinyLlama-1.1B-intermediate-step-1431k-3T.json', 'tinyllama-1.1b'],
  ])('%s describes exactly the preset %s', (file, preset) => {
    const config = loadModelConfig(fixture(file));
    expect(shape(config)).toEqual(shape(loadModelConfig(preset)));
    expect(config.name).toBe(file.replace(/\.json$/, ''));
    expect(config.source).toBe(fixture(file));
  });

  it('name the keys that change no count, with a remark where leaving them out simplifies the model', () => {
    const ignored = (file: string) => loadModelConfig(fixture(file)).notes;
    expect(ignored('gpt2.json')).toEqual([
      `${fixture('gpt2.json')}: ignored (no effect on counts): architectures, attn_pdrop, bos_token_id, embd_pdrop, ` +
        'eos_token_id, initializer_range, layer_norm_epsilon, resid_pdrop, summary_activation, summary_first_dropout, ' +
        'summary_proj_to_labels, summary_type, summary_use_proj, task_specific_params',
    ]);
    expect(ignored('Mistral-7B-v0.1.json')).toEqual([
      `${fixture('Mistral-7B-v0.1.json')}: ignored (no effect on counts): architectures, bos_token_id, eos_token_id, ` +
        'initializer_range, rms_norm_eps, sliding_window (dense attention counted), torch_dtype, transformers_version, use_cache',
    ]);
    // rope_scaling is null here: nothing is left out, so no remark.
    expect(ignored('Meta-Llama-3-8B.json')).toEqual([
      `${fixture('Meta-Llama-3-8B.json')}: ignored (no effect on counts): architectures, attention_dropout, bos_token_id, ` +
        'eos_token_id, initializer_range, pretraining_tp, rms_norm_eps, rope_scaling, torch_dtype, transformers_version, use_cache',
    ]);
  });

  it('name a key not understood, apart from the ignored ones', () => {
    const config = readEdited('Meta-Llama-3-8B.json', {
      rope_scaling: { type: 'llama3', factor: 8.0 },
      num_experts: 8,
      quantization_config: { bits: 4 },
    });
    expect(config.notes).toEqual([
      'config.json: ignored (no effect on counts): architectures, attention_dropout, bos_token_id, eos_token_id, ' +
        'initializer_range, pretraining_tp, rms_norm_eps, rope_scaling (not modelled), torch_dtype, transformers_version, use_cache',
      'config.json: not understood: num_experts, quantization_config; the counts leave them out, so check the model has nothing they add',
    ]);
  });
});

describe('translation', () => {
  it("takes transformers' defaults for absent or null keys", () => {
    // LlamaConfig: num_key_value_heads None = multi-head; tie_word_embeddings False; hidden_act "silu"; rope_theta 10000.
    const llama = readEdited('Meta-Llama-3-8B.json', {
      num_key_value_heads: null,
      tie_word_embeddings: undefined,
      hidden_act: undefined,
      rope_theta: undefined,
      attention_bias: undefined,
    });
    expect(architectureOf(llama)).toMatchObject({
      num_kv_heads: 32,
      tie_embeddings: false,
      ffn: 'swiglu',
      rope_theta: 10000,
      bias: false,
    });
    // GPT2Config: n_inner None = 4 * n_embd; tie_word_embeddings True; activation "gelu_new".
    const gpt2 = readEdited('gpt2.json', { n_inner: null, activation_function: undefined });
    expect(gpt2.d_ff).toBe(4 * 768);
    expect(architectureOf(gpt2)).toMatchObject({
      tie_embeddings: true,
      ffn: 'gelu',
      norm: 'layernorm',
      positions: 'learned',
      bias: true,
    });
  });

  it('reads what the file sets over the defaults', () => {
    expect(readEdited('gpt2.json', { n_inner: 1000, tie_word_embeddings: false })).toMatchObject({
      d_ff: 1000,
      tie_embeddings: false,
    });
    expect(readEdited('gpt2.json', { activation_function: 'gelu_pytorch_tanh' }).ffn).toBe('gelu');
    expect(readEdited('Meta-Llama-3-8B.json', { attention_bias: true }).bias).toBe(true);
    expect(readEdited('Meta-Llama-3-8B.json', { mlp_bias: false }).bias).toBe(false);
    expect(readEdited('Meta-Llama-3-8B.json', { head_dim: 128 }).d_model).toBe(4096);
    // Older GPT-2 configs give only n_ctx.
    expect(readEdited('gpt2.json', { n_positions: undefined, n_ctx: 2048 }).context_length).toBe(2048);
  });

  it('names a downloaded config.json after its directory', () => {
    const path = writeJson(
      fixtureJson('TinyLlama-1.1B-intermediate-step-1431k-3T.json'),
      'config.json',
      'TinyLlama-1.1B',
    );
    expect(loadModelConfig(path).name).toBe('TinyLlama-1.1B');
  });

  it('reads --config files whatever their name', () => {
    const path = writeJson(fixtureJson('gpt2.json'), 'gpt2-config');
    expect(loadModelConfigFile(path)).toMatchObject({ name: 'gpt2-config', d_model: 768, positions: 'learned' });
    expect(loadModelConfigFile('models/tiny.json', { num_layers: 3 })).toMatchObject({
      name: 'tiny',
      num_layers: 3,
      variant: 'layers=3',
    });
  });

  it('keeps its notes through override flags', () => {
    const config = loadModelConfigFile(fixture('Mistral-7B-v0.1.json'), { num_kv_heads: 1 });
    expect(config).toMatchObject({ num_kv_heads: 1, variant: 'kv_heads=1', source: fixture('Mistral-7B-v0.1.json') });
    expect(config.notes).toEqual(loadModelConfig(fixture('Mistral-7B-v0.1.json')).notes);
  });
});

describe("refusals, one line each under the file's own key names", () => {
  it('an unknown model_type, listing the supported ones', () => {
    const path = writeJson({ ...fixtureJson('gpt2.json'), model_type: 'bert' });
    expect(inputError(() => loadModelConfig(path)).problems).toEqual([
      `${path}: model_type "bert" is not supported; flopledger reads Hugging Face configs with model_type llama, mistral ` +
        'or gpt2, or a flopledger config (see `flopledger models` and models/*.json)',
    ]);
    expect(inputError(() => parseHuggingFaceConfig({ model_type: null }, 'c.json', 'c')).message).toMatch(
      /^c\.json: model_type null is not supported/,
    );
  });

  const refusals: [string, string, Record<string, unknown>, string][] = [
    [
      'kv heads that do not divide the heads',
      'Meta-Llama-3-8B.json',
      { num_key_value_heads: 3 },
      'num_key_value_heads (3) must divide num_attention_heads (32); e.g. 1, 2, 4, 8, 16 or 32',
    ],
    [
      'a missing width',
      'Llama-2-7b-hf.json',
      { hidden_size: undefined },
      'hidden_size (missing) must be a positive integer; fix: add it, e.g. "hidden_size": 768',
    ],
    [
      'a quoted layer count',
      'gpt2.json',
      { n_layer: '12' },
      'n_layer ("12") must be a positive integer; fix: write 12 without quotes',
    ],
    [
      'a quoted switch',
      'Mistral-7B-v0.1.json',
      { tie_word_embeddings: 'false' },
      'tie_word_embeddings ("false") must be true or false; fix: write false without quotes',
    ],
    [
      // 4096 / 3 is no whole width; 4096's divisors nearest 3 with an even width are 2 and 4.
      'heads that do not split the width',
      'Meta-Llama-3-8B.json',
      { num_attention_heads: 3, num_key_value_heads: 1 },
      'hidden_size (4096) must be divisible by num_attention_heads (3); choose num_attention_heads that divides hidden_size ' +
        'into an even head dim, e.g. 2 or 4, or make hidden_size a multiple of 2 * num_attention_heads = 6, e.g. 4092 or 4098',
    ],
    [
      'an activation other than SiLU',
      'Llama-2-7b-hf.json',
      { hidden_act: 'gelu' },
      'hidden_act ("gelu") is not supported: flopledger\'s SwiGLU MLP gates with SiLU; fix: use "silu" or "swish" (absent means "silu")',
    ],
    [
      'a GPT-2 activation other than GELU',
      'gpt2.json',
      { activation_function: 'relu' },
      'activation_function ("relu") is not supported: flopledger\'s two-matrix MLP applies GELU; fix: use "gelu_new" or "gelu" or "gelu_pytorch_tanh" (absent means "gelu_new")',
    ],
    [
      'bias switches that disagree',
      'Meta-Llama-3-8B.json',
      { attention_bias: true, mlp_bias: false },
      'attention_bias (true) and mlp_bias (false) differ; flopledger has one bias switch for every linear layer, so it cannot ' +
        'count this model exactly; fix: set both to the same value',
    ],
    [
      'a bias switch that is not a boolean',
      'Meta-Llama-3-8B.json',
      { attention_bias: 'no' },
      'attention_bias ("no") must be true or false; fix: use true or false',
    ],
    [
      'a head_dim the width does not give',
      'Meta-Llama-3-8B.json',
      { head_dim: 256 },
      "head_dim (256) differs from hidden_size / num_attention_heads (4096 / 32 = 128); flopledger's heads split hidden_size " +
        'exactly, so it cannot count this model; fix: set head_dim to 128 or remove it',
    ],
    [
      'two context lengths',
      'gpt2.json',
      { n_ctx: 2048 },
      'n_ctx (2048) and n_positions (1024) differ; the position table has n_positions rows and flopledger counts one context ' +
        'length; fix: remove n_ctx or set it to n_positions',
    ],
    [
      'a zero RoPE base',
      'Mistral-7B-v0.1.json',
      { rope_theta: 0 },
      'rope_theta (0) must be a positive number; fix: use e.g. 10000 (the RoPE paper and Llama 2) or 500000 (Llama 3)',
    ],
  ];
  it.each(refusals)('%s', (_, file, changes, expected) => {
    expect(problemsOf(file, changes)).toEqual([`config.json: ${expected}`]);
  });

  it('every problem at once', () => {
    expect(problemsOf('gpt2.json', { n_embd: 0, activation_function: 'swish' })).toEqual([
      'config.json: activation_function ("swish") is not supported: flopledger\'s two-matrix MLP applies GELU; fix: use "gelu_new" or "gelu" or "gelu_pytorch_tanh" (absent means "gelu_new")',
      'config.json: n_embd (0) must be a positive integer; fix: use a value of at least 1, e.g. 768',
      // With no valid width there is no 4 * n_embd to default to.
      'config.json: n_inner (missing) must be a positive integer; fix: add it, e.g. "n_inner": 3072',
    ]);
  });
});

describe('on the command line', () => {
  it('--config reads a hub config in place of <model>: JSON on stdout, one note per line on stderr', async () => {
    const path = fixture('Mistral-7B-v0.1.json');
    const { code, stdout, stderr } = await cli('params', '--config', path, '--format', 'json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout).model).toMatchObject({
      name: 'Mistral-7B-v0.1',
      source: path,
      d_model: 4096,
      context_length: 32768,
    });
    expect(stderr).toBe(
      `flopledger: note: ${path}: ignored (no effect on counts): architectures, bos_token_id, eos_token_id, initializer_range, ` +
        'rms_norm_eps, sliding_window (dense attention counted), torch_dtype, transformers_version, use_cache\n',
    );
  });

  it('prints the not-understood keys as a second note', async () => {
    const path = writeJson({ ...fixtureJson('gpt2.json'), add_cross_attention: true });
    const { code, stderr } = await cli('memory', '--config', path);
    expect(code).toBe(0);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^flopledger: note: ${path.replace(/[.\\]/g, '\\$&')}: ignored \\(no effect on counts\\): architectures, `,
      ),
    );
    expect(lines[1]).toBe(
      `flopledger: note: ${path}: not understood: add_cross_attention; the counts leave it out, so check the model has nothing they add`,
    );
  });

  it('a hub config also works as the <model> argument, and takes the variant flags', async () => {
    const { code, stdout } = await cli(
      'flops',
      fixture('Meta-Llama-3-8B.json'),
      '--kv-heads',
      '1',
      '--seq',
      '128',
      '--format',
      'json',
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).model).toMatchObject({ name: 'Meta-Llama-3-8B', variant: 'kv_heads=1' });
  });

  it('every model command accepts --config in place of <model>', async () => {
    const commands: string[][] = [
      ['params'],
      ['memory'],
      ['flops'],
      ['sweep', '--seq', '16,32'],
      ['train', '--batch', '2', '--seq', '16'],
      ['trace', '--backend', 'meta', '--seq', '16'],
      ['verify', '--backend', 'meta', '--seq', '16'],
    ];
    for (const [command, ...flags] of commands) {
      const { code, stdout, stderr } = await cli(
        command as string,
        '--config',
        'models/tiny.json',
        ...flags,
        '--format',
        'json',
      );
      expect({ command, code, stderr }).toEqual({ command, code: 0, stderr: '' });
      expect(JSON.parse(stdout).model).toMatchObject({ name: 'tiny', source: 'models/tiny.json' });
    }
  });

  it('compare reads the --config file first, then its arguments', async () => {
    const { code, stdout, stderr } = await cli(
      'compare',
      'tiny',
      '--config',
      fixture('gpt2.json'),
      '--seq',
      '64',
      '--format',
      'json',
    );
    expect(code).toBe(0);
    expect(stderr).toMatch(/^flopledger: note: test\/fixtures\/hf\/gpt2\.json: ignored/);
    expect(JSON.parse(stdout).models.map((entry: { model: { name: string } }) => entry.model.name)).toEqual([
      'gpt2',
      'tiny',
    ]);
  });

  const usage: [string, string[], string][] = [
    [
      'neither a model nor --config',
      ['params'],
      "flopledger: missing required argument 'model' (see flopledger params --help)",
    ],
    [
      'both a model and --config',
      ['flops', 'gpt2-small', '--config', 'models/tiny.json'],
      'flopledger: the model is named twice, as "gpt2-small" and by --config models/tiny.json; give only one (see flopledger flops --help)',
    ],
    [
      'compare with neither',
      ['compare'],
      "flopledger: missing required argument 'models' (see flopledger compare --help)",
    ],
    [
      '--config that does not exist',
      ['params', '--config', 'nowhere/config.json'],
      'flopledger: nowhere/config.json: file not found; check the path, or use a preset: ',
    ],
    [
      'an unsupported model_type',
      ['params', '--config', 'MODEL_TYPE_BERT'],
      'flopledger: MODEL_TYPE_BERT: model_type "bert" is not supported; flopledger reads Hugging Face configs with model_type llama, mistral or gpt2',
    ],
  ];
  it.each(usage)('%s: one line, exit 2', async (_, argv, line) => {
    const bert = writeJson({ model_type: 'bert', hidden_size: 768 });
    const { code, stdout, stderr } = await cli(...argv.map((arg) => (arg === 'MODEL_TYPE_BERT' ? bert : arg)));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.split('\n')).toHaveLength(2);
    expect(stderr.startsWith(line.replace('MODEL_TYPE_BERT', bert))).toBe(true);
  });
});
