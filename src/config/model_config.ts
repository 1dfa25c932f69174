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

  // Mixture of experts (moe.ts says how a layer routes). num_experts makes the FFN of every layer
  // not in dense_layers a router, E routed experts and optionally one shared expert; absent: dense.

  /** E, the routed experts of each MoE layer (Mixtral's num_local_experts, Qwen's num_experts). */
  readonly num_experts?: number;
  /** k, the routed experts each token visits (num_experts_per_tok); required with num_experts, at most E. */
  readonly experts_per_token?: number;
  /** The FFN width of one routed expert (moe_intermediate_size); default d_ff (Mixtral). */
  readonly expert_d_ff?: number;
  /** The width of the shared expert every token also visits (Qwen2-MoE's shared_expert_intermediate_size); absent: none. */
  readonly shared_d_ff?: number;
  /** The shared expert's output is scaled by sigmoid(x w), w a [d, 1] weight (Qwen2-MoE's shared_expert_gate); default false. */
  readonly shared_expert_gate?: boolean;
  /** A bias on the router's [d, E] projection; default false (none of Mixtral, Qwen2-MoE, Qwen3-MoE has one). */
  readonly router_bias?: boolean;
  /** The k selected softmax weights are divided by their sum (Mixtral always; Qwen's norm_topk_prob); default false. */
  readonly normalize_top_k?: boolean;
  /** The layers that keep the dense FFN of width d_ff, by index (first_k_dense_replace, mlp_only_layers...); absent: none. */
  readonly dense_layers?: readonly number[];
  /**
   * A bias [E] added to the router's scores for the choice of experts only, not to their weights
   * (DeepSeek-V3's e_score_correction_bias, an nn.Parameter in DeepSeek's modeling code); default false.
   */
  readonly router_score_bias?: boolean;
  /** The router's scores: softmax over the E logits (Mixtral, Qwen, DeepSeek-V2) or a sigmoid of each (DeepSeek-V3); default softmax. */
  readonly router_scoring?: RouterScoring;
  /**
   * Group-limited selection (DeepSeek's n_group): the E experts in this many groups of E / G, and
   * each token chooses its k experts from its best expert_groups_kept groups only; absent: one top-k
   * over all experts.
   */
  readonly expert_groups?: number;
  /** The groups each token keeps (DeepSeek's topk_group); required with expert_groups, at most expert_groups. */
  readonly expert_groups_kept?: number;
  /**
   * How a group is ranked: "max", its best score (DeepSeek-V2's group_limited_greedy), or
   * "top2_sum", the sum of its two best (DeepSeek-V3's noaux_tc), the score bias included;
   * default "top2_sum" with router_score_bias and "max" without, as DeepSeek-V3's inference code.
   */
  readonly expert_group_score?: ExpertGroupScore;
  /** The k routing weights are multiplied by this (DeepSeek's routed_scaling_factor), after any renormalisation; default 1. */
  readonly routed_scaling_factor?: number;

  // Multi-head latent attention (latent_attention.ts says how a layer computes it). kv_lora_rank
  // makes every layer's attention latent: keys and values are rebuilt per head from a shared
  // latent, which with the rope key is all a decode cache keeps; absent: q, k and v projections.

  /** The rank of the query latent (q_down [d, rq], its RMSNorm, q_up [rq, H (dn + dr)]); absent: one full-rank q_proj [d, H (dn + dr)]. */
  readonly q_lora_rank?: number;
  /** The width of the key/value latent c_KV (kv_down's first kv_lora_rank outputs, and its RMSNorm). */
  readonly kv_lora_rank?: number;
  /** dr, the rotary part of each query and key head; the key's is one head shared by all (kv_down's last dr outputs). */
  readonly qk_rope_head_dim?: number;
  /** dn, the part of each query and key head without rotation, rebuilt from the latent by kv_up. */
  readonly qk_nope_head_dim?: number;
  /** dv, the width of each value head (kv_up's other output); the attention output is H dv wide. */
  readonly v_head_dim?: number;

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
export const ROUTER_SCORINGS = ['softmax', 'sigmoid'] as const;
export type RouterScoring = (typeof ROUTER_SCORINGS)[number];
export const EXPERT_GROUP_SCORES = ['max', 'top2_sum'] as const;
export type ExpertGroupScore = (typeof EXPERT_GROUP_SCORES)[number];

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
  'num_experts',
  'experts_per_token',
  'expert_d_ff',
  'shared_d_ff',
  'shared_expert_gate',
  'router_bias',
  'normalize_top_k',
  'dense_layers',
  'router_score_bias',
  'router_scoring',
  'expert_groups',
  'expert_groups_kept',
  'expert_group_score',
  'routed_scaling_factor',
  'q_lora_rank',
  'kv_lora_rank',
  'qk_rope_head_dim',
  'qk_nope_head_dim',
  'v_head_dim',
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
  /** The mixture of experts, or undefined for a dense model. */
  readonly moe: MoeArchitecture | undefined;
  /**
   * Multi-head latent attention, or undefined for q, k and v projections. With it, head_dim is
   * the score depth dn + dr, num_kv_heads is num_heads (each head gets its own key and value from
   * the latent) and q_dim is H (dn + dr); kv_dim names no projection and is H dv, the width of the
   * values and of the attention output.
   */
  readonly mla: MlaArchitecture | undefined;
  /** num_heads * head_dim: the width of q and of the attention output (d_model unless head_dim is its own). */
  readonly q_dim: number;
  /** num_kv_heads * head_dim: the width of the k and v projections. */
  readonly kv_dim: number;
}

