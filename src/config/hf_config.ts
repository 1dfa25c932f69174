/**
 * A Hugging Face config.json read as the transformers model classes read it. The keys of the
 * llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, phi3, gemma2, gemma3_text and gpt2
 * model types are translated to
 * a flopledger config, which is then validated by the same rules as a flopledger file, with
 * messages that name the Hugging Face keys ("hidden_size (4096) must be divisible by
 * num_attention_heads (3)"). What the architecture fixes but the file does not say (GPT-2's
 * LayerNorm, learned positions and biases; Llama's RMSNorm and RoPE; Qwen2's q/k/v biases;
 * Phi-3's fused projections; Gemma's GeGLU, scaled embeddings, (1 + w) norms and post-norms) is
 * written out.
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
 *   Qwen2Config    vocab_size 151936, max_position_embeddings 32768, num_hidden_layers 32,
 *                  hidden_size 4096, num_attention_heads 32, intermediate_size 22016,
 *                  num_key_value_heads 32 (None = num_attention_heads), tie_word_embeddings False,
 *                  rope_theta 10000; Qwen2Attention reads head_dim with getattr (default
 *                  hidden_size // num_attention_heads) and hard-codes bias=True on q, k and v_proj,
 *                  bias=False on o_proj; Qwen2MLP has no biases.
 *   Qwen3Config    as Qwen2 but head_dim 128 and attention_bias False (all four projections);
 *                  q_norm and k_norm, RMSNorms over head_dim, on every query and key head.
 *   MixtralConfig  as Mistral but sliding_window None, plus num_local_experts 8 and
 *                  num_experts_per_tok 2 (MoeFamily below says how the experts are read).
 *   Qwen2MoeConfig vocab_size 151936, max_position_embeddings 32768, num_hidden_layers 24,
 *                  hidden_size 2048, num_attention_heads 16, num_key_value_heads 16,
 *                  intermediate_size 5632 (dense layers only), qkv_bias True (q, k and v_proj),
 *                  num_experts 60, num_experts_per_tok 4, moe_intermediate_size 1408,
 *                  shared_expert_intermediate_size 5632, norm_topk_prob False.
 *   Qwen3MoeConfig vocab_size 151936, hidden_size 2048, num_hidden_layers 24,
 *                  num_attention_heads 32, num_key_value_heads 4, intermediate_size 6144,
 *                  attention_bias False, q_norm and k_norm as Qwen3; head_dim read with getattr
 *                  (default hidden_size // num_attention_heads); num_experts 128,
 *                  num_experts_per_tok 8, moe_intermediate_size 768, norm_topk_prob False.
 *   Phi3Config     vocab_size 32064, max_position_embeddings 4096, num_hidden_layers 32,
 *                  hidden_size 3072, num_attention_heads 32, intermediate_size 8192,
 *                  num_key_value_heads None = num_attention_heads, tie_word_embeddings False,
 *                  rope_theta 10000; head_dim by getattr; fused qkv_proj [H + 2 Hkv heads] and
 *                  gate_up_proj [2 * intermediate_size], no biases.
 *   Gemma2Config   vocab_size 256000, max_position_embeddings 8192, num_hidden_layers 26,
 *                  hidden_size 2304, num_attention_heads 8, num_key_value_heads 4, head_dim 256,
 *                  intermediate_size 9216, hidden_activation "gelu_pytorch_tanh",
 *                  tie_word_embeddings True, rope_theta 10000, attention_bias False (all four
 *                  projections), final_logit_softcapping 30.0, attn_logit_softcapping 50.0;
 *                  embeddings times sqrt(hidden_size), every RMSNorm times (1 + weight), four
 *                  norms per layer (input, post_attention, pre_feedforward, post_feedforward).
 *   Gemma3TextConfig as Gemma2 but vocab_size 262208, max_position_embeddings 131072,
 *                  rope_theta 1000000, both softcappings None, and q_norm and k_norm over head_dim.
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
import { readHuggingFaceWindows } from './hf_windows.js';
import { copyWrittenNumber } from './json_document.js';
import { ROUTER_KEYS } from './moe.js';
import type { ModelConfig } from './model_config.js';
import { parseModelConfig } from './parse_model_config.js';
import { printable, shortList } from './printable.js';

/** The model_type values flopledger reads. */
const HF_MODEL_TYPES = [
  'llama',
  'mistral',
  'mixtral',
  'qwen2',
  'qwen3',
  'qwen2_moe',
  'qwen3_moe',
  'phi3',
  'gemma2',
  'gemma3_text',
  'gpt2',
  'deepseek_v2',
  'deepseek_v3',
] as const;

/** A parsed JSON value is read as a Hugging Face config when it is an object with a "model_type" key. */
export function isHuggingFaceConfig(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, 'model_type');
}

