import { summarizeParameters } from '../analytic/parameters.js';
import { assertRunFits } from '../analytic/run_shape.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { BYTES_PER_ELEMENT, product, sum } from '../counting.js';

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
  /** The activations of one transformer block; every block holds the same. */
  readonly perLayer: readonly ActivationRow[];
  /** After the last block: final norm, logits, cross-entropy. */
  readonly final: readonly ActivationRow[];
  readonly layers: number;
  /** Bytes of one block's activations. */
  readonly perLayerBytes: bigint;
  readonly finalBytes: bigint;
  /** layers * perLayerBytes + finalBytes. */
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
  return {
    B: run.batch,
    T: run.seq,
    d: config.d_model,
    H: config.num_heads,
    F: config.d_ff,
    V: config.vocab_size,
  };
}

/** One block's saved activations as a data table, one shape per row, in forward order. */
export function layerActivations(config: ModelConfig, run: RunShape): ActivationRow[] {
  const dims = dimensionsOf(config, run);
  const row = (name: string, module: string, description: string, symbolic: readonly string[]) =>
    activation(name, module, description, symbolic, dims);
  return [
    row('ln1', 'ln1', 'RMSNorm output, input of q, k, v', ['B', 'T', 'd']),
    row('q', 'attn.q_proj', 'queries x Wq', ['B', 'T', 'd']),
    row('k', 'attn.k_proj', 'keys x Wk', ['B', 'T', 'd']),
    row('v', 'attn.v_proj', 'values x Wv', ['B', 'T', 'd']),
    row('scores', 'attn.scores', 'q k^T / sqrt(dk), causally masked, per head', ['B', 'H', 'T', 'T']),
    row('softmax', 'attn.softmax', 'attention probabilities P, per head', ['B', 'H', 'T', 'T']),
    row('weighted sum', 'attn.weighted_sum', 'P v with heads merged, input of output_proj', ['B', 'T', 'd']),
    row('output projection', 'attn.output_proj', 'attention output o Wo', ['B', 'T', 'd']),
    row('ln2', 'ln2', 'RMSNorm output, input of w1 and w3', ['B', 'T', 'd']),
    row('w1', 'ffn.w1', 'x W1, input of SiLU', ['B', 'T', 'F']),
    row('w3', 'ffn.w3', 'x W3, the gate', ['B', 'T', 'F']),
    row('SiLU', 'ffn.silu', 'SiLU(x W1)', ['B', 'T', 'F']),
    row('product', 'ffn.gate', 'SiLU(x W1) * (x W3), input of w2', ['B', 'T', 'F']),
    row('w2', 'ffn.w2', 'FFN output h W2', ['B', 'T', 'd']),
  ];
}

/** The activations after the last block. */
export function finalActivations(config: ModelConfig, run: RunShape): ActivationRow[] {
  const dims = dimensionsOf(config, run);
  const row = (name: string, module: string, description: string, symbolic: readonly string[]) =>
    activation(name, module, description, symbolic, dims);
  return [
    row('final norm', 'ln_final', 'RMSNorm output, input of lm_head', ['B', 'T', 'd']),
    row('logits', 'lm_head', 'x Wlm', ['B', 'T', 'V']),
    row('cross-entropy', 'loss', 'softmax over the vocabulary, kept for dlogits = p - onehot', ['B', 'T', 'V']),
  ];
}

/** Peak training memory of one step at `run`, split into its four parts. */
export function trainingMemory(config: ModelConfig, run: RunShape): TrainingMemory {
  assertRunFits(config, run);
  const bytesPerElement = BYTES_PER_ELEMENT.fp32;
  const parameterCount = summarizeParameters(config).total;
  const perLayer = layerActivations(config, run);
  const final = finalActivations(config, run);
  const perLayerBytes = bytesPerElement * sum(perLayer.map((row) => row.elements));
  const finalBytes = bytesPerElement * sum(final.map((row) => row.elements));
  const activations: ActivationMemory = {
    perLayer,
    final,
    layers: config.num_layers,
    perLayerBytes,
    finalBytes,
    total: BigInt(config.num_layers) * perLayerBytes + finalBytes,
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
