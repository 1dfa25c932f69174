import { layerWindows } from '../config/windows.js';
import { BYTES_PER_ELEMENT, product } from '../core/counting.js';
import { architectureOf, headDim, type ModelConfig, type RunShape } from '../config/model_config.js';
import { assertRunFits } from './run_shape.js';
import { summarizeParameters } from './parameters.js';

/**
 * An estimate of the bytes a real (data-holding) forward pass holds at its peak, as the model in
 * src/model runs it, so a run that cannot fit is refused before anything is allocated. It is a
 * guard, not a verified number, and it errs high.
 *
 * What it assumes:
 *   - fp32 weights (every parameter, 4 bytes) and int32 token ids [B, T] live throughout.
 *   - forward() runs in one tf.tidy, which releases intermediates only when it returns. Under a
 *     gradient tape (a training step) every tensor the pass makes is alive at its end: the peak is
 *     the sum of them all, logits included. Outside one (`blocksReleased`), each block runs in a
 *     tidy of its own, so one block's intermediates are alive at a time, beside every earlier block's output.
 *   - A reshape view is counted as a tensor of its own, as tfjs's engine counts it
 *     (tf.memory().numBytes); on backends that share storage it costs nothing, hence "errs high".
 *   - Each projection may view its input and output as [B*T, .] around the matmul: two views per
 *     projection are allowed for, whether or not the linear layer makes them.
 *   - The causal mask is built in every layer; its broadcast copies are counted ([T, T] each).
 *   - Variants: LayerNorm makes 5 activation-sized and 4 per-token tensors where RMSNorm makes 3
 *     and 3 (a zero-centred gain one more, gain-sized); q/k norms those of a norm over each head;
 *     a fused projection its joined output, its views and the pieces split off it; post-norms
 *     those of a norm; GeGLU the GELU's 8 tensors; a soft-cap 3 tensors of what it caps; the
 *     embedding scale one of the embeddings' size; a biased projection one more output; learned positions a slice of the table and a
 *     sum; grouped-query k and v are allowed a copy repeated to all H heads (and a view of it);
 *     the GELU MLP 8 tensors of [B, T, F] for GPT-2's tanh approximation of GELU; a tied
 *     lm_head a transposed copy of the table; a padded vocabulary the logits cut back to V.
 *     Allowing for what a model may make keeps the estimate above what it does make.
 *   - With `packedMatmulWeights` (the wasm backend): XNNPACK packs each weight matrix into a copy
 *     of its own the first time it multiplies by it, and keeps the copy while the weight lives, so
 *     every projection and lm_head is held twice (the embedding table and the gains are not).
 *   - Transient host arrays (a weight's values before upload) and the backend's own overhead
 *     (the wasm heap's growth policy, allocator slack) are not counted.
 *
 * Rows are a data table in the spirit of llm.c's activation sizes: one tensor shape per row with
 * how many such tensors one occurrence of the module makes, so they can be printed and summed.
 */

export type TensorDtype = 'float32' | 'int32' | 'bool';

/** Bytes per element as tfjs stores each dtype. */
const TENSOR_DTYPE_BYTES: Readonly<Record<TensorDtype, bigint>> = {
  float32: BYTES_PER_ELEMENT.fp32,
  int32: 4n,
  bool: 1n,
};

export interface ActivationRow {
  /** Module path, with "{i}" for a row repeated in every layer. */
  readonly module: string;
  /** What the tensors are: "x^2, x * rsqrt, * gain". */
  readonly tensors: string;
  readonly shape: readonly number[];
  readonly dtype: TensorDtype;
  /** Tensors of this shape one occurrence of the module makes. */
  readonly copies: number;
  /** How many of the module's runs hold their tensors at the peak: num_layers for layer rows (1 when blocks are released), else 1. */
  readonly occurrences: number;
  readonly bytes: bigint;
}

export interface RunMemoryOptions {
  /** Count a packed fp32 copy of every weight matrix a matmul uses, as the wasm backend keeps one. */
  readonly packedMatmulWeights?: boolean;
  /**
   * Each block's intermediates are released when the block ends (a pass outside a gradient tape,
   * src/model/transformer.ts): one block's are alive at a time, beside every earlier block's output.
   * Without it (a training step's forward pass) every block's are held to the end.
   */
  readonly blocksReleased?: boolean;
  /**
   * The attention core runs one 2-D matmul per head (wasm outside a gradient tape,
   * src/model/head_matmul.ts): the heads' slices of P and their products, before they are
   * stacked, are two more scores-sized sets of tensors beside the core's own.
   */
  readonly perHeadCore?: boolean;
}

