/**
 * Every key a flopledger config file may hold, what kind of value it takes, and the one-line
 * message for a value of the wrong kind: the field as the source spells it, the value, and a fix.
 * The six dimensions are required; the architecture keys are optional and their absence means
 * the seed's model (architectureOf holds the defaults).
 */
import type { FieldIssue } from '../core/errors.js';
import { closestMatch } from './did_you_mean.js';
import { isWholeNumberText, writtenNumber } from './json_document.js';
import {
  ARCHITECTURE_KEYS,
  EXPERT_GROUP_SCORES,
  FFN_KINDS,
  MODEL_CONFIG_KEYS,
  NORM_KINDS,
  POSITION_KINDS,
  ROUTER_SCORINGS,
  type ArchitectureKey,
  type ModelDimension,
} from './model_config.js';
import { printable } from './printable.js';

export type ConfigKey = ModelDimension | ArchitectureKey;

/** The keys of a config file: the six required dimensions, then the optional architecture keys. */
export const CONFIG_FILE_KEYS: readonly ConfigKey[] = [...MODEL_CONFIG_KEYS, ...ARCHITECTURE_KEYS];

/**
 * How messages spell a key. A flopledger file uses the keys themselves; a Hugging Face
 * config.json read through the same rules names its own keys ("hidden_size" for d_model).
 */
export type KeyNames = (key: ConfigKey) => string;
export const OWN_KEY_NAMES: KeyNames = (key) => key;

interface Choice {
  readonly values: readonly string[];
  /** What each value means, for the fix of a value that is none of them. */
  readonly meanings: Readonly<Record<string, string>>;
  /** Names other tools use for the same choices, for "did you mean". */
  readonly aliases: Readonly<Record<string, string>>;
  /**
   * Real alternatives flopledger does not model, a letter away from a choice ("relu" from
   * "gelu", "nope" from "rope"): they get the list of choices, never a suggestion.
   */
  readonly others: readonly string[];
}

const CHOICES: Readonly<Record<'ffn' | 'norm' | 'positions' | 'router_scoring' | 'expert_group_score', Choice>> = {
  ffn: {
    values: FFN_KINDS,
    meanings: {
      swiglu: 'W2(SiLU(W1 x) * W3 x)',
      gelu: 'W2 GELU(W1 x), two matrices',
      geglu: 'W2(GELU(W1 x) * W3 x)',
    },
    aliases: {
      silu: 'swiglu',
      swish: 'swiglu',
      glu: 'swiglu',
      gelu_new: 'gelu',
      gelu_pytorch_tanh: 'gelu',
      mlp: 'gelu',
      gelu_glu: 'geglu',
      gated_gelu: 'geglu',
    },
    others: ['relu', 'relu2', 'squared_relu', 'reglu'],
  },
  norm: {
    values: NORM_KINDS,
    meanings: { rmsnorm: 'gain only', layernorm: 'mean-centred, gain and bias' },
    aliases: { rms: 'rmsnorm', rms_norm: 'rmsnorm', ln: 'layernorm', layer_norm: 'layernorm' },
    others: ['batchnorm', 'groupnorm', 'none'],
  },
  positions: {
    values: POSITION_KINDS,
    meanings: { rope: 'rotary, no parameters', learned: 'a context_length x d_model table' },
    aliases: { rotary: 'rope', absolute: 'learned', learned_absolute: 'learned', wpe: 'learned' },
    others: ['nope', 'none', 'alibi', 'sinusoidal', 'relative'],
  },
  router_scoring: {
    values: ROUTER_SCORINGS,
    meanings: { softmax: 'over the E logits', sigmoid: 'of each logit, DeepSeek-V3' },
    aliases: {},
    others: ['sqrtsoftplus', 'none'],
  },
  expert_group_score: {
    values: EXPERT_GROUP_SCORES,
    meanings: { max: "a group's best score, DeepSeek-V2", top2_sum: 'the sum of its two best, DeepSeek-V3' },
    aliases: { group_limited_greedy: 'max', noaux_tc: 'top2_sum', amax: 'max', top2: 'top2_sum' },
    others: ['greedy', 'sum', 'mean'],
  },
};

type FieldKind = 'count' | 'switch' | 'choice' | 'number' | 'layers' | 'indices';