/** The flopledger config a Hugging Face config.json describes, with notes on the keys left out. Throws InputError. */
export function parseHuggingFaceConfig(raw: Record<string, unknown>, source: string, name: string): ModelConfig {
  const modelType = raw['model_type'];
  if (modelType === 'gemma3') {
    throw new InputError(
      `${source}: model_type "gemma3" is Gemma 3 with its vision tower, which flopledger does not model; ` +
        'its text model is counted from the text_config object saved as a file of its own with "model_type": "gemma3_text"',
    );
  }
  if (typeof modelType !== 'string' || !(HF_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new InputError(
      `${source}: model_type ${showValue(modelType)} is not supported; flopledger reads Hugging Face configs ` +
        `with model_type ${HF_MODEL_TYPES.slice(0, -1).join(', ')} or ${HF_MODEL_TYPES.at(-1)}, ` +
        'or a flopledger config (see `flopledger models` and models/*.json)',
    );
  }
  const family = modelType as HuggingFaceFamily;
  const reading =
    family === 'gpt2'
      ? readGpt2(raw, source)
      : family === 'gemma2' || family === 'gemma3_text'
        ? readGemma(raw, source, family)
        : family === 'deepseek_v2' || family === 'deepseek_v3'
          ? readDeepseek(raw, source, family)
          : readLlamaFamily(raw, source, family);
  const names: KeyNames = (key) => reading.names[key] ?? key;

  const problems = [...unmodelledProblems(raw, source, reading.used), ...reading.problems];
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
  /** Lines on keys that were read but leave a component out (DeepSeek-V3's multi-token prediction). */
  readonly leftOut: readonly string[];
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
  readonly leftOut: string[] = [];

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

  /**
   * A number or null key with a default in its config class (a soft-cap: null turns it off): the
   * file's value, else the default, named. Only a number reaches the field.
   */
  optionalNumber(key: string, field: ConfigKey, fallback: number | null): void {
    this.used.add(key);
    this.names[field] = key;
    if (!this.has(key)) {
      this.defaults.push(`${key} ${fallback === null ? 'None' : String(fallback)}`);
      if (fallback !== null) this.mapped[field] = fallback;
      return;
    }
    if (this.raw[key] !== null) this.copy(key, field);
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
      leftOut: this.leftOut,
    };
  }
}

/** How a Llama-shaped model type builds its weights (each from its configuration_*.py and modeling_*.py). */
interface LlamaLikeFamily {
  readonly configClass: string;
  readonly modelClass: string;
  readonly vocab_size: number;
  readonly max_position_embeddings: number;
  readonly num_hidden_layers: number;
  readonly hidden_size: number;
  readonly num_attention_heads: number;
  readonly intermediate_size: number;
  /** num_key_value_heads when the key is absent (None still means num_attention_heads); undefined: num_attention_heads. */
  readonly num_key_value_heads?: number;
  /** head_dim when absent: a number of its own (Qwen3), or undefined for hidden_size // num_attention_heads. */
  readonly head_dim?: number;
  /**
   * llama: attention_bias on q, k, v and o, mlp_bias on the MLP; attention: attention_bias on the
   * four projections, no MLP biases; qkv: q, k and v always, nothing else; none: no biases.
   */
  readonly biases: 'llama' | 'attention' | 'qkv' | 'qkv_switch' | 'none';
  readonly qkNorm: boolean;
  readonly fused: boolean;
  /** The mixture of experts, for the MoE model types. */
  readonly moe?: MoeFamily;
}

/**
 * How a MoE model type reads its experts (configuration_*.py defaults; modeling_*.py's sparse block):
 *   mixtral    num_local_experts (attribute_map alias num_experts) 8, num_experts_per_tok 2, each
 *              expert intermediate_size wide, every layer sparse, top-k weights always renormalised
 *              (`routing_weights /= routing_weights.sum(dim=-1, keepdim=True)`).
 *   qwen       num_experts, num_experts_per_tok, moe_intermediate_size, norm_topk_prob (False);
 *              layer i sparse iff i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0,
 *              the others a dense MLP of intermediate_size; qwen2_moe adds one shared expert of
 *              shared_expert_intermediate_size, scaled by sigmoid(shared_expert_gate(x)).
 */
interface MoeFamily {
  readonly style: 'mixtral' | 'qwen';
  readonly num_experts: number;
  readonly experts_per_token: number;
  readonly moe_intermediate_size?: number;
  readonly shared_expert_intermediate_size?: number;
}

type LlamaLikeType = 'llama' | 'mistral' | 'mixtral' | 'qwen2' | 'qwen3' | 'qwen2_moe' | 'qwen3_moe' | 'phi3';

const LLAMA_LIKE: Readonly<Record<LlamaLikeType, LlamaLikeFamily>> = {
  llama: {
    configClass: 'LlamaConfig',
    modelClass: 'LlamaModel',
    vocab_size: 32000,
    max_position_embeddings: 2048,
    num_hidden_layers: 32,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 11008,
    biases: 'llama',
    qkNorm: false,
    fused: false,
  },
  mistral: {
    configClass: 'MistralConfig',
    modelClass: 'MistralModel',
    vocab_size: 32000,
    max_position_embeddings: 4096 * 32,
    num_hidden_layers: 32,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 14336,
    num_key_value_heads: 8,
    biases: 'none',
    qkNorm: false,
    fused: false,
  },
  mixtral: {
    configClass: 'MixtralConfig',
    modelClass: 'MixtralModel',
    vocab_size: 32000,
    max_position_embeddings: 4096 * 32,
    num_hidden_layers: 32,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 14336,
    num_key_value_heads: 8,
    biases: 'none',
    qkNorm: false,
    fused: false,
    moe: { style: 'mixtral', num_experts: 8, experts_per_token: 2 },
  },
  qwen2_moe: {
    configClass: 'Qwen2MoeConfig',
    modelClass: 'Qwen2MoeModel',
    vocab_size: 151936,
    max_position_embeddings: 32768,
    num_hidden_layers: 24,
    hidden_size: 2048,
    num_attention_heads: 16,
    intermediate_size: 5632,
    num_key_value_heads: 16,
    biases: 'qkv_switch',
    qkNorm: false,
    fused: false,
    moe: {
      style: 'qwen',
      num_experts: 60,
      experts_per_token: 4,
      moe_intermediate_size: 1408,
      shared_expert_intermediate_size: 5632,
    },
  },
  qwen3_moe: {
    configClass: 'Qwen3MoeConfig',
    modelClass: 'Qwen3MoeModel',
    vocab_size: 151936,
    max_position_embeddings: 32768,
    num_hidden_layers: 24,
    hidden_size: 2048,
    num_attention_heads: 32,
    intermediate_size: 6144,
    num_key_value_heads: 4,
    biases: 'attention',
    qkNorm: true,
    fused: false,
    moe: { style: 'qwen', num_experts: 128, experts_per_token: 8, moe_intermediate_size: 768 },
  },
  qwen2: {
    configClass: 'Qwen2Config',
    modelClass: 'Qwen2Model',
    vocab_size: 151936,
    max_position_embeddings: 32768,
    num_hidden_layers: 32,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 22016,
    num_key_value_heads: 32,
    biases: 'qkv',
    qkNorm: false,
    fused: false,
  },
  qwen3: {
    configClass: 'Qwen3Config',
    modelClass: 'Qwen3Model',
    vocab_size: 151936,
    max_position_embeddings: 32768,
    num_hidden_layers: 32,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 22016,
    num_key_value_heads: 32,
    head_dim: 128,
    biases: 'attention',
    qkNorm: true,
    fused: false,
  },
  phi3: {
    configClass: 'Phi3Config',
    modelClass: 'Phi3Model',
    vocab_size: 32064,
    max_position_embeddings: 4096,
    num_hidden_layers: 32,
    hidden_size: 3072,
    num_attention_heads: 32,
    intermediate_size: 8192,
    biases: 'none',
    qkNorm: false,
    fused: true,
  },
};

