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
