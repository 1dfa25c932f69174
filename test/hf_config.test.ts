/**
 * Hugging Face config.json files read as the transformers model classes read them. The fixtures
 * in test/fixtures/hf/ hold the hub configs of gpt2 (openai-community/gpt2),
 * meta-llama/Llama-2-7b-hf, meta-llama/Meta-Llama-3-8B, mistralai/Mistral-7B-v0.1 and
 * TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T with their usual bookkeeping keys. Each must
 * describe exactly the model of its preset; the defaults taken for keys a file leaves out, the
 * keys that change no count and the keys not understood reach stderr as notes; keys that add a
 * component flopledger does not model are refused.
 *
 * Each test of a key cites the transformers source it follows: the config class's signature
 * (transformers/models/<type>/configuration_<type>.py) for defaults, and the model class
 * (modeling_<type>.py, or modular_mistral.py) for what builds a weight.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/core/errors.js';
import { summarizeParameters } from '../src/analytic/parameters.js';
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
const fixtureText = (file: string) => readFileSync(fixture(file), 'utf8');
const fixtureJson = (file: string) => JSON.parse(fixtureText(file)) as Record<string, unknown>;

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
function writeText(text: string): string {
  const dir = join(scratch, `case_${fileCount++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), text);
  return relative(process.cwd(), join(dir, 'config.json'));
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

  it('count the published parameters: Llama-3-8B 8,030,261,248, GPT-2 124,439,808', () => {
    // Llama-3-8B: 2 x 128256 x 4096 (untied) + 32 x (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336
    // + 2 x 4096) + 4096; the model card's "8B", and the sum of the checkpoint's tensor sizes.
    expect(summarizeParameters(loadModelConfig(fixture('Meta-Llama-3-8B.json'))).total).toBe(8_030_261_248n);
    // GPT-2 small: 124,439,808, the count of the openai-community/gpt2 checkpoint (tied lm_head).
    expect(summarizeParameters(loadModelConfig(fixture('gpt2.json'))).total).toBe(124_439_808n);
  });

  it('name the defaults taken, the keys that change no count, with a remark where leaving them out simplifies', () => {
    const notes = (file: string) => loadModelConfig(fixture(file)).notes;
    expect(notes('gpt2.json')).toEqual([
      // GPT2Config(n_inner=None) -> GPT2MLP uses 4 * hidden_size; tie_word_embeddings is
      // PretrainedConfig's True, which GPT2Config does not override.
      `${fixture('gpt2.json')}: not in the file, so GPT2Config's defaults (as transformers reads it): ` +
        'n_inner 3072 (4 * n_embd), tie_word_embeddings true',
      `${fixture('gpt2.json')}: ignored (no effect on counts): architectures, attn_pdrop, bos_token_id, embd_pdrop, ` +
        'eos_token_id, initializer_range, layer_norm_epsilon, n_ctx, resid_pdrop, summary_activation, summary_first_dropout, ' +
        'summary_proj_to_labels, summary_type, summary_use_proj, task_specific_params',
    ]);
    expect(notes('Mistral-7B-v0.1.json')).toEqual([
      // MistralConfig(head_dim=None) -> hidden_size // num_attention_heads.
      `${fixture('Mistral-7B-v0.1.json')}: not in the file, so MistralConfig's defaults (as transformers reads it): ` +
        'head_dim 128 (hidden_size / num_attention_heads)',
      // sliding_window is read: the window of every layer (test/windows_config.test.ts).
      `${fixture('Mistral-7B-v0.1.json')}: ignored (no effect on counts): architectures, bos_token_id, eos_token_id, ` +
        'initializer_range, rms_norm_eps, torch_dtype, transformers_version, use_cache',
    ]);
    // LlamaConfig: mlp_bias=False, head_dim=None (hidden_size // num_attention_heads); rope_scaling
    // is null here: nothing is left out, so no remark.
    expect(notes('Meta-Llama-3-8B.json')).toEqual([
      `${fixture('Meta-Llama-3-8B.json')}: not in the file, so LlamaConfig's defaults (as transformers reads it): ` +
        'mlp_bias false, head_dim 128 (hidden_size / num_attention_heads)',
      `${fixture('Meta-Llama-3-8B.json')}: ignored (no effect on counts): architectures, attention_dropout, bos_token_id, ` +
        'eos_token_id, initializer_range, pretraining_tp, rms_norm_eps, rope_scaling, torch_dtype, transformers_version, use_cache',
    ]);
    // Llama-2's config predates rope_theta, attention_bias, mlp_bias and head_dim.
    expect(notes('Llama-2-7b-hf.json')?.[0]).toBe(
      `${fixture('Llama-2-7b-hf.json')}: not in the file, so LlamaConfig's defaults (as transformers reads it): ` +
        'rope_theta 10000, attention_bias false, mlp_bias false, head_dim 128 (hidden_size / num_attention_heads)',
    );
  });

  it('name a key not understood, apart from the ignored ones', () => {
    const config = readEdited('Meta-Llama-3-8B.json', {
      rope_scaling: { type: 'llama3', factor: 8.0 },
      quantization_config: { bits: 4 },
      '\u001b[31mred': 1,
    });
    expect(config.notes?.slice(1)).toEqual([
      'config.json: ignored (no effect on counts): architectures, attention_dropout, bos_token_id, eos_token_id, ' +
        'initializer_range, pretraining_tp, rms_norm_eps, rope_scaling (not modelled), torch_dtype, transformers_version, use_cache',
      // The escape sequence in a key is shown escaped, never sent to the terminal.
      'config.json: not understood: quantization_config, \\u001b[31mred; the counts leave them out, so check the model has nothing they add',
    ]);
  });
});

describe('each key read as transformers reads it', () => {
  const llama3 = 'Meta-Llama-3-8B.json';

  it('attention_bias alone: biases on q, k, v and o_proj, none on the MLP (LlamaConfig.mlp_bias defaults to False)', () => {
    // transformers/models/llama/configuration_llama.py LlamaConfig: attention_bias=False, mlp_bias=False;
    // modeling_llama.py LlamaAttention: q/k/v/o_proj bias=config.attention_bias; LlamaMLP:
    // gate/up/down_proj bias=config.mlp_bias. Biases per layer: q 4096 + k 1024 + v 1024 + o 4096 = 10,240.
    const config = readEdited(llama3, { attention_bias: true });
    expect(config).toMatchObject({ qkv_bias: true, output_bias: true, mlp_bias: false });
    expect(config.bias).toBeUndefined();
    expect(summarizeParameters(config).total).toBe(8_030_261_248n + 32n * 10_240n);
  });

  it('mlp_bias alone: biases on gate, up and down_proj only (LlamaConfig.attention_bias defaults to False)', () => {
    // configuration_llama.py LlamaConfig: attention_bias=False. Biases per layer: 14336 + 14336 + 4096 = 32,768.
    const config = readEdited(llama3, { attention_bias: undefined, mlp_bias: true });
    expect(config).toMatchObject({ qkv_bias: false, output_bias: false, mlp_bias: true });
    expect(summarizeParameters(config).total).toBe(8_030_261_248n + 32n * 32_768n);
  });

  it('attention_bias and mlp_bias both true: biases on all seven projections of each layer', () => {
    // modeling_llama.py: q (4096), k (1024), v (1024), o (4096), gate (14336), up (14336), down (4096)
    // biases per layer: 43,008; x 32 layers = 1,376,256 more than the published 8,030,261,248.
    const config = readEdited(llama3, { attention_bias: true, mlp_bias: true });
    expect(architectureOf(config).bias).toBe(true);
    expect(summarizeParameters(config).total).toBe(8_030_261_248n + 32n * 43_008n);
    expect(architectureOf(readEdited(llama3, { attention_bias: false, mlp_bias: false })).bias).toBe(false);
  });

  it('attention_bias and mlp_bias in a mistral config: ignored, MistralModel builds no biases', () => {
    // transformers/models/mistral/modular_mistral.py MistralAttention and MistralMLP build every
    // projection with bias=False; MistralConfig defines neither key.
    const config = readEdited('Mistral-7B-v0.1.json', { attention_bias: true, mlp_bias: true });
    expect(architectureOf(config).bias).toBe(false);
    expect(config.notes?.[1]).toMatch(
      /, attention_bias \(MistralModel builds no biases\), mlp_bias \(MistralModel builds no biases\)$/,
    );
  });

  it('head_dim equal to hidden_size / num_attention_heads: accepted', () => {
    // configuration_llama.py LlamaConfig.head_dim=None -> hidden_size // num_attention_heads; Llama-3.1 configs write it out.
    expect(readEdited(llama3, { head_dim: 128 })).toMatchObject({ d_model: 4096, num_heads: 32 });
    expect(readEdited('Mistral-7B-v0.1.json', { head_dim: 128 }).notes?.[0]).toMatch(/^config\.json: ignored/);
  });

  it('head_dim of its own (Gemma, Qwen3, Mistral-Nemo): counted as num_attention_heads * head_dim, never hidden_size', () => {
    // modular_mistral.py MistralAttention: q_proj = Linear(hidden_size, num_attention_heads * head_dim),
    // o_proj = Linear(num_attention_heads * head_dim, hidden_size). Mistral-Nemo: hidden 5120, 32 heads of 128,
    // 8 key/value heads: per layer q 5120 x 4096, k and v 5120 x 1024, o 4096 x 5120.
    const nemo = readEdited('Mistral-7B-v0.1.json', { hidden_size: 5120, head_dim: 128 });
    expect(architectureOf(nemo)).toMatchObject({ head_dim: 128, q_dim: 4096, kv_dim: 1024 });
    const attention = summarizeParameters(nemo).byComponent.attention;
    expect(attention).toBe(32n * (5120n * 4096n + 2n * 5120n * 1024n + 4096n * 5120n));
    expect(problemsOf(llama3, { head_dim: 0 })).toEqual([
      'config.json: head_dim (0) must be a positive integer; fix: remove it (it defaults to hidden_size / num_attention_heads)',
    ]);
    expect(problemsOf(llama3, { head_dim: 127 })).toEqual([
      'config.json: head_dim (127) must be even because RoPE rotates pairs of features; fix: use 126 or 128',
    ]);
  });

  it('num_key_value_heads: absent is num_attention_heads for Llama, 8 for Mistral; null is num_attention_heads', () => {
    // configuration_llama.py LlamaConfig: num_key_value_heads=None -> num_attention_heads.
    expect(architectureOf(readEdited(llama3, { num_key_value_heads: undefined })).num_kv_heads).toBe(32);
    expect(readEdited(llama3, { num_key_value_heads: null }).notes?.[0]).toContain(
      'num_key_value_heads 32 (num_attention_heads)',
    );
    // configuration_mistral.py MistralConfig: num_key_value_heads=8; None -> num_attention_heads.
    const mistral = readEdited('Mistral-7B-v0.1.json', { num_key_value_heads: undefined });
    expect(architectureOf(mistral).num_kv_heads).toBe(8);
    expect(mistral.notes?.[0]).toContain('num_key_value_heads 8');
    expect(architectureOf(readEdited('Mistral-7B-v0.1.json', { num_key_value_heads: null })).num_kv_heads).toBe(32);
  });

  it('the dimensions: absent keys take the config class defaults, each named', () => {
    // LlamaConfig: vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    // num_attention_heads=32, max_position_embeddings=2048.
    const llama = parseHuggingFaceConfig({ model_type: 'llama' }, 'config.json', 'bare');
    expect(llama).toMatchObject({
      vocab_size: 32000,
      d_model: 4096,
      d_ff: 11008,
      num_layers: 32,
      num_heads: 32,
      context_length: 2048,
    });
    expect(llama.notes?.[0]).toBe(
      "config.json: not in the file, so LlamaConfig's defaults (as transformers reads it): vocab_size 32000, " +
        'max_position_embeddings 2048, num_hidden_layers 32, hidden_size 4096, num_attention_heads 32, ' +
        'intermediate_size 11008, num_key_value_heads 32 (num_attention_heads), tie_word_embeddings false, ' +
        'rope_theta 10000, hidden_act "silu", attention_bias false, mlp_bias false, ' +
        'head_dim 128 (hidden_size / num_attention_heads)',
    );
    // MistralConfig: intermediate_size=14336, max_position_embeddings=4096*32.
    expect(parseHuggingFaceConfig({ model_type: 'mistral' }, 'c.json', 'bare')).toMatchObject({
      d_ff: 14336,
      context_length: 131072,
      num_kv_heads: 8,
    });
    // GPT2Config: vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12.
    expect(parseHuggingFaceConfig({ model_type: 'gpt2' }, 'c.json', 'bare')).toMatchObject({
      vocab_size: 50257,
      context_length: 1024,
      d_model: 768,
      num_layers: 12,
      num_heads: 12,
      d_ff: 3072,
      tie_embeddings: true,
    });
  });

  it('tie_word_embeddings: false for Llama and Mistral, true for GPT-2 when absent', () => {
    // LlamaConfig and MistralConfig: tie_word_embeddings=False; GPT2Config does not set it, so
    // PretrainedConfig's tie_word_embeddings=True applies (configuration_utils.py).
    const untied = (file: string) =>
      architectureOf(readEdited(file, { tie_word_embeddings: undefined })).tie_embeddings;
    expect(untied(llama3)).toBe(false);
    expect(untied('Mistral-7B-v0.1.json')).toBe(false);
    expect(untied('gpt2.json')).toBe(true);
    expect(readEdited(llama3, { tie_word_embeddings: undefined }).notes?.[0]).toContain('tie_word_embeddings false');
    expect(readEdited('gpt2.json', { tie_word_embeddings: false }).tie_embeddings).toBe(false);
  });

  it('n_positions sizes the context; n_ctx is not read', () => {
    // GPT2Config has n_positions=1024 and no n_ctx; GPT2Model: wpe = Embedding(max_position_embeddings
    // (= n_positions by attribute_map), embed_dim). A config with only n_ctx gets 1024 positions.
    const onlyCtx = readEdited('gpt2.json', { n_positions: undefined, n_ctx: 2048 });
    expect(onlyCtx.context_length).toBe(1024);
    expect(onlyCtx.notes?.[0]).toContain('n_positions 1024');
    expect(onlyCtx.notes?.[1]).toContain("n_ctx (not read: GPT2Model's position table has n_positions (1024) rows)");
    expect(readEdited('gpt2.json', { n_ctx: 2048 }).context_length).toBe(1024);
    expect(readEdited('gpt2.json', { n_positions: 2048, n_ctx: undefined }).context_length).toBe(2048);
  });

  it("GPT-2's other names (attribute_map): hidden_size for n_embd and the like", () => {
    // configuration_gpt2.py GPT2Config.attribute_map: hidden_size -> n_embd, max_position_embeddings
    // -> n_positions, num_attention_heads -> n_head, num_hidden_layers -> n_layer.
    const config = readEdited('gpt2.json', {
      n_embd: undefined,
      n_head: undefined,
      hidden_size: 1024,
      num_attention_heads: 16,
    });
    expect(config).toMatchObject({ d_model: 1024, num_heads: 16, d_ff: 4096 });
    expect(problemsOf('gpt2.json', { hidden_size: 1024 })).toEqual([
      'config.json: n_embd (768) and hidden_size (1024) disagree; GPT2Config reads hidden_size as another name for ' +
        'n_embd, so the file says two things; fix: keep only n_embd',
    ]);
  });

  it('n_inner: None is 4 * n_embd', () => {
    // configuration_gpt2.py: n_inner=None; modeling_gpt2.py GPT2Block: inner_dim = n_inner if not None else 4 * hidden_size.
    expect(readEdited('gpt2.json', { n_inner: null }).d_ff).toBe(3072);
    expect(readEdited('gpt2.json', { n_inner: 1000 }).d_ff).toBe(1000);
  });

  it('rope_parameters.rope_theta (transformers 5) or rope_theta, else 10000', () => {
    // LlamaConfig(rope_parameters=...) in transformers 5 carries the base; rope_theta=10000.0 before.
    expect(
      readEdited(llama3, { rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } })
        .rope_theta,
    ).toBe(5e5);
    expect(architectureOf(readEdited(llama3, { rope_theta: undefined })).rope_theta).toBe(10000);
  });

  it('hidden_act and activation_function', () => {
    // LlamaConfig.hidden_act="silu"; GPT2Config.activation_function="gelu_new".
    expect(readEdited('gpt2.json', { activation_function: 'gelu_pytorch_tanh' }).ffn).toBe('gelu');
    expect(readEdited(llama3, { hidden_act: 'swish' }).ffn).toBe('swiglu');
  });
});

describe('keys that add what flopledger does not model: refused, one line each', () => {
  const refusals: [string, string, Record<string, unknown>, string][] = [
    // Mixtral's key; MistralModel would not read it and build a dense model, which is not what the file describes.
    [
      'experts in a mistral config',
      'Mistral-7B-v0.1.json',
      { num_local_experts: 8 },
      'num_local_experts (8) adds mixture-of-experts layers',
    ],
    [
      'Qwen-MoE experts',
      'Meta-Llama-3-8B.json',
      { num_experts: 60 },
      'num_experts (60) adds mixture-of-experts layers',
    ],
    [
      'DeepSeek routed experts',
      'Meta-Llama-3-8B.json',
      { n_routed_experts: 64 },
      'n_routed_experts (64) adds mixture-of-experts layers',
    ],
    [
      'latent attention',
      'Meta-Llama-3-8B.json',
      { kv_lora_rank: 512 },
      'kv_lora_rank (512) adds multi-head latent attention',
    ],
    // modeling_gpt2.py GPT2Block: if config.add_cross_attention: crossattention and ln_cross_attn.
    [
      'cross-attention',
      'gpt2.json',
      { add_cross_attention: true },
      'add_cross_attention (true) adds cross-attention in every block',
    ],
  ];
  it.each(refusals)('%s', (_, file, changes, expected) => {
    const [type] = Object.values({ model_type: fixtureJson(file)['model_type'] });
    const readElsewhere = /^(num_local_experts|num_experts|n_routed_experts) /.test(expected);
    expect(problemsOf(file, changes)).toEqual([
      readElsewhere
        ? `config.json: ${expected}, which model_type "${String(type)}" does not build; counting the rest would ` +
          'describe another model, so the file is refused (fix: the model_type that builds them, "mixtral", ' +
          '"qwen2_moe", "qwen3_moe", "deepseek_v2" or "deepseek_v3", or remove the key)'
        : `config.json: ${expected}, which flopledger does not model; counting the rest would describe another model, ` +
          'so the file is refused (if the model has none, remove the key)',
    ]);
  });

  it('unset, they change nothing: 0, false, null, an empty list', () => {
    expect(readEdited('gpt2.json', { add_cross_attention: false, num_experts: 0, mlp_only_layers: [] }).d_model).toBe(
      768,
    );
    expect(readEdited('Mistral-7B-v0.1.json', { num_local_experts: null }).d_model).toBe(4096);
  });
});

describe('translation', () => {
  it('reads what the file sets over the defaults', () => {
    expect(readEdited('gpt2.json', { n_inner: 1000, tie_word_embeddings: false })).toMatchObject({
      d_ff: 1000,
      tie_embeddings: false,
    });
    expect(readEdited('Meta-Llama-3-8B.json', { mlp_bias: false }).bias).toBe(false);
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

  it('shows numbers as the file wrote them', () => {
    const path = writeText(
      fixtureText('gpt2.json')
        .replace('"n_layer": 12', '"n_layer": 1.2e1')
        .replace('"n_embd": 768', '"n_embd": 7.685e2'),
    );
    expect(inputError(() => loadModelConfig(path)).problems).toEqual([
      `${path}: n_embd (7.685e2) must be a positive integer; fix: use a whole number, e.g. 768 or 769`,
    ]);
  });
});

describe("refusals, one line each under the file's own key names", () => {
  it('an unknown model_type, listing the supported ones', () => {
    const path = writeJson({ ...fixtureJson('gpt2.json'), model_type: 'bert' });
    expect(inputError(() => loadModelConfig(path)).problems).toEqual([
      `${path}: model_type "bert" is not supported; flopledger reads Hugging Face configs with model_type llama, mistral, mixtral, ` +
        'qwen2, qwen3, qwen2_moe, qwen3_moe, phi3, gemma2, gemma3_text, gpt2, deepseek_v2 or deepseek_v3, or a flopledger config (see `flopledger models` and models/*.json)',
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
      'a width that is not a number',
      'Llama-2-7b-hf.json',
      { hidden_size: null },
      'hidden_size (null) must be a positive integer; fix: use a whole number, e.g. 768',
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
      'a bias switch that is not a boolean',
      'Meta-Llama-3-8B.json',
      { attention_bias: 'no' },
      'attention_bias ("no") must be true or false; fix: use true or false',
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

  it('every problem at once, and no second line for an n_inner that would follow an invalid n_embd', () => {
    expect(problemsOf('gpt2.json', { n_embd: 0, activation_function: 'swish' })).toEqual([
      'config.json: activation_function ("swish") is not supported: flopledger\'s two-matrix MLP applies GELU; fix: use "gelu_new" or "gelu" or "gelu_pytorch_tanh" (absent means "gelu_new")',
      'config.json: n_embd (0) must be a positive integer; fix: use a value of at least 1, e.g. 768',
    ]);
    expect(problemsOf('gpt2.json', { n_embd: 'wide' })).toEqual([
      'config.json: n_embd ("wide") must be a positive integer; fix: use a whole number, e.g. 768',
    ]);
  });

  it('carry each field problem as data, for a command line to phrase', () => {
    const error = inputError(() => readEdited('Llama-2-7b-hf.json', { hidden_act: 'gelu', tie_word_embeddings: 1 }));
    expect(error.fields).toEqual([
      expect.objectContaining({ field: 'ffn', key: 'hidden_act', value: 'gelu', allowed: ['silu', 'swish'] }),
      expect.objectContaining({
        field: 'tie_embeddings',
        key: 'tie_word_embeddings',
        value: 1,
        allowed: ['true', 'false'],
      }),
    ]);
    expect(error.fields.map((field) => field.problem)).toEqual(error.problems);
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
      `flopledger: note: ${path}: not in the file, so MistralConfig's defaults (as transformers reads it): ` +
        'head_dim 128 (hidden_size / num_attention_heads)\n' +
        `flopledger: note: ${path}: ignored (no effect on counts): architectures, bos_token_id, eos_token_id, initializer_range, ` +
        'rms_norm_eps, torch_dtype, transformers_version, use_cache\n',
    );
  });

  it('prints the not-understood keys as a third note', async () => {
    const path = writeJson({ ...fixtureJson('gpt2.json'), quantization_config: { bits: 4 } });
    const { code, stderr } = await cli('memory', '--config', path);
    expect(code).toBe(0);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^flopledger: note: .*: not in the file, so GPT2Config's defaults/);
    expect(lines[1]).toMatch(/^flopledger: note: .*: ignored \(no effect on counts\): architectures, /);
    expect(lines[2]).toBe(
      `flopledger: note: ${path}: not understood: quantization_config; the counts leave it out, so check the model has nothing they add`,
    );
  });

  it('refuses a key that adds what flopledger does not model: one line, exit 2', async () => {
    const path = writeJson({ ...fixtureJson('Mistral-7B-v0.1.json'), num_local_experts: 8, num_experts_per_tok: 2 });
    const { code, stdout, stderr } = await cli('params', '--config', path);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr.trimEnd().split('\n')).toEqual([
      `flopledger: ${path}: num_local_experts (8) adds mixture-of-experts layers, which model_type "mistral" does not ` +
        'build; counting the rest would describe another model, so the file is refused (fix: the model_type that ' +
        'builds them, "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2" or "deepseek_v3", or remove the key)',
      `flopledger: ${path}: num_experts_per_tok (2) adds mixture-of-experts routing, which model_type "mistral" does ` +
        'not build; counting the rest would describe another model, so the file is refused (fix: the model_type that ' +
        'builds them, "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2" or "deepseek_v3", or remove the key)',
    ]);
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
        command!,
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
    expect(stderr).toMatch(/^flopledger: note: test\/fixtures\/hf\/gpt2\.json: not in the file/);
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
      'flopledger: MODEL_TYPE_BERT: model_type "bert" is not supported; flopledger reads Hugging Face configs with model_type llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, phi3, gemma2, gemma3_text, gpt2, deepseek_v2 or deepseek_v3',
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

describe('any edit of a hub config', () => {
  const keys = [
    ...new Set(
      ['gpt2.json', 'Meta-Llama-3-8B.json', 'Mistral-7B-v0.1.json'].flatMap((file) => Object.keys(fixtureJson(file))),
    ),
    'head_dim',
    'mlp_bias',
    'n_inner',
    'hidden_size',
    'rope_parameters',
    'num_local_experts',
    'add_cross_attention',
    '__proto__',
  ];
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(undefined, null, 0, -1, 1.5, 2 ** 53, 1e308, 'silu', 'gelu', true, false, 4096, 128),
  );
  it('reads as a config or refuses with one line per problem, never anything else', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('gpt2.json', 'Meta-Llama-3-8B.json', 'Mistral-7B-v0.1.json'),
        fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }),
        (file, changes) => {
          try {
            const config = readEdited(file, changes);
            expect(config.d_model % config.num_heads).toBe(0);
          } catch (error) {
            expect(error).toBeInstanceOf(InputError);
            for (const problem of (error as InputError).problems) {
              expect(problem).toMatch(/^config\.json: /);
              expect(problem).not.toContain('\n');
            }
          }
        },
      ),
      { seed: 31, numRuns: 500 },
    );
  });
});