/** A mixture of experts with every default applied. */
export interface MoeArchitecture {
  /** E routed experts per MoE layer. */
  readonly num_experts: number;
  /** k routed experts per token. */
  readonly experts_per_token: number;
  /** The width of one routed expert's FFN. */
  readonly expert_d_ff: number;
  /** The shared expert's width, or undefined for none. */
  readonly shared_d_ff: number | undefined;
  readonly shared_expert_gate: boolean;
  readonly router_bias: boolean;
  readonly normalize_top_k: boolean;
  readonly router_score_bias: boolean;
  readonly router_scoring: RouterScoring;
  /** Group-limited selection, or undefined for one top-k over all E experts. */
  readonly groups: ExpertGroups | undefined;
  /** 1 when the config says nothing (no multiply is run). */
  readonly routed_scaling_factor: number;
  /** Whether each layer, in order, is a MoE layer (else it keeps the dense FFN of width d_ff). */
  readonly moe_layers: readonly boolean[];
}

/** DeepSeek's group-limited selection (config/moe.ts). */
export interface ExpertGroups {
  /** G groups of E / G consecutive experts. */
  readonly count: number;
  /** The groups each token keeps. */
  readonly kept: number;
  readonly score: ExpertGroupScore;
}

/** Multi-head latent attention's widths (latent_attention.ts). */
export interface MlaArchitecture {
  /** The query latent's rank, or undefined for a full-rank q_proj. */
  readonly q_lora_rank: number | undefined;
  readonly kv_lora_rank: number;
  /** dr: the rotary part of each query and key head. */
  readonly qk_rope_head_dim: number;
  /** dn: the part of each query and key head without rotation. */
  readonly qk_nope_head_dim: number;
  /** dv: each value head's width. */
  readonly v_head_dim: number;
  /** dn + dr: the depth of each score's dot product. */
  readonly qk_head_dim: number;
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
  let architecture = architectures.get(config);
  if (architecture === undefined) {
    architecture = resolveArchitecture(config);
    architectures.set(config, architecture);
  }
  return architecture;
}

/**
 * Each config's architecture, resolved once: the verifier asks for it per matmul row, hundreds of
 * thousands of times in a mixture-of-experts training step. Configs are not changed once made
 * (the loaders freeze them), so the answer stays true.
 */
const architectures = new WeakMap<ModelConfig, Architecture>();

function resolveArchitecture(config: ModelConfig): Architecture {
  const mla = mlaOf(config);
  const num_kv_heads = mla !== undefined ? config.num_heads : (config.num_kv_heads ?? config.num_heads);
  const vocab_multiple = config.vocab_multiple ?? DEFAULT_ARCHITECTURE.vocab_multiple;
  const head_dim = mla?.qk_head_dim ?? config.head_dim ?? config.d_model / config.num_heads;
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
    kv_dim: num_kv_heads * (mla?.v_head_dim ?? head_dim),
    moe: moeOf(config),
    mla,
  };
}

