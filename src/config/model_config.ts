/**
 * The validated shape of a model. Dimensions are plain numbers (validated positive safe integers);
 * every count derived from them is a bigint. Keys use the seed's snake_case names so a config
 * file, the JSON output and the code read the same.
 */
import type { AttentionSchedule } from './attention_schedule.js';

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
  /**
   * The width of one attention head; default d_model / num_heads. Any other value (Gemma, Qwen3,
   * Mistral-Nemo) makes q and the attention output num_heads * head_dim wide, not d_model.
   */
  readonly head_dim?: number;
  /** lm_head reuses token_embeddings (logits = x @ E^T); default false (untied). */
  readonly tie_embeddings?: boolean;
  /**
   * swiglu: W2(SiLU(W1 x) * W3 x) (default); gelu: W2(GELU(W1 x)), the two-matrix MLP;
   * geglu: W2(GELU(W1 x) * W3 x), GELU in its tanh form (Gemma's gelu_pytorch_tanh).
   */
  readonly ffn?: FfnKind;
  /** rmsnorm: gain only (default); layernorm: mean-centred, with gain and bias. */
  readonly norm?: NormKind;
  /** rope: rotary, no parameters (default); learned: a [context_length, d_model] table added to the embeddings. */
  readonly positions?: PositionKind;
  /**
   * Shorthand for qkv_bias, output_bias and mlp_bias together (biases on every linear layer except
   * lm_head); default false. Each of the three, when given, overrides it for its layers.
   */
  readonly bias?: boolean;
  /** Biases on q_proj, k_proj and v_proj (or the fused qkv_proj), as Qwen2 has them. */
  readonly qkv_bias?: boolean;
  /** A bias on output_proj. */
  readonly output_bias?: boolean;
  /** Biases on the FFN's matrices. */
  readonly mlp_bias?: boolean;
  /** A norm over head_dim on every query and key head, before RoPE (Qwen3's q_norm and k_norm); default false. */
  readonly qk_norm?: boolean;
  /** q, k and v as one projection [d, (H + 2 Hkv) * head_dim], split after the matmul (Phi-3's qkv_proj); default false. */
  readonly fused_qkv?: boolean;
  /** A gated FFN's W1 and W3 as one projection [d, 2 d_ff], split after the matmul (Phi-3's gate_up_proj); default false. */
  readonly fused_gate_up?: boolean;
  /** The token embeddings are multiplied by sqrt(d_model) after the lookup (Gemma); default false. */
  readonly scale_embeddings?: boolean;
  /** Every norm stores its gain centred on 0 and multiplies by (1 + gain) (Gemma's RMSNorm); default false. */
  readonly zero_centered_gain?: boolean;
  /** A norm on the output of each sub-block before its residual add (Gemma 2's post-attention and post-FFN norms); default false. */
  readonly post_norms?: boolean;
  /** Attention logits soft-capped as cap * tanh(scores / cap) before the mask (Gemma 2: 50); absent: no cap. */
  readonly attn_softcap?: number;
  /** Output logits soft-capped as cap * tanh(logits / cap) (Gemma 2: 30); absent: no cap. */
  readonly final_softcap?: number;
  /**
   * Sliding-window attention: a query at position q sees the keys q - window < k <= q (windows.ts
   * says why, with the Hugging Face source). Absent: every layer attends to all earlier positions.
   */
  readonly window?: number;
  /** Which layers use the window: a pattern of L and G repeated from layer 0 ("LG"), or their indices; absent: every layer. */
  readonly window_layers?: WindowLayers;
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

/** Which layers have the sliding window: a pattern of L and G repeated from layer 0, or the sliding layers' indices (windows.ts). */
export type WindowLayers = string | readonly number[];

export const FFN_KINDS = ['swiglu', 'gelu', 'geglu'] as const;
export type FfnKind = (typeof FFN_KINDS)[number];
export const NORM_KINDS = ['rmsnorm', 'layernorm'] as const;
export type NormKind = (typeof NORM_KINDS)[number];
export const POSITION_KINDS = ['rope', 'learned'] as const;
export type PositionKind = (typeof POSITION_KINDS)[number];

/** The architecture keys a config file may hold besides the six dimensions, in display order. */
export const ARCHITECTURE_KEYS = [
  'num_kv_heads',
  'head_dim',
  'tie_embeddings',
  'ffn',
  'norm',
  'positions',
  'bias',
  'qkv_bias',
  'output_bias',
  'mlp_bias',
  'qk_norm',
  'fused_qkv',
  'fused_gate_up',
  'scale_embeddings',
  'zero_centered_gain',
  'post_norms',
  'attn_softcap',
  'final_softcap',
  'window',
  'window_layers',
  'vocab_multiple',
  'rope_theta',
] as const;
export type ArchitectureKey = (typeof ARCHITECTURE_KEYS)[number];

