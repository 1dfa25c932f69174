import { summarizeParameters } from '../parameters.js';
import { dimensionSymbols } from '../dimension_symbols.js';
import { assertRunFits } from '../run_shape.js';
import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { BYTES_PER_ELEMENT, product, sum } from '../../core/counting.js';

/**
 * Memory of one fp32 training step with AdamW, at its peak: just before the backward pass
 * starts, when every activation of the forward pass is still held.
 *
 * Convention:
 * - everything is fp32 (4 bytes): parameters, their gradients, AdamW's two moments (m and v);
 * - activations are the outputs the course problem lists, one tensor per operation, all kept
 *   until the backward pass uses them; no recomputation (checkpointing), no fragmentation,
 *   no framework workspace, no temporary buffers of the backward pass itself;
 * - a framework that keeps only what each gradient needs holds less (w2's and the output
 *   projection's outputs feed only a residual add) and sometimes more (the residual stream,
 *   RoPE's rotated q and k, RMSNorm's statistics): those are not counted;
 * - cross-entropy keeps its softmax over the vocabulary [B, T, V], from which the gradient
 *   p - onehot(target) is formed; the per-token losses [B, T] are not kept (the mean's gradient
 *   needs only their count).
 *
 * Variants (read through architectureOf):
 * - grouped-query / multi-query attention: k and v are [B, T, dkv], dkv = Hkv * dk; the scores
 *   and probabilities are still one T x T matrix per query head, [B, H, T, T];
 * - GELU MLP: w1's output, GELU's output (the input of w2) and w2's output, instead of w1, w3,
 *   SiLU, the product and w2;
 * - LayerNorm: one output per norm as for RMSNorm (its mean and variance are statistics, not
 *   counted, as RMSNorm's are not);
 * - biases: a biased layer's output is the same one tensor, x W + b;
 * - learned positions: the sum token + position embeddings [B, T, d], the residual stream that
 *   enters the first block, is one more tensor (the [T, d] slice of position rows is shared by
 *   the batch and not counted);
 * - vocab padding: logits and the cross-entropy softmax are [B, T, Vp];
 * - head_dim of its own: q and the weighted sum are [B, T, dq], dq = H * dh;
 * - fused q/k/v (gate/up): one output [B, T, dq + 2 dkv] ([B, T, 2F]) in place of the three (two)
 *   it joins; the split pieces are views of it, not counted again;
 * - q/k norms: the normed q and k, [B, T, dq] and [B, T, dkv], the inputs of RoPE;
 * - attention soft-cap: the capped scores [B, H, T, T], the input of the mask and softmax;
 * - post-norms: each sub-block's normed output [B, T, d];
 * - GeGLU: as SwiGLU with GELU(x W1) in place of SiLU(x W1);
 * - embedding scale: E[ids] * sqrt(d), the residual stream entering the first block [B, T, d];
 * - output soft-cap: the capped logits [B, T, Vp], the input of the cross-entropy;
 * - tied embeddings change no activation. The one shared table has one gradient buffer, into
 *   which both the lookup's scatter-add and lm_head's weight gradient are added: the parameter
 *   count counts the table once, and gradients and AdamW moments follow the parameter count.
 */
export const TRAINING_MEMORY_CONVENTION =
  'fp32 (4 bytes) throughout: parameters, gradients and AdamW moments m and v (16 bytes per parameter), ' +
  'plus every listed activation of the forward pass held for the backward pass; ' +
  'no recomputation, no fragmentation, no framework workspace. ' +
  'Cross-entropy keeps its softmax over the vocabulary [B,T,V]; per-token losses are not kept.';

/** A tensor's shape in both forms: ["B", "H", "T", "T"] and [8, 25, 1024, 1024]. */
export interface ActivationShape {
  readonly symbolic: readonly string[];
  readonly numeric: readonly number[];
}

export interface ActivationRow {
  /** The name for it: "ln1", "q", "scores", "SiLU", "logits", ... */
  readonly name: string;
  /** Module path of the operation that produces it, without the layer prefix: "attn.q_proj", "ln_final". */
  readonly module: string;
  /** What the tensor is. */
  readonly description: string;
  readonly shape: ActivationShape;
  readonly elements: bigint;
}

export interface ActivationMemory {
  /** Before the first block: the learned position add; empty for RoPE (the lookup feeds ln1 directly). */
  readonly initial: readonly ActivationRow[];
  /** The activations of one transformer block; every block holds the same. */
  readonly perLayer: readonly ActivationRow[];
  /** After the last block: final norm, logits, cross-entropy. */
  readonly final: readonly ActivationRow[];
  readonly layers: number;
  /** Bytes of the activations before the first block (0n for RoPE). */
  readonly initialBytes: bigint;
  /** Bytes of one block's activations. */
  readonly perLayerBytes: bigint;
  readonly finalBytes: bigint;
  /** initialBytes + layers * perLayerBytes + finalBytes. */
  readonly total: bigint;
}

