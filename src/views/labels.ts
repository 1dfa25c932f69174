/** Words for the report: component names, model names, config and run-shape descriptions. */
import { ARCHITECTURE_KEYS, architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import type { MatmulComponent } from '../analytic/types.js';
import type { ParameterComponent } from '../core/module_paths.js';
import { groupDigits } from '../core/format.js';

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

/** What each parameter component holds in this architecture, e.g. "FFN (W1, W2) and biases". */
export function parameterComponentLabel(component: ParameterComponent, config: ModelConfig): string {
  const architecture = architectureOf(config);
  const biases = architecture.bias ? ' and biases' : '';
  switch (component) {
    case 'token_embeddings':
      return architecture.tie_embeddings ? 'token embeddings (shared with lm_head)' : 'token embeddings';
    case 'position_embeddings':
      return 'position embeddings (learned)';
    case 'attention':
      return `attention (Wq, Wk, Wv, Wo)${biases}`;
    case 'ffn':
      return `FFN (${architecture.ffn === 'swiglu' ? 'W1, W2, W3' : 'W1, W2'})${biases}`;
    case 'norms':
      return architecture.norm === 'rmsnorm' ? 'RMSNorm gains' : 'LayerNorm gains and biases';
    case 'lm_head':
      return architecture.tie_embeddings ? 'lm_head (tied: counted in token embeddings)' : 'lm_head';
  }
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
    // Architecture keys only where the config gave them, so the seed's model reads as before.
    ...Object.fromEntries(
      ARCHITECTURE_KEYS.filter((key) => config[key] !== undefined).map((key) => [key, config[key]]),
    ),
    ...(config.notes === undefined || config.notes.length === 0 ? {} : { notes: config.notes }),
  };
}
