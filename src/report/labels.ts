/** Words for the report: component names, model names, config and run-shape descriptions. */
import type { ModelConfig, RunShape } from '../config/model_config.js';
import type { MatmulComponent } from '../analytic/types.js';
import type { ParameterComponent } from '../module_paths.js';
import { groupDigits } from './format.js';

/** Column-width names for matmul components. */
export const MATMUL_COMPONENT_SHORT: Readonly<Record<MatmulComponent, string>> = {
  attention_projections: 'attn projections',
  attention_core: 'attn core',
  ffn: 'ffn',
  lm_head: 'lm_head',
};

/** Sentence names for matmul components, saying which matmuls each one holds. */
export const MATMUL_COMPONENT_LONG: Readonly<Record<MatmulComponent, string>> = {
  attention_projections: 'attention projections (q, k, v, output)',
  attention_core: 'attention core (q @ k^T and P @ v)',
  ffn: 'FFN (w1, w3, w2)',
  lm_head: 'lm_head',
};

export const PARAMETER_COMPONENT_LONG: Readonly<Record<ParameterComponent, string>> = {
  token_embeddings: 'token embeddings',
  position_embeddings: 'position embeddings (learned)',
  attention: 'attention (Wq, Wk, Wv, Wo)',
  ffn: 'FFN (W1, W2, W3)',
  norms: 'RMSNorm gains',
  lm_head: 'lm_head',
};

/** "gpt2-xl", or "gpt2-xl (ctx=16384)" when overrides changed it. */
export function modelLabel(config: ModelConfig): string {
  return config.variant === undefined ? config.name : `${config.name} (${config.variant})`;
}

/** "L=48, d=1,600, H=25, F=6,400, V=50,257, ctx=1,024". */
export function dimensionsLabel(config: ModelConfig): string {
  const n = (value: number) => groupDigits(BigInt(value));
  return (
    `L=${n(config.num_layers)}, d=${n(config.d_model)}, H=${n(config.num_heads)}, ` +
    `F=${n(config.d_ff)}, V=${n(config.vocab_size)}, ctx=${n(config.context_length)}`
  );
}

/** "1 x 1,024 tokens" (batch x sequence length). */
export function runLabel(run: RunShape): string {
  return `${groupDigits(BigInt(run.batch))} x ${groupDigits(BigInt(run.seq))} tokens`;
}

/** The config as JSON output carries it. */
export function configJson(config: ModelConfig): Record<string, unknown> {
  return {
    name: config.name,
    ...(config.variant === undefined ? {} : { variant: config.variant }),
    source: config.source,
    vocab_size: config.vocab_size,
    context_length: config.context_length,
    num_layers: config.num_layers,
    d_model: config.d_model,
    num_heads: config.num_heads,
    d_ff: config.d_ff,
  };
}