/** The dimensions every Llama- and Gemma-shaped config names the same way, with its class's defaults. */
function readDimensions(
  t: Translation,
  defaults: Pick<
    LlamaLikeFamily,
    | 'vocab_size'
    | 'max_position_embeddings'
    | 'num_hidden_layers'
    | 'hidden_size'
    | 'num_attention_heads'
    | 'intermediate_size'
    | 'num_key_value_heads'
  >,
): void {
  t.withDefault('vocab_size', 'vocab_size', defaults.vocab_size);
  t.withDefault('max_position_embeddings', 'context_length', defaults.max_position_embeddings);
  t.withDefault('num_hidden_layers', 'num_layers', defaults.num_hidden_layers);
  t.withDefault('hidden_size', 'd_model', defaults.hidden_size);
  t.withDefault('num_attention_heads', 'num_heads', defaults.num_attention_heads);
  t.withDefault('intermediate_size', 'd_ff', defaults.intermediate_size);
  const heads = t.count('num_heads');
  const allHeads = `${heads ?? ''} (num_attention_heads)`.trimStart();
  if (defaults.num_key_value_heads !== undefined && !t.has('num_key_value_heads')) {
    t.withDefault('num_key_value_heads', 'num_kv_heads', defaults.num_key_value_heads);
  } else t.noneMeans('num_key_value_heads', 'num_kv_heads', undefined, allHeads);
}

/**
 * LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config and Phi3Config: SwiGLU MLP, RMSNorm, RoPE,
 * optional grouped-query attention; the biases, q/k norms and fused projections of LLAMA_LIKE.
 * LlamaAttention builds q, k, v and o_proj with bias=config.attention_bias and LlamaMLP its three
 * projections with bias=config.mlp_bias; MistralAttention and MistralMLP use bias=False throughout.
 */
function readLlamaFamily(raw: Readonly<Record<string, unknown>>, source: string, family: LlamaLikeType): Reading {
  const spec = LLAMA_LIKE[family];
  const t = new Translation(raw, source, spec.configClass);
  readDimensions(t, spec);
  t.withDefault('tie_word_embeddings', 'tie_embeddings', false);
  readRopeTheta(t, 10000);
  // transformers' SiLU is also registered as "swish".
  t.oneOf('hidden_act', 'ffn', ['silu', 'swish'], 'silu', "flopledger's SwiGLU MLP gates with SiLU");
  t.fixed('ffn', 'swiglu');
  t.fixed('norm', 'rmsnorm');
  t.fixed('positions', 'rope');
  if (spec.biases === 'llama') readLlamaBiases(t);
  else if (spec.biases === 'attention') readAttentionBias(t);
  else if (spec.biases === 'qkv') setBiases(t, true, false, false);
  else if (spec.biases === 'qkv_switch') readQkvBias(t);
  else t.fixed('bias', false);
  if (spec.qkNorm) t.fixed('qk_norm', true);
  if (spec.fused) {
    t.fixed('fused_qkv', true);
    t.fixed('fused_gate_up', true);
  }
  if (family === 'phi3') readPartialRotary(t);
  readHeadDim(t, spec.head_dim);
  readWindows(t, family);
  if (spec.moe !== undefined) readExperts(t, spec.moe);
  return t.reading();
}

/**
 * Qwen2MoeConfig's qkv_bias (True by default; older transformers hard-coded bias=True on q, k
 * and v_proj): biases on q, k and v_proj, never on o_proj or the MLPs.
 */
function readQkvBias(t: Translation): void {
  const qkv = t.switchValue('qkv_bias', true);
  if (qkv === undefined) return;
  t.names.qkv_bias = 'qkv_bias';
  setBiases(t, qkv, false, false);
}

/** The experts of a MoE model type (MoeFamily says how each reads them). */
function readExperts(t: Translation, moe: MoeFamily): void {
  if (moe.style === 'mixtral') {
    // MixtralConfig's attribute_map reads num_experts as another name for num_local_experts.
    const key = t.has('num_experts') && !t.has('num_local_experts') ? 'num_experts' : 'num_local_experts';
    t.withDefault(key, 'num_experts', moe.num_experts);
    t.withDefault('num_experts_per_tok', 'experts_per_token', moe.experts_per_token);
    t.fixed('normalize_top_k', true);
    return;
  }
  t.withDefault('num_experts', 'num_experts', moe.num_experts);
  t.withDefault('num_experts_per_tok', 'experts_per_token', moe.experts_per_token);
  t.withDefault('moe_intermediate_size', 'expert_d_ff', moe.moe_intermediate_size ?? 0);
  if (moe.shared_expert_intermediate_size !== undefined) {
    t.withDefault('shared_expert_intermediate_size', 'shared_d_ff', moe.shared_expert_intermediate_size);
    t.fixed('shared_expert_gate', true);
  }
  const renormalise = t.switchValue('norm_topk_prob', false);
  if (renormalise !== undefined) {
    t.names.normalize_top_k = 'norm_topk_prob';
    t.fixed('normalize_top_k', renormalise);
  }
  readSparseLayers(t);
}

