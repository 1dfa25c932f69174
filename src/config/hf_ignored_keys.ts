/**
 * Hugging Face config.json keys that the model classes flopledger reads (LlamaModel,
 * MistralModel, Qwen2Model, Qwen3Model, Phi3Model, Gemma2Model, Gemma3TextModel, GPT2Model) never
 * turn into a weight or a matmul: training regularisation
 * (dropouts), tokenizer ids, storage and library bookkeeping, numerical epsilons, and a few that
 * change the model's arithmetic but not its shapes. Each is named to the user as "ignored (no
 * effect on counts)"; a remark says why when ignoring it is a real simplification.
 *
 * Keys that describe a component flopledger does not model (latent attention, cross-attention,
 * and experts in a model type that is read as dense) are refused instead: UNMODELLED_KEYS; the
 * mixture-of-experts model types read their expert keys, so those are not refused there. Any key in none of these lists (and not
 * read for a count) is reported as not understood.
 */

/** Keys every transformers PretrainedConfig may carry. */
const COMMON: readonly string[] = [
  '_name_or_path',
  'architectures',
  'auto_map',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'sep_token_id',
  'decoder_start_token_id',
  'torch_dtype',
  'dtype',
  'transformers_version',
  'use_cache',
  'initializer_range',
  'return_dict',
  'output_attentions',
  'output_hidden_states',
  'torchscript',
  'id2label',
  'label2id',
  'problem_type',
  'finetuning_task',
  'tokenizer_class',
  'task_specific_params',
  // PretrainedConfig's encoder-decoder switches; set (true) they are refused, see UNMODELLED_KEYS.
  'is_decoder',
  'add_cross_attention',
  'is_encoder_decoder',
];

/** Keys of LlamaConfig (transformers/models/llama/configuration_llama.py) read for no count. */
const LLAMA: readonly string[] = [
  'rms_norm_eps',
  'pretraining_tp',
  'attention_dropout',
  'rope_scaling',
  'rope_parameters',
  // Qwen2's window keys, which LlamaModel does not read.
  'sliding_window',
  'max_window_layers',
  'use_sliding_window',
];

/**
 * Keys of MistralConfig (transformers/models/mistral/configuration_mistral.py) read for no count.
 * MistralAttention and MistralMLP (modular_mistral.py) build every projection with bias=False,
 * so attention_bias and mlp_bias, which MistralConfig does not define, change nothing.
 */
const MISTRAL: readonly string[] = [...LLAMA, 'attention_bias', 'mlp_bias'];

/**
 * Keys of Qwen2Config and Qwen3Config read for no count. Qwen2Attention hard-codes its biases (q,
 * k and v, not o) and neither MLP has any, so attention_bias in a Qwen2 file and mlp_bias in
 * either change nothing; use_mrope is Qwen2-VL's multimodal RoPE, not read by Qwen2Model.
 */
const QWEN: readonly string[] = [
  'rms_norm_eps',
  'attention_dropout',
  'rope_scaling',
  'rope_parameters',
  'use_mrope',
  'mlp_bias',
];
const QWEN2: readonly string[] = [...QWEN, 'attention_bias'];

/**
 * Keys of Phi3Config read for no count: dropouts, and original_max_position_embeddings, the
 * pre-training length LongRoPE scaling starts from. Phi3Attention and Phi3MLP build every
 * projection with bias=False, so attention_bias and mlp_bias, which Phi3Config does not define,
 * change nothing.
 */
const PHI3: readonly string[] = [
  'rms_norm_eps',
  'attention_dropout',
  'resid_pdrop',
  'embd_pdrop',
  'rope_scaling',
  'rope_parameters',
  'original_max_position_embeddings',
  'attention_bias',
  'mlp_bias',
];

/**
 * Keys of Gemma2Config and Gemma3TextConfig read for no count. Gemma's MLP reads
 * hidden_activation, so hidden_act changes nothing; query_pre_attn_scalar sets the score scale, a
 * value, not a shape; cache_implementation is generation bookkeeping; rope_local_base_freq is
 * Gemma 3's RoPE base on its sliding layers (an angle, no count).
 */
const GEMMA: readonly string[] = [
  'rms_norm_eps',
  'attention_dropout',
  'rope_scaling',
  'rope_parameters',
  'hidden_act',
  'query_pre_attn_scalar',
  'cache_implementation',
  'mlp_bias',
  // gemma-2-9b's config carries it beside sliding_window; Gemma2Config does not read it.
  'sliding_window_size',
];
const GEMMA3: readonly string[] = [...GEMMA, 'rope_local_base_freq'];

