/**
 * A Hugging Face config.json read as it is. The keys of the llama, mistral and gpt2 model types
 * are translated to a flopledger config, which is then validated by the same rules as a
 * flopledger file, with messages that name the Hugging Face keys ("hidden_size (4096) must be
 * divisible by num_attention_heads (3)"). What the architecture fixes but the file does not say
 * (GPT-2's LayerNorm, learned positions and biases; Llama's RMSNorm and RoPE) is written out.
 * Keys that change no count are named in a note as ignored; any other key as not understood.
 *
 * Defaults follow transformers' config classes when a key is absent or null: num_key_value_heads
 * = num_attention_heads, tie_word_embeddings false (llama, mistral) or true (gpt2), hidden_act
 * "silu", activation_function "gelu_new", n_inner 4 * n_embd, rope_theta 10000, no biases (llama).
 */
import { InputError } from '../core/errors.js';
import { type ConfigKey, type KeyNames, fieldProblem, showValue } from './config_fields.js';
import { describeIgnoredKey, ignoredKeys, type HuggingFaceFamily } from './hf_ignored_keys.js';
import type { ModelConfig } from './model_config.js';
import { parseModelConfig } from './parse_model_config.js';

/** The model_type values flopledger reads. */
export const HF_MODEL_TYPES = ['llama', 'mistral', 'gpt2'] as const;
export type HuggingFaceModelType = (typeof HF_MODEL_TYPES)[number];

/** A parsed JSON value is read as a Hugging Face config when it is an object with a "model_type" key. */
export function isHuggingFaceConfig(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, 'model_type');
}