const FIELD_KINDS: Readonly<Record<ConfigKey, FieldKind>> = {
  vocab_size: 'count',
  context_length: 'count',
  num_layers: 'count',
  d_model: 'count',
  num_heads: 'count',
  d_ff: 'count',
  num_kv_heads: 'count',
  head_dim: 'count',
  tie_embeddings: 'switch',
  ffn: 'choice',
  norm: 'choice',
  positions: 'choice',
  bias: 'switch',
  qkv_bias: 'switch',
  output_bias: 'switch',
  mlp_bias: 'switch',
  qk_norm: 'switch',
  fused_qkv: 'switch',
  fused_gate_up: 'switch',
  scale_embeddings: 'switch',
  zero_centered_gain: 'switch',
  post_norms: 'switch',
  attn_softcap: 'number',
  final_softcap: 'number',
  window: 'count',
  window_layers: 'layers',
  vocab_multiple: 'count',
  rope_theta: 'number',
  num_experts: 'count',
  experts_per_token: 'count',
  expert_d_ff: 'count',
  shared_d_ff: 'count',
  shared_expert_gate: 'switch',
  router_bias: 'switch',
  normalize_top_k: 'switch',
  dense_layers: 'indices',
  router_score_bias: 'switch',
  router_scoring: 'choice',
  expert_groups: 'count',
  expert_groups_kept: 'count',
  expert_group_score: 'choice',
  routed_scaling_factor: 'number',
  q_lora_rank: 'count',
  kv_lora_rank: 'count',
  qk_rope_head_dim: 'count',
  qk_nope_head_dim: 'count',
  v_head_dim: 'count',
};

/** Example values for fixes: GPT-2 small's shape, and common architecture choices. */
const EXAMPLE_COUNTS: Readonly<
  Record<
    | ModelDimension
    | 'num_kv_heads'
    | 'head_dim'
    | 'window'
    | 'vocab_multiple'
    | 'num_experts'
    | 'experts_per_token'
    | 'expert_d_ff'
    | 'shared_d_ff'
    | 'expert_groups'
    | 'expert_groups_kept'
    | 'q_lora_rank'
    | 'kv_lora_rank'
    | 'qk_rope_head_dim'
    | 'qk_nope_head_dim'
    | 'v_head_dim',
    number
  >
> = {
  vocab_size: 50257,
  context_length: 1024,
  num_layers: 12,
  d_model: 768,
  num_heads: 12,
  d_ff: 3072,
  num_kv_heads: 4,
  head_dim: 128,
  window: 4096,
  vocab_multiple: 64,
  num_experts: 8,
  experts_per_token: 2,
  expert_d_ff: 14336,
  shared_d_ff: 5632,
  expert_groups: 8,
  expert_groups_kept: 4,
  q_lora_rank: 1536,
  kv_lora_rank: 512,
  qk_rope_head_dim: 64,
  qk_nope_head_dim: 128,
  v_head_dim: 128,
};

/** Key names other tools use (Hugging Face, nanoGPT, Megatron), for "did you mean". */
const KEY_ALIASES: Readonly<Record<string, ConfigKey>> = {
  n_vocab: 'vocab_size',
  n_ctx: 'context_length',
  n_positions: 'context_length',
  block_size: 'context_length',
  max_position_embeddings: 'context_length',
  max_seq_len: 'context_length',
  n_layer: 'num_layers',
  n_layers: 'num_layers',
  num_hidden_layers: 'num_layers',
  n_embd: 'd_model',
  hidden_size: 'd_model',
  dim: 'd_model',
  n_head: 'num_heads',
  n_heads: 'num_heads',
  num_attention_heads: 'num_heads',
  n_inner: 'd_ff',
  intermediate_size: 'd_ff',
  ffn_dim: 'd_ff',
  hidden_dim: 'd_ff',
  num_key_value_heads: 'num_kv_heads',
  n_kv_heads: 'num_kv_heads',
  kv_heads: 'num_kv_heads',
  tie_word_embeddings: 'tie_embeddings',
  tied_embeddings: 'tie_embeddings',
  hidden_act: 'ffn',
  activation_function: 'ffn',
  norm_type: 'norm',
  normalization: 'norm',
  position_embedding_type: 'positions',
  pos_emb: 'positions',
  use_bias: 'bias',
  attention_bias: 'qkv_bias',
  qkv_proj_bias: 'qkv_bias',
  o_proj_bias: 'output_bias',
  dim_head: 'head_dim',
  head_size: 'head_dim',
  kv_channels: 'head_dim',
  use_qk_norm: 'qk_norm',
  qk_layernorm: 'qk_norm',
  attn_logit_softcapping: 'attn_softcap',
  final_logit_softcapping: 'final_softcap',
  sandwich_norm: 'post_norms',
  sliding_window: 'window',
  window_size: 'window',
  attention_window: 'window',
  layer_types: 'window_layers',
  sliding_window_pattern: 'window_layers',
  max_window_layers: 'window_layers',
  pad_vocab_size_multiple: 'vocab_multiple',
  make_vocab_size_divisible_by: 'vocab_multiple',
  rope_base: 'rope_theta',
  num_local_experts: 'num_experts',
  n_routed_experts: 'num_experts',
  moe_num_experts: 'num_experts',
  num_experts_per_tok: 'experts_per_token',
  top_k: 'experts_per_token',
  moe_top_k: 'experts_per_token',
  moe_intermediate_size: 'expert_d_ff',
  shared_expert_intermediate_size: 'shared_d_ff',
  norm_topk_prob: 'normalize_top_k',
  mlp_only_layers: 'dense_layers',
  rotary_emb_base: 'rope_theta',
  e_score_correction_bias: 'router_score_bias',
  scoring_func: 'router_scoring',
  n_group: 'expert_groups',
  topk_group: 'expert_groups_kept',
  topk_method: 'expert_group_score',
  route_scale: 'routed_scaling_factor',
};

