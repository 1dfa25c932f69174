/**
 * A Hugging Face config.json read as the transformers model classes read it. The keys of the
 * llama, mistral and gpt2 model types are translated to a flopledger config, which is then
 * validated by the same rules as a flopledger file, with messages that name the Hugging Face
 * keys ("hidden_size (4096) must be divisible by num_attention_heads (3)"). What the
 * architecture fixes but the file does not say (GPT-2's LayerNorm, learned positions and biases;
 * Llama's RMSNorm and RoPE) is written out.
 *
 * A key the file leaves out takes the default of its config class, and each default taken is
 * named in a note. The defaults, from transformers' configuration_*.py and modeling_*.py:
 *   LlamaConfig    vocab_size 32000, max_position_embeddings 2048, num_hidden_layers 32,
 *                  hidden_size 4096, num_attention_heads 32, intermediate_size 11008,
 *                  num_key_value_heads None = num_attention_heads, head_dim None =
 *                  hidden_size // num_attention_heads, hidden_act "silu", tie_word_embeddings
 *                  False, rope_theta 10000, attention_bias False (q, k, v and o_proj),
 *                  mlp_bias False (gate, up and down_proj).
 *   MistralConfig  as Llama but intermediate_size 14336, max_position_embeddings 4096 * 32,
 *                  num_key_value_heads 8 (None = num_attention_heads); no biases at all.
 *   GPT2Config     vocab_size 50257, n_positions 1024, n_embd 768, n_layer 12, n_head 12, n_inner
 *                  None = 4 * n_embd, activation_function "gelu_new", tie_word_embeddings True
 *                  (PretrainedConfig's); hidden_size, max_position_embeddings,
 *                  num_attention_heads and num_hidden_layers are other names for n_embd,
 *                  n_positions, n_head and n_layer (its attribute_map). n_ctx is not read.
 * Keys that change no count are named in a note as ignored; keys that add a component
 * flopledger does not model are refused (hf_ignored_keys.ts); any other key is noted as not
 * understood.
 */
import { InputError, type FieldIssue } from '../core/errors.js';
import { type ConfigKey, type KeyNames, fieldIssue, showField, showValue } from './config_fields.js';
import { UNMODELLED_KEYS, describeIgnoredKey, ignoredKeys, isSet, type HuggingFaceFamily } from './hf_ignored_keys.js';
import { copyWrittenNumber } from './json_document.js';
import type { ModelConfig } from './model_config.js';
import { parseModelConfig } from './parse_model_config.js';
import { printable, shortList } from './printable.js';

/** The model_type values flopledger reads. */
const HF_MODEL_TYPES = ['llama', 'mistral', 'gpt2'] as const;

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
  const family = modelType as HuggingFaceFamily;
  const reading = family === 'gpt2' ? readGpt2(raw, source) : readLlamaFamily(raw, source, family);
  const names: KeyNames = (key) => reading.names[key] ?? key;

  const problems = [...unmodelledProblems(raw, source), ...reading.problems];
  const fields = [...reading.fields];
  let config: ModelConfig | undefined;
  try {
    config = parseModelConfig(reading.mapped, source, name, names);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    // A field derived from another invalid one (GPT-2's d_ff from n_embd) repeats that problem.
    const derived = new Set(error.fields.filter((f) => reading.derivedFromInvalid.has(f.field)).map((f) => f.problem));
    problems.push(...error.problems.filter((problem) => !derived.has(problem)));
    fields.push(...error.fields.filter((f) => !derived.has(f.problem)));
  }
  if (problems.length > 0 || config === undefined) throw new InputError(problems, { fields });

  const notes = keyNotes(raw, source, family, reading);
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
  readonly fields: readonly FieldIssue[];
  /** "mlp_bias false": each default of the config class taken for a key the file leaves out. */
  readonly defaults: readonly string[];
  readonly configClass: string;
  /** Remarks on ignored keys that depend on other keys. */
  readonly remarks: ReadonlyMap<string, string>;
  /** Fields the file leaves to be derived from a field that is itself invalid: their problems are dropped. */
  readonly derivedFromInvalid: ReadonlySet<string>;
}

/** Reads the file's keys into flopledger fields, remembering how each was spelt and which defaults were taken. */
class Translation {
  readonly mapped: Record<string, unknown> = {};
  readonly names: Partial<Record<ConfigKey, string>> = {};
  readonly used = new Set<string>(['model_type']);
  readonly problems: string[] = [];
  readonly fields: FieldIssue[] = [];
  readonly defaults: string[] = [];
  readonly remarks = new Map<string, string>();
  readonly derivedFromInvalid = new Set<string>();