/** The flopledger config a Hugging Face config.json describes, with notes on the keys left out. Throws InputError. */
export function parseHuggingFaceConfig(raw: Record<string, unknown>, source: string, name: string): ModelConfig {
  const modelType = raw['model_type'];
  if (typeof modelType !== 'string' || !(HF_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new InputError(
      `${source}: model_type ${showValue(modelType)} is not supported; flopledger reads Hugging Face configs ` +
        `with model_type ${HF_MODEL_TYPES.slice(0, -1).join(', ')} or ${HF_MODEL_TYPES.at(-1)}, ` +
        'or a flopledger config (see `flopledger models` and models/*.json)',
    );
  }
  const family: HuggingFaceFamily = modelType === 'gpt2' ? 'gpt2' : 'llama';
  const reading = family === 'gpt2' ? readGpt2(raw, source) : readLlamaFamily(raw, source);
  const names: KeyNames = (key) => reading.names[key] ?? key;

  const problems = [...reading.problems];
  let config: ModelConfig | undefined;
  try {
    config = parseModelConfig(reading.mapped, source, name, names);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || config === undefined) throw new InputError(problems);

  const notes = keyNotes(raw, source, family, reading.used);
  return Object.freeze({ ...config, ...(notes.length > 0 ? { notes } : {}) });
}

/** A Hugging Face config translated to flopledger's keys, before validation. */
interface Reading {
  /** flopledger keys to the file's values (validated next by parseModelConfig). */
  readonly mapped: Record<string, unknown>;
  /** How messages spell each flopledger key: the Hugging Face key it came from. */
  readonly names: Partial<Record<ConfigKey, string>>;
  /** Keys read for a count (not ignored, not unknown). */
  readonly used: ReadonlySet<string>;
  /** Problems only the Hugging Face reading can see (disagreeing bias switches, an unsupported activation). */
  readonly problems: readonly string[];
}

/** Reads `key` into the flopledger key `field` and remembers both, so messages can name the file's key. */
class Translation {
  readonly mapped: Record<string, unknown> = {};
  readonly names: Partial<Record<ConfigKey, string>> = {};
  readonly used = new Set<string>(['model_type']);
  readonly problems: string[] = [];

  constructor(
    readonly raw: Readonly<Record<string, unknown>>,
    readonly source: string,
  ) {}

  /** A required key: copied as is, so a missing or malformed value is reported under its own name. */
  required(key: string, field: ConfigKey): void {
    this.used.add(key);
    this.names[field] = key;
    this.mapped[field] = this.raw[key];
  }

  /** An optional key: absent or null means the config class's default, given here or left to architectureOf. */
  optional(key: string, field: ConfigKey, fallback?: unknown): void {
    this.used.add(key);
    this.names[field] = key;
    const value = this.present(key) ? this.raw[key] : fallback;
    if (value !== undefined) this.mapped[field] = value;
  }

  /** What the model type fixes, whatever the file says. */
  fixed(field: ConfigKey, value: unknown): void {
    this.mapped[field] = value;
  }

  present(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** A key whose value must be one of `accepted` (a key the translation reads but does not copy). */
  oneOf(key: string, accepted: readonly string[], fallback: string, why: string): void {
    this.used.add(key);
    if (!this.present(key)) return;
    const value = this.raw[key];
    if (typeof value === 'string' && accepted.includes(value)) return;
    this.problems.push(
      `${this.source}: ${key} (${showValue(value)}) is not supported: ${why}; ` +
        `fix: use ${accepted.map((a) => `"${a}"`).join(' or ')} (absent means "${fallback}")`,
    );
  }

  /** A boolean key read for a check, or undefined when absent; a non-boolean is reported. */
  flag(key: string): boolean | undefined {
    this.used.add(key);
    if (!this.present(key)) return undefined;
    const value = this.raw[key];
    if (typeof value === 'boolean') return value;
    this.problems.push(fieldProblem(this.source, 'bias', value, this.raw, () => key));
    return undefined;
  }

  reading(): Reading {
    return { mapped: this.mapped, names: this.names, used: this.used, problems: this.problems };
  }
}

/** LlamaConfig and MistralConfig: SwiGLU MLP, RMSNorm, RoPE, optional grouped-query attention. */
function readLlamaFamily(raw: Readonly<Record<string, unknown>>, source: string): Reading {
  const t = new Translation(raw, source);
  t.required('vocab_size', 'vocab_size');
  t.required('max_position_embeddings', 'context_length');
  t.required('num_hidden_layers', 'num_layers');
  t.required('hidden_size', 'd_model');
  t.required('num_attention_heads', 'num_heads');
  t.required('intermediate_size', 'd_ff');
  t.optional('num_key_value_heads', 'num_kv_heads');
  t.optional('tie_word_embeddings', 'tie_embeddings', false);
  t.optional('rope_theta', 'rope_theta');
  // transformers' SiLU is also registered as "swish".
  t.oneOf('hidden_act', ['silu', 'swish'], 'silu', "flopledger's SwiGLU MLP gates with SiLU");
  t.fixed('ffn', 'swiglu');
  t.fixed('norm', 'rmsnorm');
  t.fixed('positions', 'rope');

  const attentionBias = t.flag('attention_bias');
  const mlpBias = t.flag('mlp_bias');
  if (attentionBias !== undefined && mlpBias !== undefined && attentionBias !== mlpBias) {
    t.problems.push(
      `${source}: attention_bias (${attentionBias}) and mlp_bias (${mlpBias}) differ; flopledger has one bias switch ` +
        'for every linear layer, so it cannot count this model exactly; fix: set both to the same value',
    );
  }
  t.fixed('bias', attentionBias ?? mlpBias ?? false);

  t.used.add('head_dim');
  const headDimProblem = explicitHeadDimProblem(raw, source);
  if (headDimProblem !== undefined) t.problems.push(headDimProblem);
  return t.reading();
}

/** GPT2Config: GELU MLP, LayerNorm with bias, learned positions, biases, tied embeddings by default. */
function readGpt2(raw: Readonly<Record<string, unknown>>, source: string): Reading {
  const t = new Translation(raw, source);
  t.required('vocab_size', 'vocab_size');
  t.required('n_embd', 'd_model');
  t.required('n_layer', 'num_layers');
  t.required('n_head', 'num_heads');
  t.used.add('n_ctx');
  if (!t.present('n_positions') && t.present('n_ctx')) {
    t.required('n_ctx', 'context_length');
  } else {
    t.required('n_positions', 'context_length');
    const [positions, ctx] = [raw['n_positions'], raw['n_ctx']];
    if (t.present('n_ctx') && ctx !== positions) {
      t.problems.push(
        `${source}: n_ctx (${showValue(ctx)}) and n_positions (${showValue(positions)}) differ; the position table has ` +
          'n_positions rows and flopledger counts one context length; fix: remove n_ctx or set it to n_positions',
      );
    }
  }
  const nEmbd = raw['n_embd'];
  const fourTimesWidth = typeof nEmbd === 'number' && Number.isSafeInteger(nEmbd) && nEmbd > 0 ? 4 * nEmbd : undefined;
  t.optional('n_inner', 'd_ff', fourTimesWidth);
  t.optional('tie_word_embeddings', 'tie_embeddings', true);
  t.oneOf(
    'activation_function',
    ['gelu_new', 'gelu', 'gelu_pytorch_tanh'],
    'gelu_new',
    "flopledger's two-matrix MLP applies GELU",
  );
  t.fixed('ffn', 'gelu');
  t.fixed('norm', 'layernorm');
  t.fixed('positions', 'learned');
  t.fixed('bias', true);
  return t.reading();
}

/** Llama's optional head_dim must be the width flopledger derives: hidden_size / num_attention_heads. */
function explicitHeadDimProblem(raw: Readonly<Record<string, unknown>>, source: string): string | undefined {
  const headDim = raw['head_dim'];
  if (headDim === undefined || headDim === null) return undefined;
  if (typeof headDim !== 'number' || !Number.isSafeInteger(headDim) || headDim <= 0) {
    return `${source}: head_dim (${showValue(headDim)}) must be a positive integer; fix: remove it (it defaults to hidden_size / num_attention_heads)`;
  }
  const [width, heads] = [raw['hidden_size'], raw['num_attention_heads']];
  if (typeof width !== 'number' || typeof heads !== 'number' || heads <= 0 || width % heads !== 0) return undefined;
  if (headDim === width / heads) return undefined;
  return (
    `${source}: head_dim (${headDim}) differs from hidden_size / num_attention_heads (${width} / ${heads} = ${width / heads}); ` +
    `flopledger's heads split hidden_size exactly, so it cannot count this model; fix: set head_dim to ${width / heads} or remove it`
  );
}

/** One note for the keys ignored (no effect on counts), one for the keys not understood. */
function keyNotes(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  family: HuggingFaceFamily,
  used: ReadonlySet<string>,
): string[] {
  const ignorable = ignoredKeys(family);
  const keys = Object.keys(raw).filter((key) => !used.has(key));
  const ignored = keys.filter((key) => ignorable.has(key)).map((key) => describeIgnoredKey(key, raw[key]));
  const unknown = keys.filter((key) => !ignorable.has(key));
  const notes: string[] = [];
  if (ignored.length > 0) notes.push(`${source}: ignored (no effect on counts): ${ignored.join(', ')}`);
  if (unknown.length > 0) {
    notes.push(
      `${source}: not understood: ${unknown.join(', ')}; the counts leave ${unknown.length === 1 ? 'it' : 'them'} out, ` +
        'so check the model has nothing they add',
    );
  }
  return notes;
}