export function isConfigKey(key: string): key is ConfigKey {
  return (CONFIG_FILE_KEYS as readonly string[]).includes(key);
}

/** "unknown key" with the closest key, or the list of keys when none is close. */
export function unknownKeyProblem(source: string, key: string): string {
  const suggestion = closestMatch(key, CONFIG_FILE_KEYS, KEY_ALIASES);
  const shown = printable(key);
  return suggestion !== undefined
    ? `${source}: unknown key "${shown}": did you mean "${suggestion}"?`
    : `${source}: unknown key "${shown}"; the keys are ${MODEL_CONFIG_KEYS.join(', ')} ` +
        `and optionally ${ARCHITECTURE_KEYS.join(', ')}`;
}

/**
 * The problem of `field` holding `value`, which its schema rejected, as one message line (the
 * field as the source spells it, the value, a fix) and as data (core/errors.ts FieldIssue: the
 * value as written, what it takes, the accepted values), so a command line can phrase the fix as
 * a flag. `raw` is the whole object, for examples.
 */
export function fieldIssue(
  source: string,
  field: ConfigKey,
  value: unknown,
  raw: Readonly<Record<string, unknown>>,
  names: KeyNames = OWN_KEY_NAMES,
): FieldIssue {
  const written = typeof value === 'number' ? writtenNumber(raw, field) : undefined;
  const shown = `${source}: ${names(field)} (${written ?? showValue(value)})`;
  const about = {
    field,
    key: names(field),
    value,
    ...(written !== undefined && written !== String(value) ? { written } : {}),
  };
  switch (FIELD_KINDS[field]) {
    case 'count': {
      const fix = countFix(field as keyof typeof EXAMPLE_COUNTS, value, written, raw, names);
      return { ...about, expected: 'a positive integer', problem: `${shown} must be a positive integer; fix: ${fix}` };
    }
    case 'switch':
      return {
        ...about,
        expected: 'true or false',
        allowed: ['true', 'false'],
        problem: `${shown} must be true or false; fix: ${switchFix(value)}`,
      };
    case 'choice': {
      const choice = CHOICES[field as keyof typeof CHOICES];
      const suggestion = choiceSuggestion(choice, value);
      return {
        ...about,
        expected: `one of ${quotedList(choice.values)}`,
        allowed: choice.values,
        ...(suggestion !== undefined ? { suggestion } : {}),
        problem: `${shown} must be ${quotedList(choice.values)}; ${choiceFix(field as keyof typeof CHOICES, suggestion, names)}`,
      };
    }
    case 'layers':
      return {
        ...about,
        expected: 'a pattern of L and G, or a list of layer indices',
        problem:
          `${shown} must be a pattern of L (sliding) and G (full attention) such as "LG", ` +
          `or a list of layer indices such as [0, 2]; fix: e.g. "${names('window_layers')}": "LG"`,
      };
    case 'indices':
      return {
        ...about,
        expected: 'a list of layer indices',
        problem: `${shown} must be a list of layer indices such as [0, 1, 2]; fix: e.g. "${names(field)}": [0]`,
      };
    case 'number':
      return {
        ...about,
        expected: 'a positive number',
        problem: `${shown} must be a positive number; fix: ${numberFix(field, value)}`,
      };
  }
}