  constructor(
    readonly raw: Readonly<Record<string, unknown>>,
    readonly source: string,
    readonly configClass: string,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.raw, key);
  }

  present(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  /** The file's value, with its written form, under the flopledger field. */
  copy(key: string, field: ConfigKey): void {
    this.mapped[field] = this.raw[key];
    copyWrittenNumber(this.raw, key, this.mapped, field);
  }

  /**
   * A key with a default in its config class's signature: the file's value when it has the key
   * (a null is then reported as the wrong type, as the model class would fail on it), else the
   * default, named in the defaults note.
   */
  withDefault(key: string, field: ConfigKey, fallback: number | boolean): void {
    this.used.add(key);
    this.names[field] = key;
    if (this.has(key)) return this.copy(key, field);
    this.mapped[field] = fallback;
    this.defaults.push(`${key} ${fallback}`);
  }

  /**
   * A key whose absence or null the config class replaces with a value derived from others
   * (`derived`, described by `shown`); undefined leaves the field to architectureOf, which
   * derives the same.
   */
  noneMeans(key: string, field: ConfigKey, derived: number | undefined, shown: string): void {
    this.used.add(key);
    this.names[field] = key;
    if (this.present(key)) return this.copy(key, field);
    if (derived !== undefined) this.mapped[field] = derived;
    this.defaults.push(`${key} ${shown}`);
  }

  /** What the model type fixes, whatever the file says. */
  fixed(field: ConfigKey, value: unknown): void {
    this.mapped[field] = value;
  }

  /** A string key whose value must be one of `accepted` (read for a check, not copied). */
  oneOf(key: string, field: ConfigKey, accepted: readonly string[], fallback: string, why: string): void {
    this.used.add(key);
    if (!this.has(key)) {
      this.defaults.push(`${key} "${fallback}"`);
      return;
    }
    const value = this.raw[key];
    if (typeof value === 'string' && accepted.includes(value)) return;
    const problem =
      `${this.source}: ${key} (${showField(this.raw, key)}) is not supported: ${why}; ` +
      `fix: use ${accepted.map((a) => `"${a}"`).join(' or ')} (absent means "${fallback}")`;
    this.problems.push(problem);
    this.fields.push({ problem, field, key, value, expected: `one of ${accepted.join(', ')}`, allowed: accepted });
  }

  /** A boolean key read for a check, with its default when absent; undefined when it is not a boolean (reported). */
  switchValue(key: string, fallback: boolean): boolean | undefined {
    this.used.add(key);
    if (!this.has(key)) {
      this.defaults.push(`${key} ${fallback}`);
      return fallback;
    }
    const value = this.raw[key];
    if (typeof value === 'boolean') return value;
    const issue = fieldIssue(this.source, 'bias', value, this.raw, () => key);
    this.problems.push(issue.problem);
    this.fields.push(issue);
    return undefined;
  }

  /** The value a field will be validated with, when it is a positive safe integer. */
  count(field: ConfigKey): number | undefined {
    const value = this.mapped[field];
    return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
  }

  reading(): Reading {
    return {
      mapped: this.mapped,
      names: this.names,
      used: this.used,
      problems: this.problems,
      fields: this.fields,
      defaults: this.defaults,
      configClass: this.configClass,
      remarks: this.remarks,
      derivedFromInvalid: this.derivedFromInvalid,
    };
  }
}

/**
 * LlamaConfig and MistralConfig: SwiGLU MLP, RMSNorm, RoPE, optional grouped-query attention.
 * LlamaAttention builds q, k, v and o_proj with bias=config.attention_bias and LlamaMLP its three
 * projections with bias=config.mlp_bias; MistralAttention and MistralMLP use bias=False throughout.
 */
