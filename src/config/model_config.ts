/**
 * The validated shape of a model. Dimensions are plain numbers (validated positive safe integers);
 * every count derived from them is a bigint. Keys use the seed's snake_case names so a config
 * file, the JSON output and the code read the same.
 */
export interface ModelConfig {
  /** Preset name ("gpt2-xl") or the config file's base name without extension. */
  readonly name: string;
  /** Where the config came from: the preset's JSON path or the user's file; errors cite it. */
  readonly source: string;
  readonly vocab_size: number;
  readonly context_length: number;
  readonly num_layers: number;
  readonly d_model: number;
  readonly num_heads: number;
  readonly d_ff: number;
  /**
   * The overrides that changed this config from its preset or file, e.g. "ctx=16384, d_ff=4288 (swiglu)";
   * absent when nothing changed. `name` stays the preset's so reports can group by it.
   */
  readonly variant?: string;

  // Architecture variants (issue: GQA/MQA, tied embeddings, GPT-2-original blocks). Each is
  // optional and its absence means the seed's model; read them through architectureOf(), the
  // one place that knows the defaults.

  /** Key/value heads: num_heads (multi-head, the default), 1 (multi-query) or a divisor (grouped-query). */
  readonly num_kv_heads?: number;
  /** lm_head reuses token_embeddings (logits = x @ E^T); default false (untied). */
  readonly tie_embeddings?: boolean;
  /** swiglu: W2(SiLU(W1 x) * W3 x) (default); gelu: W2(GELU(W1 x)), the two-matrix MLP. */
  readonly ffn?: FfnKind;
  /** rmsnorm: gain only (default); layernorm: mean-centred, with gain and bias. */
  readonly norm?: NormKind;
  /** rope: rotary, no parameters (default); learned: a [context_length, d_model] table added to the embeddings. */
  readonly positions?: PositionKind;
  /** Biases on every linear layer except lm_head; default false. */
  readonly bias?: boolean;
  /** The embedding table and lm_head are padded to a multiple of this (default 1: no padding). */
  readonly vocab_multiple?: number;
  /** RoPE base; default 10000. Changes no count, only the model's rotation angles. */
  readonly rope_theta?: number;

  /**
   * What the user should know about how the source was read, one line each, e.g. the keys of a
   * Hugging Face config.json that were ignored (no effect on counts) or not understood. The CLI
   * prints each on stderr as "flopledger: note: <line>"; absent when there is nothing to say.
   */
  readonly notes?: readonly string[];
}

export const FFN_KINDS = ['swiglu', 'gelu'] as const;
export type FfnKind = (typeof FFN_KINDS)[number];
export const NORM_KINDS = ['rmsnorm', 'layernorm'] as const;
export type NormKind = (typeof NORM_KINDS)[number];
export const POSITION_KINDS = ['rope', 'learned'] as const;
export type PositionKind = (typeof POSITION_KINDS)[number];

/** The architecture keys a config file may hold besides the six dimensions, in display order. */
export const ARCHITECTURE_KEYS = [
  'num_kv_heads',
  'tie_embeddings',
  'ffn',
  'norm',
  'positions',
  'bias',
  'vocab_multiple',
  'rope_theta',
] as const;
export type ArchitectureKey = (typeof ARCHITECTURE_KEYS)[number];

/** Every architecture choice of a config with its default filled in. */
export interface Architecture {
  readonly num_kv_heads: number;
  readonly tie_embeddings: boolean;
  readonly ffn: FfnKind;
  readonly norm: NormKind;
  readonly positions: PositionKind;
  readonly bias: boolean;
  readonly vocab_multiple: number;
  readonly rope_theta: number;
  /** vocab_size rounded up to a multiple of vocab_multiple: the rows of the embedding and lm_head. */
  readonly padded_vocab_size: number;
  /** d_model / num_heads. */
  readonly head_dim: number;
  /** num_kv_heads * head_dim: the width of the k and v projections. */
  readonly kv_dim: number;
}

/** The seed's architecture: what a config means when it names no variant. */
export const DEFAULT_ARCHITECTURE = {
  tie_embeddings: false,
  ffn: 'swiglu',
  norm: 'rmsnorm',
  positions: 'rope',
  bias: false,
  vocab_multiple: 1,
  rope_theta: 10000,
} as const;

/** The config's architecture with every default applied (the one place defaults live). */
export function architectureOf(config: ModelConfig): Architecture {
  const num_kv_heads = config.num_kv_heads ?? config.num_heads;
  const vocab_multiple = config.vocab_multiple ?? DEFAULT_ARCHITECTURE.vocab_multiple;
  const head_dim = config.d_model / config.num_heads;
  return {
    num_kv_heads,
    tie_embeddings: config.tie_embeddings ?? DEFAULT_ARCHITECTURE.tie_embeddings,
    ffn: config.ffn ?? DEFAULT_ARCHITECTURE.ffn,
    norm: config.norm ?? DEFAULT_ARCHITECTURE.norm,
    positions: config.positions ?? DEFAULT_ARCHITECTURE.positions,
    bias: config.bias ?? DEFAULT_ARCHITECTURE.bias,
    vocab_multiple,
    rope_theta: config.rope_theta ?? DEFAULT_ARCHITECTURE.rope_theta,
    padded_vocab_size: Math.ceil(config.vocab_size / vocab_multiple) * vocab_multiple,
    head_dim,
    kv_dim: num_kv_heads * head_dim,
  };
}

/** The keys a config file may hold, in the seed's order. */
export const MODEL_CONFIG_KEYS = [
  'vocab_size',
  'context_length',
  'num_layers',
  'd_model',
  'num_heads',
  'd_ff',
] as const;
export type ModelDimension = (typeof MODEL_CONFIG_KEYS)[number];

/** One forward pass: `batch` sequences of `seq` tokens (seq <= context_length). */
export interface RunShape {
  readonly batch: number;
  readonly seq: number;
}

/** Per-head width dk = d_model / num_heads (validated to divide exactly). */
export function headDim(config: ModelConfig): number {
  return config.d_model / config.num_heads;
}

/** "gpt2-xl", or "gpt2-xl (ctx=16384)" when overrides changed it. */
export function modelLabel(config: ModelConfig): string {
  return config.variant === undefined ? config.name : `${config.name} (${config.variant})`;
}