/**
 * Qwen2MoeDecoderLayer: layer i is sparse iff i is not in mlp_only_layers and
 * (i + 1) % decoder_sparse_step == 0 (and num_experts > 0); the others are a dense MLP of
 * intermediate_size. A model with no sparse layer left is read as dense.
 */
function readSparseLayers(t: Translation): void {
  t.used.add('decoder_sparse_step');
  t.used.add('mlp_only_layers');
  const step = t.has('decoder_sparse_step') ? t.raw['decoder_sparse_step'] : 1;
  if (!t.has('decoder_sparse_step')) t.defaults.push('decoder_sparse_step 1');
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step <= 0) {
    t.problems.push(
      `${t.source}: decoder_sparse_step (${showField(t.raw, 'decoder_sparse_step')}) must be a positive integer; ` +
        'fix: e.g. 1 (every layer sparse) or 2 (every second layer)',
    );
    return;
  }
  const only = t.present('mlp_only_layers') ? t.raw['mlp_only_layers'] : [];
  if (!t.has('mlp_only_layers')) t.defaults.push('mlp_only_layers []');
  if (!Array.isArray(only) || only.some((i) => typeof i !== 'number' || !Number.isSafeInteger(i) || i < 0)) {
    t.problems.push(
      `${t.source}: mlp_only_layers (${showField(t.raw, 'mlp_only_layers')}) must be a list of layer indices; ` +
        'fix: e.g. [] (no dense layer) or [0, 1]',
    );
    return;
  }
  const layers = t.count('num_layers');
  if (layers === undefined) return;
  const experts = t.mapped['num_experts'];
  const dense = Array.from({ length: layers }, (_, i) => i).filter(
    (i) => (only as number[]).includes(i) || (i + 1) % step !== 0,
  );
  if (experts === 0 || dense.length === layers) {
    // Every layer builds Qwen2MoeMLP: a dense model, whatever the expert keys say.
    for (const field of MOE_FIELDS) delete t.mapped[field];
    return;
  }
  if (dense.length === 0) return;
  t.names.dense_layers = (only as number[]).length > 0 ? 'mlp_only_layers' : 'decoder_sparse_step';
  t.fixed('dense_layers', dense);
}

const MOE_FIELDS: readonly ConfigKey[] = [
  'num_experts',
  'experts_per_token',
  'expert_d_ff',
  'shared_d_ff',
  'shared_expert_gate',
  'normalize_top_k',
  'dense_layers',
];

/** How DeepseekV2Config and DeepseekV3Config differ: their defaults and their routers. */
interface DeepseekFamily {
  readonly configClass: string;
  readonly vocab_size: number;
  readonly max_position_embeddings: number;
  readonly num_hidden_layers: number;
  readonly hidden_size: number;
  readonly num_attention_heads: number;
  readonly intermediate_size: number;
  readonly n_routed_experts: number;
  /** null: DeepseekV2Config's None, a dense model. */
  readonly num_experts_per_tok: number | null;
  readonly moe_intermediate_size: number;
  readonly n_shared_experts: number;
  readonly first_k_dense_replace: number;
  readonly norm_topk_prob: boolean;
  /** The router's scores: softmax (V2) or sigmoid (V3), the only ones each modeling file computes. */
  readonly scoring: string;
  /** The top-k methods each modeling file implements. */
  readonly topkMethods: readonly string[];
  readonly topk_method: string;
  readonly n_group: number | null;
  readonly topk_group: number | null;
  readonly routed_scaling_factor: number;
}

/**
 * The defaults of transformers' configuration classes (DeepseekV2Config extends LlamaConfig), from
 * modular_deepseek_v2.py and configuration_deepseek_v3.py.
 */
const DEEPSEEK: Readonly<Record<'deepseek_v2' | 'deepseek_v3', DeepseekFamily>> = {
  deepseek_v2: {
    configClass: 'DeepseekV2Config',
    vocab_size: 32000,
    max_position_embeddings: 2048,
    num_hidden_layers: 32,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 11008,
    n_routed_experts: 64,
    num_experts_per_tok: null,
    moe_intermediate_size: 1407,
    n_shared_experts: 2,
    first_k_dense_replace: 0,
    norm_topk_prob: false,
    scoring: 'softmax',
    topkMethods: ['greedy', 'group_limited_greedy'],
    topk_method: 'greedy',
    n_group: null,
    topk_group: null,
    routed_scaling_factor: 1,
  },
  deepseek_v3: {
    configClass: 'DeepseekV3Config',
    vocab_size: 129280,
    max_position_embeddings: 4096,
    num_hidden_layers: 61,
    hidden_size: 7168,
    num_attention_heads: 128,
    intermediate_size: 18432,
    n_routed_experts: 256,
    num_experts_per_tok: 8,
    moe_intermediate_size: 2048,
    n_shared_experts: 1,
    first_k_dense_replace: 3,
    norm_topk_prob: true,
    scoring: 'sigmoid',
    topkMethods: ['noaux_tc'],
    topk_method: 'noaux_tc',
    n_group: 8,
    topk_group: 4,
    routed_scaling_factor: 2.5,
  },
};