/** Every architecture choice of a config with its default filled in. */
export interface Architecture {
  readonly num_kv_heads: number;
  readonly tie_embeddings: boolean;
  readonly ffn: FfnKind;
  /** The FFN multiplies an activated W1 x by W3 x (SwiGLU, GeGLU): three matrices, or two with gate_up fused. */
  readonly gated_ffn: boolean;
  readonly norm: NormKind;
  readonly positions: PositionKind;
  /** Biases on every linear layer but lm_head (qkv_bias, output_bias and mlp_bias all set). */
  readonly bias: boolean;
  readonly qkv_bias: boolean;
  readonly output_bias: boolean;
  readonly mlp_bias: boolean;
  /** Some linear layer has a bias. */
  readonly any_bias: boolean;
  readonly qk_norm: boolean;
  readonly fused_qkv: boolean;
  readonly fused_gate_up: boolean;
  readonly scale_embeddings: boolean;
  readonly zero_centered_gain: boolean;
  readonly post_norms: boolean;
  /** The attention-logit cap, or undefined for none. */
  readonly attn_softcap: number | undefined;
  /** The output-logit cap, or undefined for none. */
  readonly final_softcap: number | undefined;
  readonly vocab_multiple: number;
  readonly rope_theta: number;
  /** vocab_size rounded up to a multiple of vocab_multiple: the rows of the embedding and lm_head. */
  readonly padded_vocab_size: number;
  /** The config's head_dim, else d_model / num_heads. */
  readonly head_dim: number;
  /** num_heads * head_dim: the width of q and of the attention output (d_model unless head_dim is its own). */
  readonly q_dim: number;
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
  qk_norm: false,
  fused_qkv: false,
  fused_gate_up: false,
  scale_embeddings: false,
  zero_centered_gain: false,
  post_norms: false,
  vocab_multiple: 1,
  rope_theta: 10000,
} as const;

/** The config's architecture with every default applied (the one place defaults live). */
export function architectureOf(config: ModelConfig): Architecture {
  const num_kv_heads = config.num_kv_heads ?? config.num_heads;
  const vocab_multiple = config.vocab_multiple ?? DEFAULT_ARCHITECTURE.vocab_multiple;
  const head_dim = config.head_dim ?? config.d_model / config.num_heads;
  const ffn = config.ffn ?? DEFAULT_ARCHITECTURE.ffn;
  const bias = config.bias ?? DEFAULT_ARCHITECTURE.bias;
  const qkv_bias = config.qkv_bias ?? bias;
  const output_bias = config.output_bias ?? bias;
  const mlp_bias = config.mlp_bias ?? bias;
  return {
    num_kv_heads,
    tie_embeddings: config.tie_embeddings ?? DEFAULT_ARCHITECTURE.tie_embeddings,
    ffn,
    gated_ffn: ffn !== 'gelu',
    norm: config.norm ?? DEFAULT_ARCHITECTURE.norm,
    positions: config.positions ?? DEFAULT_ARCHITECTURE.positions,
    bias: qkv_bias && output_bias && mlp_bias,
    qkv_bias,
    output_bias,
    mlp_bias,
    any_bias: qkv_bias || output_bias || mlp_bias,
    qk_norm: config.qk_norm ?? DEFAULT_ARCHITECTURE.qk_norm,
    fused_qkv: config.fused_qkv ?? DEFAULT_ARCHITECTURE.fused_qkv,
    fused_gate_up: config.fused_gate_up ?? DEFAULT_ARCHITECTURE.fused_gate_up,
    scale_embeddings: config.scale_embeddings ?? DEFAULT_ARCHITECTURE.scale_embeddings,
    zero_centered_gain: config.zero_centered_gain ?? DEFAULT_ARCHITECTURE.zero_centered_gain,
    post_norms: config.post_norms ?? DEFAULT_ARCHITECTURE.post_norms,
    attn_softcap: config.attn_softcap,
    final_softcap: config.final_softcap,
    vocab_multiple,
    rope_theta: config.rope_theta ?? DEFAULT_ARCHITECTURE.rope_theta,
    padded_vocab_size: Math.ceil(config.vocab_size / vocab_multiple) * vocab_multiple,
    head_dim,
    q_dim: config.num_heads * head_dim,
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
  /** How the attention core is computed (attention_schedule.ts); absent: dense, every score then the mask. */
  readonly attention?: AttentionSchedule;
}

/** Per-head width dk: the config's head_dim, else d_model / num_heads (validated to divide exactly). */
export function headDim(config: ModelConfig): number {
  return config.head_dim ?? config.d_model / config.num_heads;
}

/** "gpt2-xl", or "gpt2-xl (ctx=16384)" when overrides changed it. */
export function modelLabel(config: ModelConfig): string {
  return config.variant === undefined ? config.name : `${config.name} (${config.variant})`;
}