function readLlamaFamily(raw: Readonly<Record<string, unknown>>, source: string, family: 'llama' | 'mistral'): Reading {
  const mistral = family === 'mistral';
  const t = new Translation(raw, source, mistral ? 'MistralConfig' : 'LlamaConfig');
  t.withDefault('vocab_size', 'vocab_size', 32000);
  t.withDefault('max_position_embeddings', 'context_length', mistral ? 4096 * 32 : 2048);
  t.withDefault('num_hidden_layers', 'num_layers', 32);
  t.withDefault('hidden_size', 'd_model', 4096);
  t.withDefault('num_attention_heads', 'num_heads', 32);
  t.withDefault('intermediate_size', 'd_ff', mistral ? 14336 : 11008);
  const heads = t.count('num_heads');
  const allHeads = `${heads ?? ''} (num_attention_heads)`.trimStart();
  if (mistral && !t.has('num_key_value_heads')) t.withDefault('num_key_value_heads', 'num_kv_heads', 8);
  else t.noneMeans('num_key_value_heads', 'num_kv_heads', undefined, allHeads);
  t.withDefault('tie_word_embeddings', 'tie_embeddings', false);
  readRopeTheta(t);
  // transformers' SiLU is also registered as "swish".
  t.oneOf('hidden_act', 'ffn', ['silu', 'swish'], 'silu', "flopledger's SwiGLU MLP gates with SiLU");
  t.fixed('ffn', 'swiglu');
  t.fixed('norm', 'rmsnorm');
  t.fixed('positions', 'rope');
  if (mistral) t.fixed('bias', false);
  else readLlamaBiases(t);
  readHeadDim(t);
  return t.reading();
}

/**
 * The RoPE base: rope_parameters.rope_theta (transformers 5), else rope_theta, else 10000. It
 * changes no count, only the model's rotation angles.
 */
function readRopeTheta(t: Translation): void {
  const parameters = t.raw['rope_parameters'];
  if (typeof parameters === 'object' && parameters !== null && Object.hasOwn(parameters, 'rope_theta')) {
    t.names.rope_theta = 'rope_parameters.rope_theta';
    t.mapped['rope_theta'] = (parameters as Record<string, unknown>)['rope_theta'];
    copyWrittenNumber(parameters, 'rope_theta', t.mapped, 'rope_theta');
    t.used.add('rope_theta');
    return;
  }
  t.withDefault('rope_theta', 'rope_theta', 10000);
}

/** attention_bias and mlp_bias, both False by default: flopledger's one switch counts only the two alike. */
function readLlamaBiases(t: Translation): void {
  const attention = t.switchValue('attention_bias', false);
  const mlp = t.switchValue('mlp_bias', false);
  if (attention === undefined || mlp === undefined) return;
  if (attention === mlp) {
    t.fixed('bias', attention);
    return;
  }
  const said = (key: string, value: boolean) =>
    `${key} (${value}${t.has(key) ? '' : `, ${t.configClass}'s default when absent`})`;
  const [absent] = ['attention_bias', 'mlp_bias'].filter((key) => !t.has(key));
  const hint = absent !== undefined ? `; if the model has those biases too, set ${absent} to true` : '';
  t.problems.push(
    `${t.source}: ${said('attention_bias', attention)} and ${said('mlp_bias', mlp)} differ: LlamaModel gives biases ` +
      `to ${attention ? 'q_proj, k_proj, v_proj and o_proj but not to the MLP' : 'the MLP but not to the attention projections'}, ` +
      `and flopledger has one bias switch for every linear layer, so it cannot count this model${hint}`,
  );
}

/**
 * head_dim (None = hidden_size // num_attention_heads). flopledger's attention splits d_model
 * into the heads, so a head width of its own (Gemma, Qwen3, Mistral-Nemo) is refused, not counted
 * as hidden_size / num_attention_heads.
 */
function readHeadDim(t: Translation): void {
  t.used.add('head_dim');
  const [width, heads] = [t.count('d_model'), t.count('num_heads')];
  const split = width !== undefined && heads !== undefined && width % heads === 0 ? width / heads : undefined;
  if (!t.present('head_dim')) {
    t.defaults.push(`head_dim ${split ?? ''} (hidden_size / num_attention_heads)`.replace('  ', ' '));
    return;
  }
  const value = t.raw['head_dim'];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    t.problems.push(
      `${t.source}: head_dim (${showField(t.raw, 'head_dim')}) must be a positive integer; ` +
        'fix: remove it (it defaults to hidden_size / num_attention_heads)',
    );
    return;
  }
  // With no whole split, the head rule reports hidden_size and num_attention_heads themselves.
  if (split === undefined || value === split) return;
  t.problems.push(
    `${t.source}: head_dim (${showField(t.raw, 'head_dim')}) is not hidden_size / num_attention_heads ` +
      `(${width} / ${heads} = ${split}): the model's heads are ${heads} x ${value} = ${heads! * value} wide; ` +
      'flopledger splits hidden_size into the heads and does not model a head width of its own yet, ' +
      'so it cannot count this model',
  );
}

