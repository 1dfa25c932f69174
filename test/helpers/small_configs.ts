/**
 * The fixed small models the model, trace and verify tests run for real. Each test names its
 * config and source; the dimensions are fixed here because the tests' hand-worked figures
 * (FLOPs, parameters, kernel counts) are written from them.
 */
import type { ModelConfig } from '../../src/config/model_config.js';

/** V 11, context 8, L 2, d 8, H 2 (dk 4), F 12: the seed's architecture at its smallest useful size. */
export function tinyConfig(name: string, source: string): ModelConfig {
  return {
    name,
    source,
    vocab_size: 11,
    context_length: 8,
    num_layers: 2,
    d_model: 8,
    num_heads: 2,
    d_ff: 12,
  };
}

/**
 * Every variant at once: GPT-2's block (GELU MLP, LayerNorm, learned positions, biases) with
 * grouped-query attention (H 6, Hkv 2, dk 2), and a tied vocabulary of 13 padded to 16.
 * V 13, context 8, L 2, d 12, F 10.
 */
export function everyVariantConfig(source: string): ModelConfig {
  return {
    name: 'every-variant',
    source,
    vocab_size: 13,
    context_length: 8,
    num_layers: 2,
    d_model: 12,
    num_heads: 6,
    d_ff: 10,
    num_kv_heads: 2,
    tie_embeddings: true,
    ffn: 'gelu',
    norm: 'layernorm',
    positions: 'learned',
    bias: true,
    vocab_multiple: 8,
  };
}