export interface RunMemoryEstimate {
  /** fp32 weights. */
  readonly weights: bigint;
  /** Packed copies of the matmul weights (0 unless asked for). */
  readonly packedWeights: bigint;
  /** int32 token ids [B, T]. */
  readonly ids: bigint;
  /** Every intermediate of the forward pass, logits included. */
  readonly activations: bigint;
  readonly total: bigint;
  readonly rows: readonly ActivationRow[];
}

function row(
  module: string,
  tensors: string,
  shape: readonly number[],
  copies: number,
  occurrences: number,
  dtype: TensorDtype = 'float32',
): ActivationRow {
  const bytes = BigInt(copies) * BigInt(occurrences) * product(shape) * TENSOR_DTYPE_BYTES[dtype];
  return { module, tensors, shape, dtype, copies, occurrences, bytes };
}

/** Peak bytes of one real forward pass of `config` at `run` (see the file comment for what it assumes). */
export function runMemoryEstimate(
  config: ModelConfig,
  run: RunShape,
  options: RunMemoryOptions = {},
): RunMemoryEstimate {
  assertRunFits(config, run);
  const architecture = architectureOf(config);
  const { vocab_size: V, d_model: d, num_heads: H, d_ff: F } = config;
  const { padded_vocab_size: Vp, num_kv_heads: Hkv, q_dim: dq, kv_dim: dkv } = architecture;
  const { batch: B, seq: T } = run;
  const dk = headDim(config);
  const blocksReleased = options.blocksReleased === true;
  // Blocks whose intermediates are alive at the peak: the last one alone when blocks are released.
  const L = blocksReleased ? Math.min(config.num_layers, 1) : config.num_layers;
  const hidden = [B, T, d];
  const qHidden = [B, T, dq];
  const kvHidden = [B, T, dkv];
  const tokens = [B * T, d]; // a projection's flattened view
  const heads = [B, H, T, dk];
  const kvHeads = [B, Hkv, T, dk];
  const scores = [B, H, T, T];
  const ffnHidden = [B, T, F];
  const grouped = Hkv !== H;
  const qkvBiased = architecture.qkv_bias ? 1 : 0;
  const outputBiased = architecture.output_bias ? 1 : 0;
  const mlpBiased = architecture.mlp_bias ? 1 : 0;
  const gated = architecture.gated_ffn;
  const layerNorm = architecture.norm === 'layernorm';
  const rope = architecture.positions === 'rope';
  // Layers with a sliding window; a blocked run is counted as dense, an upper bound of its scores.
  const allWindowed = layerWindows(config).filter((window) => window !== undefined).length;
  const windowed = Math.min(allWindowed, L);

  // A norm over the last axis of x: its activation-sized and per-row tensors, and with a
  // zero-centred gain the (1 + gain) it multiplies by.
  const normRows = (module: string, x: readonly number[], occurrences: number): ActivationRow[] => {
    const perRow = [...x.slice(0, -1), 1];
    const offset = architecture.zero_centered_gain ? [row(module, '1 + gain', [x[x.length - 1]!], 1, occurrences)] : [];
    return layerNorm
      ? [
          row(module, 'x - mean, its square, * rsqrt, * gain, + bias', x, 5, occurrences),
          row(module, 'mean, variance, + eps, rsqrt', perRow, 4, occurrences),
          ...offset,
        ]
      : [
          row(module, 'x^2, x * rsqrt, * gain', x, 3, occurrences),
          row(module, 'mean, + eps, rsqrt', perRow, 3, occurrences),
          ...offset,
        ];
  };
  const fusedQkvWidth = dq + 2 * dkv;
  const projections = architecture.fused_qkv
    ? [
        row('layers.{i}.attn.qkv_proj', 'x [Wq | Wk | Wv] (and + bias)', [B, T, fusedQkvWidth], 1 + qkvBiased, L),
        row('layers.{i}.attn.qkv_proj', 'flattened input', tokens, 1, L),
        row('layers.{i}.attn.qkv_proj', 'flattened output', [B * T, fusedQkvWidth], 1, L),
        row('layers.{i}.attn.qkv_proj', 'q split off', qHidden, 1, L),
        row('layers.{i}.attn.qkv_proj', 'k, v split off', kvHidden, 2, L),
      ]
    : [
        row('layers.{i}.attn.q_proj', 'q (and + bias)', qHidden, 1 + qkvBiased, L),
        row('layers.{i}.attn.{k,v}_proj', 'k, v (and + bias)', kvHidden, 2 * (1 + qkvBiased), L),
        row('layers.{i}.attn.{q,k,v}_proj', 'flattened inputs', tokens, 3, L),
        row('layers.{i}.attn.q_proj', 'flattened output', [B * T, dq], 1, L),
        row('layers.{i}.attn.{k,v}_proj', 'flattened outputs', [B * T, dkv], 2, L),
      ];
  const gateUpRows = architecture.fused_gate_up
    ? [
        row('layers.{i}.ffn.gate_up_proj', 'x [W1 | W3] (and + bias)', [B, T, 2 * F], 1 + mlpBiased, L),
        row('layers.{i}.ffn.gate_up_proj', 'flattened input', tokens, 1, L),
        row('layers.{i}.ffn.gate_up_proj', 'flattened output', [B * T, 2 * F], 1, L),
        row('layers.{i}.ffn.gate_up_proj', 'W1 x, W3 x split off', ffnHidden, 2, L),
      ]
    : [
        row('layers.{i}.ffn.{w1,w3}', 'W1 x, W3 x (and + bias)', ffnHidden, 2 * (1 + mlpBiased), L),
        row('layers.{i}.ffn.{w1,w3}', 'flattened inputs', tokens, 2, L),
        row('layers.{i}.ffn.{w1,w3}', 'flattened outputs', [B * T, F], 2, L),
      ];
  const geluRow = (module: string) =>
    row(module, 'z^2, scaled, + s, z (.), tanh, 1 + tanh, z (1 + tanh), * 0.5', ffnHidden, 8, L);
  const ffnRows = !gated
    ? [
        row('layers.{i}.ffn.w1', 'W1 x (and + bias)', ffnHidden, 1 + mlpBiased, L),
        row('layers.{i}.ffn.w1', 'flattened input', tokens, 1, L),
        row('layers.{i}.ffn.w1', 'flattened output', [B * T, F], 1, L),
        geluRow('layers.{i}.ffn.gelu'),
      ]
    : [
        ...gateUpRows,
        architecture.ffn === 'geglu'
          ? geluRow('layers.{i}.ffn.gelu')
          : row('layers.{i}.ffn.silu', 'sigmoid, SiLU', ffnHidden, 2, L),
        row('layers.{i}.ffn.gate', 'act(W1 x) * W3 x', ffnHidden, 1, L),
      ];

  const candidates: ActivationRow[] = [
    row('token_embeddings', 'E[ids]', hidden, 1, 1),
    ...(architecture.scale_embeddings
      ? [row('embedding_scale', 'E[ids] * sqrt(d), and the scalar', hidden, 1, 1)]
      : []),
    ...(rope
      ? [row('rope tables', 'cos and signed sin of each (position, channel)', [T, dk], 2, 1)]
      : [
          row('position_embeddings', 'P[0:T], E[ids] + P[0:T]', hidden, 1, 1),
          row('position_embeddings', 'P[0:T]', [T, d], 1, 1),
        ]),
    ...normRows('layers.{i}.ln1', hidden, L),
    ...projections,
    row('layers.{i}.attn', 'q split into heads: a view and a transpose', heads, 2, L),
    row('layers.{i}.attn', 'k, v split into heads: a view and a transpose each', kvHeads, 4, L),
    ...(architecture.qk_norm
      ? [...normRows('layers.{i}.attn.q_norm', heads, L), ...normRows('layers.{i}.attn.k_norm', kvHeads, L)]
      : []),
    ...(grouped ? [row('layers.{i}.attn', 'k, v repeated to all H heads: a copy and a view each', heads, 4, L)] : []),
    // Per rotated tensor: the pair view, the swapped pairs and their view, two products, the sum.
    ...(rope
      ? [
          row('layers.{i}.attn.rope', 'q rotated: 6 head-sized tensors', heads, 6, L),
          row('layers.{i}.attn.rope', 'k rotated: 6 head-sized tensors', kvHeads, 6, L),
        ]
      : []),
    row('layers.{i}.attn.scores', 'q k^T, / sqrt(dk), + mask', scores, 3, L),
    // Grouped-query scores are masked on a per-query-head view and viewed back: two more.
    ...(grouped ? [row('layers.{i}.attn.scores', 'the scores viewed per query head and back', scores, 2, L)] : []),
    ...(architecture.attn_softcap !== undefined
      ? [row('layers.{i}.attn.softcap', 'scores / cap, tanh, * cap', scores, 3, L)]
      : []),
    row('layers.{i}.attn.scores', 'key and query positions', [T], 4, L),
    row('layers.{i}.attn.scores', 'key - query', [T, T], 1, L),
    row('layers.{i}.attn.scores', 'key > query', [T, T], 1, L, 'bool'),
    row('layers.{i}.attn.scores', '-inf and 0 fills, their broadcast copies, the mask', [T, T], 6, L),
    // A sliding layer's mask also holds each query's earliest key (a range and its view), the
    // offset of the keys from it, the keys before it, and the union with the future keys.
    row('layers.{i}.attn.scores', 'earliest kept key per query (window)', [T], 2, windowed),
    row('layers.{i}.attn.scores', 'key - earliest (window)', [T, T], 1, windowed),
    row('layers.{i}.attn.scores', 'key < earliest, or key > query (window)', [T, T], 2, windowed, 'bool'),
    row('layers.{i}.attn.softmax', 'P', scores, 1, L),
    ...(options.perHeadCore === true
      ? [row('layers.{i}.attn', 'per-head slices and products, before their stack', scores, 2, L)]
      : []),
    row('layers.{i}.attn.weighted_sum', 'P v', heads, 1, L),
    row('layers.{i}.attn', 'heads merged: a transpose and a view', qHidden, 2, L),
    row('layers.{i}.attn.output_proj', 'o Wo (and + bias)', hidden, 1 + outputBiased, L),
    row('layers.{i}.attn.output_proj', 'flattened input', [B * T, dq], 1, L),
    row('layers.{i}.attn.output_proj', 'flattened output', tokens, 1, L),
    ...(architecture.post_norms ? normRows('layers.{i}.post_attn_norm', hidden, L) : []),
    row('layers.{i}', 'two residual sums', hidden, 2, L),
    ...normRows('layers.{i}.ln2', hidden, L),
    ...ffnRows,
    row('layers.{i}.ffn.w2', 'flattened input', [B * T, F], 1, L),
    row('layers.{i}.ffn.w2', 'W2 h, its flattened view (and + bias)', hidden, 2 + mlpBiased, L),
    ...(architecture.post_norms ? normRows('layers.{i}.post_ffn_norm', hidden, L) : []),
    ...(blocksReleased
      ? // The running block's own output is among its rows; the earlier blocks' outputs stay alive.
        [row('layers.{i}', "earlier blocks' outputs, kept to the end of the pass", hidden, 1, config.num_layers - 1)]
      : []),
    ...normRows('ln_final', hidden, 1),
    row('lm_head', 'flattened input', tokens, 1, 1),
    ...(architecture.tie_embeddings ? [row('lm_head', 'E transposed for the tied logits', [d, Vp], 1, 1)] : []),
    row('lm_head', 'logits and their flattened view', [B, T, Vp], 2, 1),
    ...(architecture.final_softcap !== undefined
      ? [row('final_softcap', 'logits / cap, tanh, * cap', [B, T, Vp], 3, 1)]
      : []),
    ...(Vp !== V ? [row('lm_head', 'logits cut back to the vocabulary', [B, T, V], 1, 1)] : []),
  ];
  const rows = candidates.filter((entry) => entry.bytes > 0n);

  const parameters = summarizeParameters(config);
  const weights = parameters.total * BYTES_PER_ELEMENT.fp32;
  const { attention, ffn, lm_head, token_embeddings } = parameters.byComponent;
  // A tied lm_head multiplies by the embedding table, so that table is the one packed for it.
  const matmulWeights = attention + ffn + (architecture.tie_embeddings ? token_embeddings : lm_head);
  const packedWeights = options.packedMatmulWeights === true ? matmulWeights * BYTES_PER_ELEMENT.fp32 : 0n;
  const ids = BigInt(B) * BigInt(T) * TENSOR_DTYPE_BYTES.int32;
  let activations = 0n;
  for (const entry of rows) activations += entry.bytes;
  return { weights, packedWeights, ids, activations, total: weights + packedWeights + ids + activations, rows };
}