/** Whether `field` holds a count (a positive integer), whose written form must be a whole number. */
export function isCountField(field: ConfigKey): boolean {
  return FIELD_KINDS[field] === 'count';
}

function countFix(
  field: keyof typeof EXAMPLE_COUNTS,
  value: unknown,
  written: string | undefined,
  raw: Readonly<Record<string, unknown>>,
  names: KeyNames,
): string {
  const example = countExample(field, raw);
  if (value === undefined) return `add it, e.g. "${names(field)}": ${example}`;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value) && BigInt(value.trim()) > 0n) {
    return `write ${value.trim()} without quotes`;
  }
  if (typeof value !== 'number') return `use a whole number, e.g. ${example}`;
  if (!Number.isFinite(value)) return `use a whole number, e.g. ${example}`;
  // A fraction too small for a double ("4096.00000000000000001") parses as a whole number.
  if (!Number.isInteger(value) || (written !== undefined && !isWholeNumberText(written))) {
    const nearby = [...new Set([Math.floor(value), Math.ceil(value)])].filter((n) => n >= 1);
    return `use a whole number, e.g. ${nearby.length > 0 ? nearby.join(' or ') : example}`;
  }
  if (value <= 0) return `use a value of at least 1, e.g. ${value < 0 ? -value : example}`;
  return `use at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`;
}

/** d_ff's example follows the config's own d_model (the GPT-2 rule d_ff = 4 * d_model) when that is valid. */
function countExample(field: keyof typeof EXAMPLE_COUNTS, raw: Readonly<Record<string, unknown>>): string {
  const d = raw['d_model'];
  if (field === 'd_ff' && typeof d === 'number' && Number.isSafeInteger(d) && d > 0) return `${4 * d} (4 * d_model)`;
  return String(EXAMPLE_COUNTS[field]);
}

function switchFix(value: unknown): string {
  if (typeof value === 'string' && /^\s*(true|false)\s*$/i.test(value))
    return `write ${value.trim().toLowerCase()} without quotes`;
  if (value === 1 || value === 0) return `write ${value === 1 ? 'true' : 'false'}`;
  return 'use true or false';
}

function choiceSuggestion(choice: Choice, value: unknown): string | undefined {
  if (typeof value !== 'string' || isOther(value, choice)) return undefined;
  return closestMatch(value, choice.values, choice.aliases);
}

function choiceFix(field: keyof typeof CHOICES, suggestion: string | undefined, names: KeyNames): string {
  if (suggestion !== undefined) return `did you mean "${suggestion}"?`;
  const choice = CHOICES[field];
  const meanings = choice.values.map((kind) => `"${kind}" (${choice.meanings[kind]})`);
  const listed =
    meanings.length <= 2 ? meanings.join(' or ') : `${meanings.slice(0, -1).join(', ')} or ${meanings.at(-1)}`;
  return `fix: use ${listed}, e.g. "${names(field)}": "${choice.values[0]}"`;
}

function isOther(value: string, choice: Choice): boolean {
  const folded = value.toLowerCase().replace(/[-_.\s]/g, '');
  return choice.others.some((other) => other.replace(/_/g, '') === folded);
}

function numberFix(field: ConfigKey, value: unknown): string {
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) && Number(value) > 0) {
    return `write ${value.trim()} without quotes`;
  }
  if (field === 'attn_softcap') return 'use e.g. 50 (Gemma 2), or remove the key for no cap';
  if (field === 'final_softcap') return 'use e.g. 30 (Gemma 2), or remove the key for no cap';
  if (field === 'routed_scaling_factor') return 'use e.g. 2.5 (DeepSeek-V3), or remove the key for 1';
  return 'use e.g. 10000 (the RoPE paper and Llama 2) or 500000 (Llama 3)';
}

function quotedList(values: readonly string[]): string {
  const quoted = values.map((value) => `"${value}"`);
  return quoted.length <= 2 ? quoted.join(' or ') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

/** A value for a message: numbers as they are, anything else as JSON, printable and at most 40 characters. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? typeof value;
  } catch {
    // A structure too deep or cyclic for JSON.stringify; its type is all a message needs.
    shown = Array.isArray(value) ? '[...]' : typeof value;
  }
  return printable(shown);
}

/** `raw[key]` for a message: a number as the source wrote it, anything else through showValue. */
export function showField(raw: Readonly<Record<string, unknown>>, key: string): string {
  const value = raw[key];
  return (typeof value === 'number' ? writtenNumber(raw, key) : undefined) ?? showValue(value);
}