/** All in bytes. */
export interface TrainingMemory {
  readonly run: RunShape;
  readonly bytesPerElement: bigint;
  readonly parameterCount: bigint;
  readonly parameters: bigint;
  readonly gradients: bigint;
  /** AdamW's first and second moments, one fp32 value each per parameter. */
  readonly adamMoments: bigint;
  readonly activations: ActivationMemory;
  readonly total: bigint;
}

function activation(
  name: string,
  module: string,
  description: string,
  symbolic: readonly string[],
  dims: Readonly<Record<string, number>>,
): ActivationRow {
  const numeric = symbolic.map((symbol) => {
    const value = dims[symbol];
    if (value === undefined) throw new Error(`activation ${name}: no value for dimension ${symbol}`);
    return value;
  });
  return { name, module, description, shape: { symbolic, numeric }, elements: product(numeric) };
}

function dimensionsOf(config: ModelConfig, run: RunShape): Record<string, number> {
  const architecture = architectureOf(config);
  return {
    B: run.batch,
    T: run.seq,
    d: config.d_model,
    dq: architecture.q_dim,
    dkv: architecture.kv_dim,
    'dq+2*dkv': architecture.q_dim + 2 * architecture.kv_dim,
    '2*F': 2 * config.d_ff,
    H: config.num_heads,
    F: config.d_ff,
    V: config.vocab_size,
    Vp: architecture.padded_vocab_size,
  };
}

type RowMaker = (name: string, module: string, description: string, symbolic: readonly string[]) => ActivationRow;

function rowMaker(config: ModelConfig, run: RunShape): RowMaker {
  const dims = dimensionsOf(config, run);
  return (name, module, description, symbolic) => activation(name, module, description, symbolic, dims);
}

/** The activations before the first block: the embedding scale and the learned position add, or nothing. */
function initialActivations(config: ModelConfig, run: RunShape): ActivationRow[] {
  const architecture = architectureOf(config);
  const row = rowMaker(config, run);
  const rows: ActivationRow[] = [];
  if (architecture.scale_embeddings) {
    rows.push(row('embedding scale', 'embedding_scale', 'E[ids] * sqrt(d), the scaled embeddings', ['B', 'T', 'd']));
  }
  if (architecture.positions === 'learned') {
    rows.push(
      row('position add', 'position_embeddings', 'E[ids] + P[0..T-1], the residual stream entering the first block', [
        'B',
        'T',
        'd',
      ]),
    );
  }
  return rows;
}