/** Keys of GPT2Config (transformers/models/gpt2/configuration_gpt2.py) read for no count. */
const GPT2: readonly string[] = [
  'layer_norm_epsilon',
  'attn_pdrop',
  'embd_pdrop',
  'resid_pdrop',
  'summary_type',
  'summary_use_proj',
  'summary_activation',
  'summary_proj_to_labels',
  'summary_first_dropout',
  'scale_attn_weights',
  'scale_attn_by_inverse_layer_idx',
  'reorder_and_upcast_attn',
  // Older configs carry n_ctx; GPT2Config no longer defines it and GPT2Model never reads it.
  'n_ctx',
];

/**
 * Keys of the mixture-of-experts configs read for no count: the router's auxiliary
 * load-balancing loss (a training objective over the router's probabilities, computed only when
 * output_router_logits; not counted) and Mixtral's router_jitter_noise (multiplicative noise on
 * the router's input during training, zero by default).
 */
const MOE_TRAINING: readonly string[] = ['output_router_logits', 'router_aux_loss_coef', 'router_jitter_noise'];
const MIXTRAL: readonly string[] = [...MISTRAL, ...MOE_TRAINING];
const QWEN2_MOE: readonly string[] = [...QWEN2, ...MOE_TRAINING];
const QWEN3_MOE: readonly string[] = [...QWEN, ...MOE_TRAINING];

/**
 * Keys of DeepseekV2Config and DeepseekV3Config (and of DeepSeek's own configuration_deepseek.py)
 * read for no count: the auxiliary balance losses (aux_loss_alpha, seq_aux), expert parallelism
 * (ep_size), the checkpoint's storage format (quantization_config: FP8 blocks; bytes by dtype
 * come from --weight-dtype), head_dim (transformers sets it to qk_rope_head_dim, the rotary
 * width), RoPE's interleaved layout (rope_interleave: data movement) and its YaRN scaling
 * (rope_scaling: angles and the softmax scale, not shapes).
 */
const DEEPSEEK: readonly string[] = [
  'rms_norm_eps',
  'attention_dropout',
  'rope_scaling',
  'rope_parameters',
  'rope_interleave',
  'pretraining_tp',
  'aux_loss_alpha',
  'seq_aux',
  'ep_size',
  'quantization_config',
  'head_dim',
];
const DEEPSEEK_V3: readonly string[] = [...DEEPSEEK, 'mlp_bias'];

export type HuggingFaceFamily =
  | 'llama'
  | 'mistral'
  | 'mixtral'
  | 'qwen2'
  | 'qwen3'
  | 'qwen2_moe'
  | 'qwen3_moe'
  | 'phi3'
  | 'gemma2'
  | 'gemma3_text'
  | 'gpt2'
  | 'deepseek_v2'
  | 'deepseek_v3';

const MOE_REMARKS: Readonly<Record<string, string>> = {
  output_router_logits: 'the load-balancing loss is not counted',
  router_aux_loss_coef: 'the load-balancing loss is not counted',
  router_jitter_noise: 'training noise on the router input, not counted',
};

const DEEPSEEK_REMARKS: Readonly<Record<string, string>> = {
  rope_scaling: 'not modelled',
  aux_loss_alpha: 'the balance loss is not counted',
  seq_aux: 'the balance loss is not counted',
  quantization_config: "the checkpoint's storage; see infer --weight-dtype",
  head_dim: 'the rotary width, qk_rope_head_dim, in transformers',
};