/**
 * DeepseekV2Config and DeepseekV3Config, read as transformers' DeepseekV2/V3 models and DeepSeek's
 * own modeling_deepseek.py build them (config/latent_attention.ts quotes the attention):
 *
 * - attention: q_a_proj, q_a_layernorm and q_b_proj (q_lora_rank), or one q_proj when q_lora_rank
 *   is null (DeepSeek-V2-Lite); kv_a_proj_with_mqa [hidden, kv_lora_rank + qk_rope_head_dim],
 *   kv_a_layernorm, kv_b_proj [kv_lora_rank, H (qk_nope_head_dim + v_head_dim)], o_proj
 *   [H v_head_dim, hidden]. attention_bias would put biases on q_a_proj, kv_a_proj_with_mqa and
 *   o_proj, which is not modelled (refused). num_key_value_heads must equal num_attention_heads:
 *   the keys and values are already per head, and eager attention's repeat_kv would fail otherwise.
 * - experts: layer i is a MoE layer iff i >= first_k_dense_replace (transformers) and
 *   i % moe_layer_freq == 0 (DeepSeek's code); the two agree at moe_layer_freq 1, which every
 *   published config has, and another value is refused. n_routed_experts experts of
 *   moe_intermediate_size, num_experts_per_tok per token; the shared experts are one MLP of
 *   n_shared_experts * moe_intermediate_size (DeepseekV2/V3MoE), with no gate. The router
 *   [hidden, E] has no bias; V3's noaux_tc adds e_score_correction_bias [E] to the scores for the
 *   choice only (an nn.Parameter in DeepSeek's code, a buffer in transformers; it is in the
 *   checkpoint and counted): router_score_bias. Scores: softmax (V2), sigmoid (V3):
 *   router_scoring; norm_topk_prob renormalises the k weights and routed_scaling_factor scales
 *   them (elementwise, no parameter or matmul).
 * - group-limited selection (n_group groups, the best topk_group kept): expert_groups and
 *   expert_groups_kept, ranked by a group's best score for V2's group_limited_greedy
 *   (expert_group_score "max") and by the sum of its two best biased scores for V3's noaux_tc
 *   ("top2_sum"); greedy reads neither key. The traced model routes with them (model/moe.ts).
 * - DeepSeek-V3's num_nextn_predict_layers is its multi-token-prediction module, which
 *   transformers' DeepseekV3Model does not build (it skips layer 61 of the checkpoint): left out,
 *   and said so in a note.
 */
function readDeepseek(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  family: 'deepseek_v2' | 'deepseek_v3',
): Reading {
  const spec = DEEPSEEK[family];
  const t = new Translation(raw, source, spec.configClass);
  t.withDefault('vocab_size', 'vocab_size', spec.vocab_size);
  t.withDefault('max_position_embeddings', 'context_length', spec.max_position_embeddings);
  t.withDefault('num_hidden_layers', 'num_layers', spec.num_hidden_layers);
  t.withDefault('hidden_size', 'd_model', spec.hidden_size);
  t.withDefault('num_attention_heads', 'num_heads', spec.num_attention_heads);
  t.withDefault('intermediate_size', 'd_ff', spec.intermediate_size);
  t.withDefault('tie_word_embeddings', 'tie_embeddings', false);
  readRopeTheta(t, 10000);
  t.oneOf('hidden_act', 'ffn', ['silu', 'swish'], 'silu', "flopledger's SwiGLU MLP gates with SiLU");
  t.fixed('ffn', 'swiglu');
  t.fixed('norm', 'rmsnorm');
  t.fixed('positions', 'rope');
  readDeepseekBiases(t, family);
  readKeyValueHeads(t);
  readLatentWidths(t);
  readDeepseekExperts(t, spec);
  if (family === 'deepseek_v3') {
    t.used.add('num_nextn_predict_layers');
    const mtp = t.raw['num_nextn_predict_layers'];
    if (isSet(mtp)) {
      t.leftOut.push(
        `num_nextn_predict_layers (${showField(t.raw, 'num_nextn_predict_layers')}): the multi-token prediction ` +
          "module is left out, as transformers' DeepseekV3Model leaves it out and as the published total (671B for " +
          'DeepSeek-V3, 685B with it) counts the main model',
      );
    }
  }
  return t.reading();
}

/** attention_bias (both) and mlp_bias (V2's LlamaMLP reads it): biases flopledger does not model with latent attention or experts. */
function readDeepseekBiases(t: Translation, family: 'deepseek_v2' | 'deepseek_v3'): void {
  const attention = t.switchValue('attention_bias', false);
  if (attention === true) {
    t.problems.push(
      `${t.source}: attention_bias (true) puts biases on q_a_proj, kv_a_proj_with_mqa and o_proj, which flopledger ` +
        'does not model with latent attention; fix: remove it if the model has none (false)',
    );
  }
  if (family === 'deepseek_v2') {
    const mlp = t.switchValue('mlp_bias', false);
    if (mlp === true) {
      t.problems.push(
        `${t.source}: mlp_bias (true) puts biases on the dense and shared MLPs but not on the routed experts, ` +
          'which flopledger does not model; fix: remove it if the model has none (false)',
      );
    }
  }
  t.fixed('bias', false);
}

/** num_key_value_heads: read for a check only, as the latent gives every head its own key and value. */
function readKeyValueHeads(t: Translation): void {
  t.used.add('num_key_value_heads');
  const kv = t.raw['num_key_value_heads'];
  const heads = t.count('num_heads');
  if (kv === undefined || kv === null || heads === undefined || kv === heads) return;
  t.problems.push(
    `${t.source}: num_key_value_heads (${showField(t.raw, 'num_key_value_heads')}) differs from num_attention_heads ` +
      `(${heads}); latent attention rebuilds a key and a value for every head, and the model's attention would ` +
      `repeat them again; fix: ${heads}, or remove it`,
  );
}

/** The latent ranks and head widths, with the config classes' defaults (the same in V2 and V3). */
function readLatentWidths(t: Translation): void {
  t.used.add('q_lora_rank');
  t.names.q_lora_rank = 'q_lora_rank';
  if (!t.has('q_lora_rank')) {
    t.mapped['q_lora_rank'] = 1536;
    t.defaults.push('q_lora_rank 1536');
  } else if (t.raw['q_lora_rank'] !== null) t.copy('q_lora_rank', 'q_lora_rank');
  t.withDefault('kv_lora_rank', 'kv_lora_rank', 512);
  t.withDefault('qk_rope_head_dim', 'qk_rope_head_dim', 64);
  t.withDefault('qk_nope_head_dim', 'qk_nope_head_dim', 128);
  t.withDefault('v_head_dim', 'v_head_dim', 128);
}