function mlaOf(config: ModelConfig): MlaArchitecture | undefined {
  if (config.kv_lora_rank === undefined) return undefined;
  // Validation requires the three head widths with kv_lora_rank; DeepSeek's widths stand in only
  // for a config built in code without them.
  const qk_rope_head_dim = config.qk_rope_head_dim ?? 64;
  const qk_nope_head_dim = config.qk_nope_head_dim ?? 128;
  return {
    q_lora_rank: config.q_lora_rank,
    kv_lora_rank: config.kv_lora_rank,
    qk_rope_head_dim,
    qk_nope_head_dim,
    v_head_dim: config.v_head_dim ?? 128,
    qk_head_dim: qk_nope_head_dim + qk_rope_head_dim,
  };
}

function moeOf(config: ModelConfig): MoeArchitecture | undefined {
  if (config.num_experts === undefined) return undefined;
  const dense = new Set(config.dense_layers ?? []);
  return {
    num_experts: config.num_experts,
    // Validation requires it with num_experts; 1 only for a config built in code without it.
    experts_per_token: config.experts_per_token ?? 1,
    expert_d_ff: config.expert_d_ff ?? config.d_ff,
    shared_d_ff: config.shared_d_ff,
    shared_expert_gate: config.shared_expert_gate ?? false,
    router_bias: config.router_bias ?? false,
    normalize_top_k: config.normalize_top_k ?? false,
    router_score_bias: config.router_score_bias ?? false,
    router_scoring: config.router_scoring ?? 'softmax',
    groups:
      config.expert_groups === undefined
        ? undefined
        : {
            count: config.expert_groups,
            // Validation requires it with expert_groups; all groups only for a config built in code without it.
            kept: config.expert_groups_kept ?? config.expert_groups,
            score: config.expert_group_score ?? (config.router_score_bias === true ? 'top2_sum' : 'max'),
          },
    routed_scaling_factor: config.routed_scaling_factor ?? 1,
    moe_layers: Array.from({ length: config.num_layers }, (_, i) => !dense.has(i)),
  };
}

/** Whether layer `i` of this architecture routes its tokens to experts. */
export function isMoeLayer(architecture: Architecture, i: number): boolean {
  return architecture.moe?.moe_layers[i] === true;
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

/**
 * The routing a run took (moe.ts): rows[i][e] is the number of tokens routed expert e of layer i
 * received (its matmuls' rows); a dense layer holds an empty list. Each token of a MoE layer is
 * counted once for each of the k experts it visits, so each MoE layer's rows sum to k * batch * seq.
 */
export interface ExpertRouting {
  readonly rows: readonly (readonly number[])[];
  /**
   * The routing a traced run reported rather than one a caller chose. Its sums are not refused:
   * they are what the verifier checks (a faulty router may send a token to k + 1 experts), and
   * the formulas for the rows it did run are still exact.
   */
  readonly traced?: boolean;
}

/** One forward pass: `batch` sequences of `seq` tokens (seq <= context_length). */
export interface RunShape {
  readonly batch: number;
  readonly seq: number;
  /** How the attention core is computed (attention_schedule.ts); absent: dense, every score then the mask. */
  readonly attention?: AttentionSchedule;
  /**
   * The tokens each routed expert received (moe.ts); absent: the assignment of assignedExpertRows,
   * which a shape-only run uses. The totals do not depend on it, the per-expert rows do.
   */
  readonly routing?: ExpertRouting;
}

/**
 * Per-head width dk of the scores: the config's head_dim, else d_model / num_heads (validated to
 * divide exactly); with latent attention qk_nope_head_dim + qk_rope_head_dim.
 */
export function headDim(config: ModelConfig): number {
  return architectureOf(config).head_dim;
}

/** "gpt2-xl", or "gpt2-xl (ctx=16384)" when overrides changed it. */
export function modelLabel(config: ModelConfig): string {
  return config.variant === undefined ? config.name : `${config.name} (${config.variant})`;
}