/** Why an ignored key is a simplification, shown beside it when its value is set (not null or false). */
const REMARKS: Readonly<Record<HuggingFaceFamily, Readonly<Record<string, string>>>> = {
  llama: {
    rope_scaling: 'not modelled',
    sliding_window: 'LlamaModel does not read it',
    use_sliding_window: 'LlamaModel does not read it',
  },
  mistral: {
    rope_scaling: 'not modelled',
    attention_bias: 'MistralModel builds no biases',
    mlp_bias: 'MistralModel builds no biases',
  },
  qwen2: {
    rope_scaling: 'not modelled',
    attention_bias: 'Qwen2Model builds biases on q, k and v_proj whatever it says',
    mlp_bias: 'Qwen2MLP builds no biases',
    use_mrope: 'Qwen2-VL only',
  },
  mixtral: {
    rope_scaling: 'not modelled',
    attention_bias: 'MixtralModel builds no biases',
    mlp_bias: 'MixtralModel builds no biases',
    ...MOE_REMARKS,
  },
  qwen3: { rope_scaling: 'not modelled', mlp_bias: 'Qwen3MLP builds no biases', use_mrope: 'Qwen2-VL only' },
  qwen2_moe: {
    rope_scaling: 'not modelled',
    attention_bias: 'Qwen2MoeModel reads qkv_bias',
    mlp_bias: 'Qwen2MoeMLP builds no biases',
    use_mrope: 'Qwen2-VL only',
    ...MOE_REMARKS,
  },
  qwen3_moe: {
    rope_scaling: 'not modelled',
    mlp_bias: 'Qwen3MoeMLP builds no biases',
    use_mrope: 'Qwen2-VL only',
    ...MOE_REMARKS,
  },
  phi3: {
    rope_scaling: 'not modelled',
    attention_bias: 'Phi3Model builds no biases',
    mlp_bias: 'Phi3Model builds no biases',
  },
  gemma2: {
    rope_scaling: 'not modelled',
    hidden_act: 'Gemma2MLP reads hidden_activation',
    mlp_bias: 'Gemma2MLP builds no biases',
    sliding_window_size: 'not read: the window is sliding_window',
  },
  gemma3_text: {
    rope_scaling: 'not modelled',
    hidden_act: 'Gemma3MLP reads hidden_activation',
    mlp_bias: 'Gemma3MLP builds no biases',
    rope_local_base_freq: 'RoPE base of the sliding layers: no count',
    sliding_window_size: 'not read: the window is sliding_window',
  },
  gpt2: {},
  deepseek_v2: DEEPSEEK_REMARKS,
  deepseek_v3: { ...DEEPSEEK_REMARKS, mlp_bias: 'DeepseekV3MLP builds no biases' },
};

const FAMILY_KEYS: Readonly<Record<HuggingFaceFamily, readonly string[]>> = {
  llama: LLAMA,
  mistral: MISTRAL,
  mixtral: MIXTRAL,
  qwen2: QWEN2,
  qwen3: QWEN,
  qwen2_moe: QWEN2_MOE,
  qwen3_moe: QWEN3_MOE,
  phi3: PHI3,
  gemma2: GEMMA,
  gemma3_text: GEMMA3,
  gpt2: GPT2,
  deepseek_v2: DEEPSEEK,
  deepseek_v3: DEEPSEEK_V3,
};

/** The ignored keys of a model family. */
export function ignoredKeys(family: HuggingFaceFamily): ReadonlySet<string> {
  return new Set([...COMMON, ...FAMILY_KEYS[family]]);
}

/** Whether a value switches something on: not absent, null, false, zero or empty. */
export function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * "rope_scaling (not modelled)" when the key carries a setting that the counts leave out, else
 * the key. `extra` holds remarks a reader worked out from other keys (n_ctx against n_positions).
 */
export function describeIgnoredKey(
  family: HuggingFaceFamily,
  key: string,
  value: unknown,
  extra: ReadonlyMap<string, string> = new Map(),
): string {
  const remark = extra.get(key) ?? (isSet(value) ? (ropeRemark(key, value) ?? REMARKS[family][key]) : undefined);
  return remark !== undefined ? `${key} (${remark})` : key;
}

/** rope_parameters (transformers 5) names its scaling in rope_type; "default" is plain RoPE. */
function ropeRemark(key: string, value: unknown): string | undefined {
  if (key !== 'rope_parameters' || typeof value !== 'object' || value === null) return undefined;
  const type = (value as Record<string, unknown>)['rope_type'];
  return typeof type === 'string' && type !== 'default' ? 'rope scaling not modelled' : undefined;
}

/**
 * Keys that add a component flopledger does not model, with what they add. Set in any config
 * (even one whose model class would not read them), they mean the file describes a model that a
 * dense count would get wrong, so the file is refused, unless the reader of its model type
 * reads the key for a count (num_experts in a qwen3_moe file).
 */
export const UNMODELLED_KEYS: Readonly<Record<string, string>> = {
  num_local_experts: 'mixture-of-experts layers',
  num_experts: 'mixture-of-experts layers',
  n_routed_experts: 'mixture-of-experts layers',
  n_shared_experts: 'shared experts',
  num_experts_per_tok: 'mixture-of-experts routing',
  moe_intermediate_size: 'mixture-of-experts layers',
  shared_expert_intermediate_size: 'shared experts',
  q_lora_rank: 'multi-head latent attention',
  kv_lora_rank: 'multi-head latent attention',
  qk_rope_head_dim: 'multi-head latent attention',
  qk_nope_head_dim: 'multi-head latent attention',
  v_head_dim: 'multi-head latent attention',
  num_nextn_predict_layers: 'multi-token prediction layers',
  add_cross_attention: 'cross-attention in every block',
  cross_attention_layers: 'cross-attention layers',
  is_encoder_decoder: 'an encoder and cross-attention',
  use_qk_norm: 'norms on the queries and keys',
  qk_layernorm: 'norms on the queries and keys',
};