/** A key that must be a positive integer or null (DeepSeek's "None means none"); undefined for null, NaN when invalid (reported). */
function countOrNull(t: Translation, key: string, fallback: number | null): number | null {
  t.used.add(key);
  if (!t.has(key)) {
    t.defaults.push(`${key} ${fallback ?? 'None'}`);
    return fallback;
  }
  const value = t.raw[key];
  if (value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  t.problems.push(`${t.source}: ${key} (${showField(t.raw, key)}) must be a positive integer or null; fix: e.g. 8`);
  return Number.NaN;
}

/** The experts (readDeepseek's comment says how each key is read). */
function readDeepseekExperts(t: Translation, spec: DeepseekFamily): void {
  const experts = countOrNull(
    t,
    t.has('n_routed_experts') || !t.has('num_local_experts') ? 'n_routed_experts' : 'num_local_experts',
    spec.n_routed_experts,
  );
  const perToken = countOrNull(t, 'num_experts_per_tok', spec.num_experts_per_tok);
  const width = countOrNull(t, 'moe_intermediate_size', spec.moe_intermediate_size);
  const shared = countOrNull(t, 'n_shared_experts', spec.n_shared_experts);
  const firstMoe = t.has('first_k_dense_replace') ? t.raw['first_k_dense_replace'] : spec.first_k_dense_replace;
  t.used.add('first_k_dense_replace');
  if (!t.has('first_k_dense_replace')) t.defaults.push(`first_k_dense_replace ${spec.first_k_dense_replace}`);
  for (const key of [
    'routed_scaling_factor',
    'scoring_func',
    'topk_method',
    'n_group',
    'topk_group',
    'moe_layer_freq',
  ]) {
    t.used.add(key);
  }
  if (experts === null || perToken === null) return; // None: a dense model (every layer the MLP of intermediate_size)
  if (typeof firstMoe !== 'number' || !Number.isSafeInteger(firstMoe) || firstMoe < 0) {
    t.problems.push(
      `${t.source}: first_k_dense_replace (${showField(t.raw, 'first_k_dense_replace')}) must be a whole number; ` +
        'fix: e.g. 1 (layer 0 dense, the others MoE)',
    );
    return;
  }
  const frequency = t.has('moe_layer_freq') ? t.raw['moe_layer_freq'] : 1;
  if (frequency !== 1) {
    t.problems.push(
      `${t.source}: moe_layer_freq (${showField(t.raw, 'moe_layer_freq')}): transformers' DeepseekV2/V3 models ` +
        "put experts in every layer from first_k_dense_replace on, DeepSeek's code in every moe_layer_freq-th; " +
        'the two build different models unless it is 1; fix: 1',
    );
  }
  t.names.num_experts =
    t.has('n_routed_experts') || !t.has('num_local_experts') ? 'n_routed_experts' : 'num_local_experts';
  t.names.experts_per_token = 'num_experts_per_tok';
  t.names.expert_d_ff = 'moe_intermediate_size';
  t.fixed('num_experts', experts);
  t.fixed('experts_per_token', perToken);
  if (width !== null) t.fixed('expert_d_ff', width);
  else t.problems.push(`${t.source}: moe_intermediate_size (null) must be the width of each expert; fix: e.g. 1408`);
  if (shared !== null && width !== null && Number.isFinite(shared) && Number.isFinite(width)) {
    t.names.shared_d_ff = 'n_shared_experts';
    t.fixed('shared_d_ff', shared * width);
  }
  const renormalise = t.switchValue('norm_topk_prob', spec.norm_topk_prob);
  if (renormalise !== undefined) {
    t.names.normalize_top_k = 'norm_topk_prob';
    t.fixed('normalize_top_k', renormalise);
  }
  readDeepseekRouting(t, spec, experts, perToken);
  const layers = t.count('num_layers');
  if (layers === undefined) return;
  if (firstMoe >= layers) {
    // Every layer builds the dense MLP: a dense model, whatever the expert keys say.
    for (const field of MOE_FIELDS) delete t.mapped[field];
    for (const field of ROUTER_KEYS) delete t.mapped[field];
    return;
  }
  if (firstMoe > 0) {
    t.names.dense_layers = 'first_k_dense_replace';
    t.fixed(
      'dense_layers',
      Array.from({ length: firstMoe }, (_, i) => i),
    );
  }
}

/**
 * scoring_func, topk_method, the groups and routed_scaling_factor, read as each family's router
 * computes them (config/moe.ts quotes both): V2's softmax with greedy or group_limited_greedy
 * (groups ranked by their best score), V3's sigmoid with noaux_tc (the score bias, groups ranked
 * by the sum of their two best biased scores).
 */
function readDeepseekRouting(t: Translation, spec: DeepseekFamily, experts: number, perToken: number): void {
  t.withDefault('routed_scaling_factor', 'routed_scaling_factor', spec.routed_scaling_factor);
  const scoring = t.has('scoring_func') ? t.raw['scoring_func'] : spec.scoring;
  if (scoring !== spec.scoring) {
    t.problems.push(
      `${t.source}: scoring_func (${showField(t.raw, 'scoring_func')}): ${spec.configClass}'s model scores experts ` +
        `with ${spec.scoring} only; fix: "${spec.scoring}"`,
    );
  } else {
    t.names.router_scoring = 'scoring_func';
    t.fixed('router_scoring', spec.scoring);
  }
  const method = t.has('topk_method') ? t.raw['topk_method'] : spec.topk_method;
  if (typeof method !== 'string' || !spec.topkMethods.includes(method)) {
    t.problems.push(
      `${t.source}: topk_method (${showField(t.raw, 'topk_method')}) is not a selection ${spec.configClass}'s model ` +
        `implements; fix: ${spec.topkMethods.map((m) => `"${m}"`).join(' or ')}`,
    );
    return;
  }
  if (method === 'noaux_tc') {
    t.names.router_score_bias = 'topk_method';
    t.fixed('router_score_bias', true);
  }
  if (method === 'greedy') return; // one top-k over all experts: n_group and topk_group are not read
  const groups = t.has('n_group') ? t.raw['n_group'] : spec.n_group;
  const kept = t.has('topk_group') ? t.raw['topk_group'] : spec.topk_group;
  if (typeof groups !== 'number' || !Number.isSafeInteger(groups) || groups <= 0 || experts % groups !== 0) {
    t.problems.push(
      `${t.source}: n_group (${groups === undefined ? 'missing' : showValue(groups)}) must divide the ${experts} ` +
        `experts (n_routed_experts) into groups of equal size for topk_method "${method}"; fix: e.g. 8`,
    );
    return;
  }
  if (typeof kept !== 'number' || !Number.isSafeInteger(kept) || kept <= 0 || kept > groups) {
    t.problems.push(
      `${t.source}: topk_group (${kept === undefined ? 'missing' : showValue(kept)}) must be between 1 and the ` +
        `${groups} groups (n_group); fix: e.g. ${Math.min(4, groups)}`,
    );
    return;
  }
  if (perToken > (kept * experts) / groups) {
    t.problems.push(
      `${t.source}: num_experts_per_tok (${perToken}) is more than the ${(kept * experts) / groups} experts of the ` +
        `${kept} groups kept (topk_group of n_group ${groups}); fix: raise topk_group or lower num_experts_per_tok`,
    );
    return;
  }
  if (method === 'noaux_tc' && experts / groups < 2) {
    t.problems.push(
      `${t.source}: n_group (${groups}) leaves one expert per group, but topk_method "noaux_tc" ranks a group by ` +
        `the sum of its two best scores; fix: at most ${Math.floor(experts / 2)} groups`,
    );
    return;
  }
  t.names.expert_groups = 'n_group';
  t.names.expert_groups_kept = 'topk_group';
  t.names.expert_group_score = 'topk_method';
  t.fixed('expert_groups', groups);
  t.fixed('expert_groups_kept', kept);
  t.fixed('expert_group_score', method === 'noaux_tc' ? 'top2_sum' : 'max');
}

/**
 * Gemma2Config and Gemma3TextConfig (the text model of Gemma 3): GeGLU MLP (hidden_activation,
 * the tanh GELU), head_dim of its own, embeddings times sqrt(hidden_size), RMSNorms that multiply
 * by (1 + weight), a norm before and after each sub-block, attention_bias on the four
 * projections, soft-capped logits; Gemma 3 adds q_norm and k_norm and drops the caps by default.
 */
function readGemma(raw: Readonly<Record<string, unknown>>, source: string, family: 'gemma2' | 'gemma3_text'): Reading {
  const gemma3 = family === 'gemma3_text';
  const t = new Translation(raw, source, gemma3 ? 'Gemma3TextConfig' : 'Gemma2Config');
  readDimensions(t, {
    vocab_size: gemma3 ? 262208 : 256000,
    max_position_embeddings: gemma3 ? 131072 : 8192,
    num_hidden_layers: 26,
    hidden_size: 2304,
    num_attention_heads: 8,
    intermediate_size: 9216,
    num_key_value_heads: 4,
  });
  t.withDefault('tie_word_embeddings', 'tie_embeddings', true);
  readRopeTheta(t, gemma3 ? 1_000_000 : 10000);
  // Gemma's MLP reads hidden_activation; "gelu_pytorch_tanh" and "gelu_new" are the same tanh GELU.
  t.oneOf(
    'hidden_activation',
    'ffn',
    ['gelu_pytorch_tanh', 'gelu_new'],
    'gelu_pytorch_tanh',
    "flopledger's GeGLU MLP gates with GELU's tanh approximation",
  );
  t.fixed('ffn', 'geglu');
  t.fixed('norm', 'rmsnorm');
  t.fixed('positions', 'rope');
  t.fixed('scale_embeddings', true);
  t.fixed('zero_centered_gain', true);
  t.fixed('post_norms', true);
  if (gemma3) t.fixed('qk_norm', true);
  readAttentionBias(t);
  t.optionalNumber('final_logit_softcapping', 'final_softcap', gemma3 ? null : 30);
  t.optionalNumber('attn_logit_softcapping', 'attn_softcap', gemma3 ? null : 50);
  readHeadDim(t, 256);
  readWindows(t, family);
  const scalar = t.raw['query_pre_attn_scalar'];
  const headDim = t.mapped['head_dim'];
  if (typeof scalar === 'number' && typeof headDim === 'number' && scalar !== headDim) {
    t.remarks.set(
      'query_pre_attn_scalar',
      `scores scaled by 1/sqrt(${showField(t.raw, 'query_pre_attn_scalar')}) in the model, by 1/sqrt(head_dim ${headDim}) here: the same count`,
    );
  }
  return t.reading();
}

/** The sliding windows, as hf_windows.ts reads each model type's keys. */
function readWindows(t: Translation, family: HuggingFaceFamily): void {
  const windows = readHuggingFaceWindows(t.raw, t.source, family, t.count('num_layers'));
  for (const key of windows.used) t.used.add(key);
  t.defaults.push(...windows.defaults);
  t.problems.push(...windows.problems);
  if (windows.names.window !== undefined) t.names.window = windows.names.window;
  if (windows.names.window_layers !== undefined) t.names.window_layers = windows.names.window_layers;
  // The file's value keeps its written form for messages; a class default has none.
  if (windows.window !== undefined && t.has('sliding_window')) t.copy('sliding_window', 'window');
  else if (windows.window !== undefined) t.fixed('window', windows.window);
  if (windows.windowLayers !== undefined) t.fixed('window_layers', windows.windowLayers);
}

/**
 * The RoPE base: rope_parameters.rope_theta (transformers 5), else rope_theta, else the config
 * class's default. It changes no count, only the model's rotation angles.
 */
function readRopeTheta(t: Translation, fallback: number): void {
  const parameters = t.raw['rope_parameters'];
  if (typeof parameters === 'object' && parameters !== null && Object.hasOwn(parameters, 'rope_theta')) {
    t.names.rope_theta = 'rope_parameters.rope_theta';
    t.mapped['rope_theta'] = (parameters as Record<string, unknown>)['rope_theta'];
    copyWrittenNumber(parameters, 'rope_theta', t.mapped, 'rope_theta');
    t.used.add('rope_theta');
    return;
  }
  t.withDefault('rope_theta', 'rope_theta', fallback);
}

/** The three bias switches: the one shorthand when they agree (every linear layer or none), else each. */
function setBiases(t: Translation, qkv: boolean, output: boolean, mlp: boolean): void {
  if (qkv === output && output === mlp) {
    t.fixed('bias', qkv);
    return;
  }
  t.fixed('qkv_bias', qkv);
  t.fixed('output_bias', output);
  t.fixed('mlp_bias', mlp);
}

/** LlamaConfig's attention_bias (q, k, v and o_proj) and mlp_bias (gate, up and down_proj), both False by default. */
function readLlamaBiases(t: Translation): void {
  const attention = t.switchValue('attention_bias', false);
  const mlp = t.switchValue('mlp_bias', false);
  if (attention === undefined || mlp === undefined) return;
  t.names.qkv_bias = 'attention_bias';
  t.names.output_bias = 'attention_bias';
  t.names.mlp_bias = 'mlp_bias';
  setBiases(t, attention, attention, mlp);
}

/** attention_bias on q, k, v and o_proj (Qwen3, Gemma), False by default; the MLP has no biases. */
function readAttentionBias(t: Translation): void {
  const attention = t.switchValue('attention_bias', false);
  if (attention === undefined) return;
  t.names.qkv_bias = 'attention_bias';
  t.names.output_bias = 'attention_bias';
  setBiases(t, attention, attention, false);
}

/**
 * Phi-3's partial_rotary_factor (top level, or in rope_parameters): RoPE on that share of each
 * head. flopledger rotates whole heads, so a share below 1 is refused rather than counted wrong.
 */
function readPartialRotary(t: Translation): void {
  t.used.add('partial_rotary_factor');
  const parameters = t.raw['rope_parameters'];
  const nested =
    typeof parameters === 'object' && parameters !== null
      ? (parameters as Record<string, unknown>)['partial_rotary_factor']
      : undefined;
  const value = t.raw['partial_rotary_factor'] ?? nested;
  if (value === undefined || value === null || value === 1) return;
  t.problems.push(
    `${t.source}: partial_rotary_factor (${showValue(value)}) rotates only part of each head, which flopledger ` +
      'does not model (it rotates whole heads); fix: remove it if the model rotates whole heads (1.0)',
  );
}

/**
 * head_dim: the file's value, else the config class's default (Qwen3 128, Gemma 256), else
 * hidden_size // num_attention_heads. A width of its own makes q and the attention output
 * num_attention_heads * head_dim wide (Gemma, Qwen3, Mistral-Nemo).
 */
function readHeadDim(t: Translation, fallback: number | undefined): void {
  t.used.add('head_dim');
  t.names.head_dim = 'head_dim';
  if (t.present('head_dim')) {
    const value = t.raw['head_dim'];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      t.problems.push(
        `${t.source}: head_dim (${showField(t.raw, 'head_dim')}) must be a positive integer; ` +
          `fix: remove it (it defaults to ${fallback ?? 'hidden_size / num_attention_heads'})`,
      );
      return;
    }
    t.copy('head_dim', 'head_dim');
    return;
  }
  if (fallback !== undefined) {
    t.mapped['head_dim'] = fallback;
    t.defaults.push(`head_dim ${fallback}`);
    return;
  }
  const [width, heads] = [t.count('d_model'), t.count('num_heads')];
  const split = width !== undefined && heads !== undefined && width % heads === 0 ? width / heads : undefined;
  t.defaults.push(`head_dim ${split ?? ''} (hidden_size / num_attention_heads)`.replace('  ', ' '));
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
function unmodelledProblems(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  used: ReadonlySet<string>,
): string[] {
  return Object.keys(raw)
    .filter((key) => Object.hasOwn(UNMODELLED_KEYS, key) && !used.has(key) && isSet(raw[key]))
    .map((key) =>
      EXPERT_KEYS.has(key)
        ? `${source}: ${key} (${showField(raw, key)}) adds ${UNMODELLED_KEYS[key]}, which model_type ` +
          `${showValue(raw['model_type'])} does not build; counting the rest would describe another model, so the file ` +
          'is refused (fix: the model_type that builds them, "mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2" or ' +
          '"deepseek_v3", or remove the key)'
        : `${source}: ${key} (${showField(raw, key)}) adds ${UNMODELLED_KEYS[key]}, which flopledger does not model; ` +
          'counting the rest would describe another model, so the file is refused (if the model has none, remove the key)',
    );
}

/** The expert keys a MoE model type reads; in a dense model type's file they are refused with the types that read them. */
const EXPERT_KEYS: ReadonlySet<string> = new Set([
  'n_routed_experts',
  'n_shared_experts',
  'num_local_experts',
  'num_experts',
  'num_experts_per_tok',
  'moe_intermediate_size',
  'shared_expert_intermediate_size',
]);

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
  notes.push(...reading.leftOut.map((line) => `${source}: ${line}`));
  if (unknown.length > 0) {
    notes.push(
      `${source}: not understood: ${shortList(unknown)}; the counts leave ${unknown.length === 1 ? 'it' : 'them'} out, ` +
        'so check the model has nothing they add',
    );
  }
  return notes;
}
