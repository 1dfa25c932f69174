import { BYTES_PER_ELEMENT, product } from '../counting.js';
import { headDim, type ModelConfig, type RunShape } from '../config/model_config.js';
import { assertRunFits } from './run_shape.js';
import { summarizeParameters } from './parameters.js';

/**
 * An estimate of the bytes a real (data-holding) forward pass holds at its peak, as the model in
 * src/model runs it, so a run that cannot fit is refused before anything is allocated. It is a
 * guard, not a verified number, and it errs high.
 *
 * What it assumes:
 *   - fp32 weights (every parameter, 4 bytes) and int32 token ids [B, T] live throughout.
 *   - forward() runs in one tf.tidy, which releases intermediates only when it returns, so every
 *     tensor the pass makes is alive at its end: the peak is the sum of them all, logits included.
 *   - A reshape view is counted as a tensor of its own, as tfjs's engine counts it
 *     (tf.memory().numBytes); on backends that share storage it costs nothing, hence "errs high".
 *   - Each projection may view its input and output as [B*T, .] around the matmul: two views per
 *     projection are allowed for, whether or not the linear layer makes them.
 *   - The causal mask is built in every layer; its broadcast copies are counted ([T, T] each).
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
export const TENSOR_DTYPE_BYTES: Readonly<Record<TensorDtype, bigint>> = {
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
  /** How often the module runs in one forward pass: num_layers for layer rows, else 1. */
  readonly occurrences: number;
  readonly bytes: bigint;
}

export interface RunMemoryOptions {
  /** Count a packed fp32 copy of every weight matrix a matmul uses, as the wasm backend keeps one. */
  readonly packedMatmulWeights?: boolean;
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
export function runMemoryEstimate(config: ModelConfig, run: RunShape, options: RunMemoryOptions = {}): RunMemoryEstimate {
  assertRunFits(config, run);
  const { vocab_size: V, num_layers: L, d_model: d, num_heads: H, d_ff: F } = config;
  const { batch: B, seq: T } = run;
  const dk = headDim(config);
  const hidden = [B, T, d];
  const tokens = [B * T, d]; // a projection's flattened view
  const perToken = [B, T, 1];
  const heads = [B, H, T, dk];
  const scores = [B, H, T, T];
  const ffnHidden = [B, T, F];

  const rows: ActivationRow[] = [
    row('rope tables', 'cos, sin of each (position, pair)', [T, dk / 2, 1], 2, 1),
    row('token_embeddings', 'E[ids]', hidden, 1, 1),
    row('layers.{i}.ln1', 'x^2, x * rsqrt, * gain', hidden, 3, L),
    row('layers.{i}.ln1', 'mean, + eps, rsqrt', perToken, 3, L),
    row('layers.{i}.attn.{q,k,v}_proj', 'q, k, v', hidden, 3, L),
    row('layers.{i}.attn.{q,k,v}_proj', 'flattened input and output views of each', tokens, 6, L),
    row('layers.{i}.attn', 'q, k, v split into heads: a view and a transpose each', heads, 6, L),
    // Per rotated tensor: the pair view, two halves, six half-size products and sums, the
    // concatenated pairs and the head view: 7 tensors of [B, H, T, dk] in all.
    row('layers.{i}.attn.rope', 'q and k rotated: 7 head-sized tensors each', heads, 14, L),
    row('layers.{i}.attn.scores', 'q k^T, / sqrt(dk), + mask', scores, 3, L),
    row('layers.{i}.attn.scores', 'key and query positions', [T], 4, L, 'int32'),
    row('layers.{i}.attn.scores', 'key > query', [T, T], 1, L, 'bool'),
    row('layers.{i}.attn.scores', '-inf and 0 fills, their broadcast copies, the mask', [T, T], 6, L),
    row('layers.{i}.attn.softmax', 'P', scores, 1, L),
    row('layers.{i}.attn.weighted_sum', 'P v', heads, 1, L),
    row('layers.{i}.attn', 'heads merged: a transpose and a view', hidden, 2, L),
    row('layers.{i}.attn.output_proj', 'o Wo^T', hidden, 1, L),
    row('layers.{i}.attn.output_proj', 'flattened input and output views', tokens, 2, L),
    row('layers.{i}', 'two residual sums', hidden, 2, L),
    row('layers.{i}.ln2', 'x^2, x * rsqrt, * gain', hidden, 3, L),
    row('layers.{i}.ln2', 'mean, + eps, rsqrt', perToken, 3, L),
    row('layers.{i}.ffn.{w1,w3}', 'W1 x, W3 x', ffnHidden, 2, L),
    row('layers.{i}.ffn.{w1,w3}', 'flattened inputs', tokens, 2, L),
    row('layers.{i}.ffn.{w1,w3}', 'flattened outputs', [B * T, F], 2, L),
    row('layers.{i}.ffn.silu', 'sigmoid, SiLU', ffnHidden, 2, L),
    row('layers.{i}.ffn.gate', 'SiLU(W1 x) * W3 x', ffnHidden, 1, L),
    row('layers.{i}.ffn.w2', 'flattened input', [B * T, F], 1, L),
    row('layers.{i}.ffn.w2', 'W2 h and its flattened view', hidden, 2, L),
    row('ln_final', 'x^2, x * rsqrt, * gain', hidden, 3, 1),
    row('ln_final', 'mean, + eps, rsqrt', perToken, 3, 1),
    row('lm_head', 'flattened input', tokens, 1, 1),
    row('lm_head', 'logits and their flattened view', [B, T, V], 2, 1),
  ];

  const parameters = summarizeParameters(config);
  const weights = parameters.total * BYTES_PER_ELEMENT.fp32;
  const { attention, ffn, lm_head } = parameters.byComponent;
  const packedWeights = options.packedMatmulWeights === true ? (attention + ffn + lm_head) * BYTES_PER_ELEMENT.fp32 : 0n;
  const ids = BigInt(B) * BigInt(T) * TENSOR_DTYPE_BYTES.int32;
  let activations = 0n;
  for (const entry of rows) activations += entry.bytes;
  return { weights, packedWeights, ids, activations, total: weights + packedWeights + ids + activations, rows };
}