/** The four GPT2Config keys its attribute_map gives a second name, and the field each fills. */
const GPT2_DIMENSIONS: readonly (readonly [key: string, alias: string, field: ConfigKey, fallback: number])[] = [
  ['n_positions', 'max_position_embeddings', 'context_length', 1024],
  ['n_embd', 'hidden_size', 'd_model', 768],
  ['n_layer', 'num_hidden_layers', 'num_layers', 12],
  ['n_head', 'num_attention_heads', 'num_heads', 12],
];

/** GPT2Config: GELU MLP, LayerNorm with bias, learned positions, biases on every Conv1D, tied embeddings by default. */
function readGpt2(raw: Readonly<Record<string, unknown>>, source: string): Reading {
  const t = new Translation(raw, source, 'GPT2Config');
  t.withDefault('vocab_size', 'vocab_size', 50257);
  for (const [key, alias, field, fallback] of GPT2_DIMENSIONS) {
    if (t.has(alias) && !t.has(key)) {
      t.withDefault(alias, field, fallback);
      continue;
    }
    t.withDefault(key, field, fallback);
    if (!t.has(alias)) continue;
    t.used.add(alias);
    if (showField(raw, alias) !== showField(raw, key)) {
      t.problems.push(
        `${source}: ${key} (${showField(raw, key)}) and ${alias} (${showField(raw, alias)}) disagree; GPT2Config ` +
          `reads ${alias} as another name for ${key}, so the file says two things; fix: keep only ${key}`,
      );
    }
  }
  const width = t.count('d_model');
  if (width === undefined && !t.present('n_inner')) t.derivedFromInvalid.add('d_ff');
  t.noneMeans(
    'n_inner',
    'd_ff',
    width !== undefined ? 4 * width : undefined,
    `${width !== undefined ? 4 * width : ''} (4 * n_embd)`.trimStart(),
  );
  t.withDefault('tie_word_embeddings', 'tie_embeddings', true);
  t.oneOf(
    'activation_function',
    'ffn',
    ['gelu_new', 'gelu', 'gelu_pytorch_tanh'],
    'gelu_new',
    "flopledger's two-matrix MLP applies GELU",
  );
  const context = t.mapped['context_length'];
  if (t.present('n_ctx') && showField(raw, 'n_ctx') !== String(context)) {
    t.remarks.set('n_ctx', `not read: GPT2Model's position table has n_positions (${showValue(context)}) rows`);
  }
  t.fixed('ffn', 'gelu');
  t.fixed('norm', 'layernorm');
  t.fixed('positions', 'learned');
  t.fixed('bias', true);
  return t.reading();
}

/** One line per key that adds a component flopledger does not model. */
function unmodelledProblems(raw: Readonly<Record<string, unknown>>, source: string): string[] {
  return Object.keys(raw)
    .filter((key) => Object.hasOwn(UNMODELLED_KEYS, key) && isSet(raw[key]))
    .map(
      (key) =>
        `${source}: ${key} (${showField(raw, key)}) adds ${UNMODELLED_KEYS[key]}, which flopledger does not model; ` +
        'counting the rest would describe another model, so the file is refused (if the model has none, remove the key)',
    );
}

/** The notes: defaults taken, keys ignored (no effect on counts), keys not understood. */
function keyNotes(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  family: HuggingFaceFamily,
  reading: Reading,
): string[] {
  const ignorable = ignoredKeys(family);
  const keys = Object.keys(raw).filter((key) => !reading.used.has(key));
  const ignored = keys
    .filter((key) => ignorable.has(key) || Object.hasOwn(UNMODELLED_KEYS, key))
    .map((key) => describeIgnoredKey(family, key, raw[key], reading.remarks));
  const unknown = keys
    .filter((key) => !ignorable.has(key) && !Object.hasOwn(UNMODELLED_KEYS, key))
    .map((key) => printable(key));
  const notes: string[] = [];
  if (reading.defaults.length > 0) {
    notes.push(
      `${source}: not in the file, so ${reading.configClass}'s defaults (as transformers reads it): ${reading.defaults.join(', ')}`,
    );
  }
  if (ignored.length > 0) notes.push(`${source}: ignored (no effect on counts): ${ignored.join(', ')}`);
  if (unknown.length > 0) {
    notes.push(
      `${source}: not understood: ${shortList(unknown)}; the counts leave ${unknown.length === 1 ? 'it' : 'them'} out, ` +
        'so check the model has nothing they add',
    );
  }
  return notes;
}