/** One block's saved activations as a data table, one shape per row, in forward order. */
function layerActivations(config: ModelConfig, run: RunShape): ActivationRow[] {
  const architecture = architectureOf(config);
  const { q, kv } = dimensionSymbols(config);
  const row = rowMaker(config, run);
  const norm = architecture.norm === 'layernorm' ? 'LayerNorm' : 'RMSNorm';
  const plus = (biased: boolean, bias: string) => (biased ? ` + ${bias}` : '');
  const qkvBias = (bias: string) => plus(architecture.qkv_bias, bias);
  const mlpBias = (bias: string) => plus(architecture.mlp_bias, bias);
  const projections = architecture.fused_qkv
    ? [row('qkv', 'attn.qkv_proj', `x [Wq | Wk | Wv]${qkvBias('bqkv')}, split into q, k, v`, ['B', 'T', 'dq+2*dkv'])]
    : [
        row('q', 'attn.q_proj', `queries x Wq${qkvBias('bq')}`, ['B', 'T', q]),
        row('k', 'attn.k_proj', `keys x Wk${qkvBias('bk')}`, ['B', 'T', kv]),
        row('v', 'attn.v_proj', `values x Wv${qkvBias('bv')}`, ['B', 'T', kv]),
      ];
  const qkNorms = architecture.qk_norm
    ? [
        row('q norm', 'attn.q_norm', `${norm} of each query head, input of RoPE`, ['B', 'T', q]),
        row('k norm', 'attn.k_norm', `${norm} of each key head, input of RoPE`, ['B', 'T', kv]),
      ]
    : [];
  const softcap =
    architecture.attn_softcap === undefined
      ? []
      : [row('capped scores', 'attn.softcap', 'cap * tanh(scores / cap), before the mask', ['B', 'H', 'T', 'T'])];
  const postAttention = architecture.post_norms
    ? [row('post-attention norm', 'post_attn_norm', `${norm} of the attention output`, ['B', 'T', 'd'])]
    : [];
  const attention = [
    row('ln1', 'ln1', `${norm} output, input of q, k, v`, ['B', 'T', 'd']),
    ...projections,
    ...qkNorms,
    row('scores', 'attn.scores', 'q k^T / sqrt(dk), causally masked, per query head', ['B', 'H', 'T', 'T']),
    ...softcap,
    row('softmax', 'attn.softmax', 'attention probabilities P, per query head', ['B', 'H', 'T', 'T']),
    row('weighted sum', 'attn.weighted_sum', 'P v with heads merged, input of output_proj', ['B', 'T', q]),
    row('output projection', 'attn.output_proj', `attention output o Wo${plus(architecture.output_bias, 'bo')}`, [
      'B',
      'T',
      'd',
    ]),
    ...postAttention,
  ];
  const postFfn = architecture.post_norms
    ? [row('post-FFN norm', 'post_ffn_norm', `${norm} of the FFN output`, ['B', 'T', 'd'])]
    : [];
  if (architecture.ffn === 'gelu') {
    return [
      ...attention,
      row('ln2', 'ln2', `${norm} output, input of w1`, ['B', 'T', 'd']),
      row('w1', 'ffn.w1', `x W1${mlpBias('b1')}, input of GELU`, ['B', 'T', 'F']),
      row('GELU', 'ffn.gelu', 'GELU(x W1), input of w2', ['B', 'T', 'F']),
      row('w2', 'ffn.w2', `FFN output h W2${mlpBias('b2')}`, ['B', 'T', 'd']),
      ...postFfn,
    ];
  }
  const [activation, activationModule] = architecture.ffn === 'geglu' ? ['GELU', 'ffn.gelu'] : ['SiLU', 'ffn.silu'];
  const gateInputs = architecture.fused_gate_up
    ? [row('gate_up', 'ffn.gate_up_proj', `x [W1 | W3]${mlpBias('b13')}, split into x W1 and x W3`, ['B', 'T', '2*F'])]
    : [
        row('w1', 'ffn.w1', `x W1${mlpBias('b1')}, input of ${activation}`, ['B', 'T', 'F']),
        row('w3', 'ffn.w3', `x W3${mlpBias('b3')}, the gate`, ['B', 'T', 'F']),
      ];
  return [
    ...attention,
    row('ln2', 'ln2', `${norm} output, input of ${architecture.fused_gate_up ? 'gate_up_proj' : 'w1 and w3'}`, [
      'B',
      'T',
      'd',
    ]),
    ...gateInputs,
    row(activation, activationModule, `${activation}(x W1)`, ['B', 'T', 'F']),
    row('product', 'ffn.gate', `${activation}(x W1) * (x W3), input of w2`, ['B', 'T', 'F']),
    row('w2', 'ffn.w2', `FFN output h W2${mlpBias('b2')}`, ['B', 'T', 'd']),
    ...postFfn,
  ];
}

/** The activations after the last block. */
function finalActivations(config: ModelConfig, run: RunShape): ActivationRow[] {
  const architecture = architectureOf(config);
  const { vocab } = dimensionSymbols(config);
  const row = rowMaker(config, run);
  const norm = architecture.norm === 'layernorm' ? 'LayerNorm' : 'RMSNorm';
  const logits = architecture.tie_embeddings ? 'x E^T (tied: lm_head reuses token_embeddings)' : 'x Wlm';
  return [
    row('final norm', 'ln_final', `${norm} output, input of lm_head`, ['B', 'T', 'd']),
    row('logits', 'lm_head', logits, ['B', 'T', vocab]),
    ...(architecture.final_softcap === undefined
      ? []
      : [row('capped logits', 'final_softcap', 'cap * tanh(logits / cap), input of the loss', ['B', 'T', vocab])]),
    row('cross-entropy', 'loss', 'softmax over the vocabulary, kept for dlogits = p - onehot', ['B', 'T', vocab]),
  ];
}

/** Peak training memory of one step at `run`, split into its four parts. */
export function trainingMemory(config: ModelConfig, run: RunShape): TrainingMemory {
  assertRunFits(config, run);
  const bytesPerElement = BYTES_PER_ELEMENT.fp32;
  const parameterCount = summarizeParameters(config).total;
  const initial = initialActivations(config, run);
  const perLayer = layerActivations(config, run);
  const final = finalActivations(config, run);
  const initialBytes = bytesPerElement * sum(initial.map((row) => row.elements));
  const perLayerBytes = bytesPerElement * sum(perLayer.map((row) => row.elements));
  const finalBytes = bytesPerElement * sum(final.map((row) => row.elements));
  const activations: ActivationMemory = {
    initial,
    perLayer,
    final,
    layers: config.num_layers,
    initialBytes,
    perLayerBytes,
    finalBytes,
    total: initialBytes + BigInt(config.num_layers) * perLayerBytes + finalBytes,
  };
  const parameters = bytesPerElement * parameterCount;
  const gradients = bytesPerElement * parameterCount;
  const adamMoments = 2n * bytesPerElement * parameterCount;
  return {
    run,
    bytesPerElement,
    parameterCount,
    parameters,
    gradients,
    adamMoments,
    activations,
    total: parameters + gradients + adamMoments + activations.total,
  };
}
