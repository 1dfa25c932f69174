/**
 * Hugging Face config.json keys that flopledger understands but that change no count: training
 * regularisation (dropouts), tokenizer ids, storage and library bookkeeping, numerical epsilons,
 * and a few that change the model's arithmetic but not its shapes. Each is named to the user as
 * "ignored (no effect on counts)"; a remark says why when ignoring it is a real simplification.
 * Any key in none of these lists (and not read for a count) is reported as not understood.
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
];

/** Keys of the llama and mistral configs (LlamaConfig, MistralConfig). */
const LLAMA_FAMILY: readonly string[] = [
  'rms_norm_eps',
  'pretraining_tp',
  'attention_dropout',
  'rope_scaling',
  'sliding_window',
  'max_window_layers',
  'use_sliding_window',
];

/** Keys of the gpt2 config (GPT2Config). */
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
];

/** Why an ignored key is a simplification, shown beside it when its value is set (not null or false). */
const REMARKS: Readonly<Record<string, string>> = {
  rope_scaling: 'not modelled',
  sliding_window: 'dense attention counted',
  use_sliding_window: 'dense attention counted',
};

export type HuggingFaceFamily = 'llama' | 'gpt2';

/** The ignored keys of a model family. */
export function ignoredKeys(family: HuggingFaceFamily): ReadonlySet<string> {
  return new Set([...COMMON, ...(family === 'gpt2' ? GPT2 : LLAMA_FAMILY)]);
}

/** "rope_scaling (not modelled)" when the key carries a setting that the counts leave out, else the key. */
export function describeIgnoredKey(key: string, value: unknown): string {
  const remark = REMARKS[key];
  const isSet = value !== null && value !== undefined && value !== false;
  return remark !== undefined && isSet ? `${key} (${remark})` : key;
}
