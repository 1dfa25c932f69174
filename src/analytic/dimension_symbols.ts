import { architectureOf, type ModelConfig } from '../config/model_config.js';

/**
 * The letters the formulas write for the widths a variant changes. A symbol names a width only
 * when that width differs from the seed's, so the seed's model keeps its familiar shapes:
 *
 *   q      "d" when num_heads * head_dim = d_model, else "dq" = num_heads * dh (a head_dim of its own)
 *   kv     "d" when num_kv_heads * head_dim = d_model (multi-head), else "dkv" = num_kv_heads * dh
 *   vocab  "V" when no padding applies, else "Vp" = vocab_size rounded up to vocab_multiple
 *
 * Hkv (key/value heads) and G = H / Hkv (query heads per key/value head) appear only in shapes
 * that exist for grouped-query or multi-query attention.
 */
export interface DimensionSymbols {
  readonly q: 'd' | 'dq';
  readonly kv: 'd' | 'dkv';
  readonly vocab: 'V' | 'Vp';
}

export function dimensionSymbols(config: ModelConfig): DimensionSymbols {
  const architecture = architectureOf(config);
  return {
    q: architecture.q_dim === config.d_model ? 'd' : 'dq',
    kv: architecture.kv_dim === config.d_model ? 'd' : 'dkv',
    vocab: architecture.padded_vocab_size === config.vocab_size ? 'V' : 'Vp',
  };
}

/** Query heads that share one key/value head: H / num_kv_heads (1 for multi-head attention). */
export function queryGroupSize(config: ModelConfig): number {
  return config.num_heads / architectureOf(config).num_kv_heads;
}
