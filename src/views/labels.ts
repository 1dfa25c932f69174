/** Words for the report: component names, model names, config and run-shape descriptions. */
import { attentionLabel } from '../config/attention_schedule.js';
import { ARCHITECTURE_KEYS, architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import type { MatmulComponent } from '../analytic/types.js';
import { layerIndexOf, withinLayer, type ParameterComponent } from '../core/module_paths.js';
import { forwardMatmulInventory } from '../analytic/forward_matmuls.js';
import { groupDigits } from '../core/format.js';

/** Column-width names for matmul components. */
export const MATMUL_COMPONENT_SHORT: Readonly<Record<MatmulComponent, string>> = {
  attention_projections: 'attn projections',
  latent_projections: 'latent projections',
  attention_core: 'attn core',
  ffn: 'ffn',
  router: 'router',
  routed_experts: 'routed experts',
  shared_experts: 'shared experts',
  lm_head: 'lm_head',
};

/**
 * The matmuls of one block that belong to `component`, named by the last part of their module
 * paths in execution order: ["q", "k", "v", "output"], ["w1", "w3", "w2"] for a gated FFN,
 * ["w1", "w2"] for a GELU MLP. Read off the analytic inventory of a one-layer copy, so a new
 * variant (fused projections, another FFN) names its own matmuls.
 */
function blockMatmuls(
  config: ModelConfig,
  component: 'attention_projections' | 'latent_projections' | 'ffn',
): string[] {
  return forwardMatmulInventory({ ...config, num_layers: 1 }, { batch: 1, seq: 1 })
    .filter((row) => row.component === component && layerIndexOf(row.path) === 0)
    .map((row) =>
      withinLayer(row.path)
        .split('.')
        .at(-1)!
        .replace(/_proj$/, ''),
    );
}

/** "(w1, w3, w2)" when every model has these matmuls, else nothing (models of different kinds side by side). */
function sharedMatmuls(
  configs: readonly ModelConfig[],
  component: 'attention_projections' | 'latent_projections' | 'ffn',
): string {
  const names = new Set(configs.map((config) => blockMatmuls(config, component).join(', ')));
  const [only] = names;
  return names.size === 1 && only !== undefined && only !== '' ? ` (${only})` : '';
}

/**
 * Sentence names for matmul components, saying which matmuls each one holds in these models:
 * a SwiGLU FFN is "FFN (w1, w3, w2)", a GELU MLP "FFN (w1, w2)". Models of different kinds side
 * by side (a comparison) share the plain "FFN".
 */
export function matmulComponentLabels(configs: readonly ModelConfig[]): Readonly<Record<MatmulComponent, string>> {
  return {
    attention_projections: `attention projections${sharedMatmuls(configs, 'attention_projections')}`,
    latent_projections: `latent projections${sharedMatmuls(configs, 'latent_projections')}`,
    attention_core: 'attention core (q @ k^T and P @ v)',
    ffn: `FFN${sharedMatmuls(configs, 'ffn')}`,
    router: 'router (x @ Wr)',
    routed_experts: 'routed experts (k per token)',
    shared_experts: 'shared experts',
    lm_head: 'lm_head',
  };
}

/** The FFN's activation: SiLU for SwiGLU, GELU for the GELU MLP and GeGLU. */
const activationOf = (config: ModelConfig): string => (architectureOf(config).ffn === 'swiglu' ? 'SiLU' : 'GELU');

/**
 * The non-matmul work these models do besides matmuls, in words: "norms, softmax, RoPE and
 * SiLU" for a Llama-style model, "norms, softmax and GELU" for GPT-2's architecture, with the
 * newer components named when a model has them (q/k norms, post-norms, soft-caps, the
 * embedding scale).
 */
function nonMatmulWork(configs: readonly ModelConfig[]): string {
  const any = (has: (architecture: ReturnType<typeof architectureOf>) => boolean): boolean =>
    configs.some((config) => has(architectureOf(config)));
  const parts = [
    'norms',
    ...(any((architecture) => architecture.qk_norm) ? ['q/k norms'] : []),
    ...(any((architecture) => architecture.mla !== undefined) ? ['latent norms'] : []),
    ...(any((architecture) => architecture.post_norms) ? ['post-norms'] : []),
    'softmax',
    ...(any((architecture) => architecture.positions === 'rope') ? ['RoPE'] : []),
    ...['SiLU', 'GELU'].filter((activation) => configs.some((config) => activationOf(config) === activation)),
    ...(any((architecture) => architecture.attn_softcap !== undefined || architecture.final_softcap !== undefined)
      ? ['soft-caps']
      : []),
    ...(any((architecture) => architecture.scale_embeddings) ? ['the embedding scale'] : []),
  ];
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/**
 * How forward matmul FLOPs are counted, and what they leave out for these models; `run` says how
 * attention is computed (dense when absent).
 */
export function flopConventions(configs: readonly ModelConfig[], run?: RunShape): string {
  const block = run?.attention?.kind === 'blocked' ? run.attention.block : undefined;
  const windowed = configs.some((config) => config.window !== undefined);
  const attention =
    block === undefined
      ? 'Causal attention is counted in full: the kernels compute every T x T score' +
        (windowed ? ' (a sliding window masks scores, it computes no fewer)' : '')
      : `Attention is computed in ${block} x ${block} blocks: the blocks the causal${windowed ? ' or window' : ''} ` +
        'mask empties are skipped, the others computed in full';
  return (
    'FLOPs count one multiply and one add per term of each matmul (2*m*k*n); a MAC is one multiply-add. ' +
    `${attention}. Matmuls only: ${nonMatmulWork(configs)} are counted apart, from a trace.`
  );
}

/** The run as JSON output carries it: batch, seq, and how attention is computed when it is blocked. */
export function runJson(run: RunShape): Record<string, unknown> {
  return {
    batch: run.batch,
    seq: run.seq,
    ...(run.attention?.kind === 'blocked' ? { attention: { kind: 'blocked', block: run.attention.block } } : {}),
  };
}

/** What each parameter component holds in this architecture, e.g. "FFN (W1, W2) and biases". */
export function parameterComponentLabel(component: ParameterComponent, config: ModelConfig): string {
  const architecture = architectureOf(config);
  const attentionBiases = architecture.qkv_bias || architecture.output_bias ? ' and biases' : '';
  const ffnBiases = architecture.mlp_bias ? ' and biases' : '';
  switch (component) {
    case 'token_embeddings':
      return architecture.tie_embeddings ? 'token embeddings (shared with lm_head)' : 'token embeddings';
    case 'position_embeddings':
      return 'position embeddings (learned)';
    case 'attention':
      return `attention (${weightNames(config, 'attention_projections')})${attentionBiases}`;
    case 'latent_projections':
      return `latent projections (${blockMatmuls(config, 'latent_projections').join(', ')})`;
    case 'ffn':
      return architecture.moe === undefined
        ? `FFN (${weightNames(config, 'ffn')})${ffnBiases}`
        : `dense FFN layers (W1, W2${architecture.gated_ffn ? ', W3' : ''})${ffnBiases}`;
    case 'router':
      return `router (Wr${architecture.moe?.router_bias === true ? ' and bias' : ''})`;
    case 'routed_experts':
      return `routed experts (${architecture.moe?.num_experts ?? 0} per MoE layer)${ffnBiases}`;
    case 'shared_experts':
      return `shared experts${architecture.moe?.shared_expert_gate === true ? ' (with their gate)' : ''}${ffnBiases}`;
    case 'norms': {
      const extra = [
        ...(architecture.qk_norm ? ['q/k norms'] : []),
        ...(architecture.post_norms ? ['post-norms'] : []),
        ...(architecture.mla !== undefined ? ['latent norms'] : []),
      ];
      const kind = architecture.norm === 'rmsnorm' ? 'RMSNorm gains' : 'LayerNorm gains and biases';
      return extra.length === 0 ? kind : `${kind} (with ${extra.join(' and ')})`;
    }
    case 'lm_head':
      return architecture.tie_embeddings ? 'lm_head (tied: counted in token embeddings)' : 'lm_head';
  }
}

/** The block's matrices as weights: "Wq, Wk, Wv, Wo"; "W1, W2, W3" (in name order). */
function weightNames(config: ModelConfig, component: 'attention_projections' | 'ffn'): string {
  const names = blockMatmuls(config, component).map((name) => `W${name === 'output' ? 'o' : name.replace(/^w/, '')}`);
  return (component === 'ffn' ? names.sort() : names).join(', ');
}

/** "L=48, d=1,600, H=25, F=6,400, V=50,257, ctx=1,024". */
export function dimensionsLabel(config: ModelConfig): string {
  const n = (value: number) => groupDigits(BigInt(value));
  return (
    `L=${n(config.num_layers)}, d=${n(config.d_model)}, H=${n(config.num_heads)}, ` +
    `F=${n(config.d_ff)}, V=${n(config.vocab_size)}, ctx=${n(config.context_length)}`
  );
}

/** "1 x 1,024 tokens" (batch x sequence length); "... tokens (blocked attention, 64 x 64 blocks)" for a blocked run. */
export function runLabel(run: RunShape): string {
  const attention = run.attention?.kind === 'blocked' ? ` (${attentionLabel(run.attention)})` : '';
  return `${groupDigits(BigInt(run.batch))} x ${groupDigits(BigInt(run.seq))} tokens${attention}`;
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
