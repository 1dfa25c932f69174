import { architectureOf, type ModelConfig } from '../../config/model_config.js';
import { dimensionSymbols } from '../dimension_symbols.js';
import { forwardFlopBreakdown } from '../flop_breakdown.js';
import { InputError } from '../../core/errors.js';
import { sum } from '../../core/counting.js';
import {
  addPolynomials,
  evaluatePolynomial,
  monomial,
  perSequenceAt,
  scalePolynomial,
  ZERO_POLYNOMIAL,
  type BatchSeqPolynomial,
} from './batch_seq_polynomial.js';
import { trainingMemory, type ActivationRow } from './training_memory.js';

/**
 * Activation checkpointing, on top of the saved-activation table of training_memory.ts (one
 * tensor per operation, all kept until the backward pass; its conventions hold here too):
 *
 * - none: every block keeps its whole table.
 * - full (per block): each block keeps only its input [B, T, d] (the residual stream entering
 *   it); the backward pass of a block first reruns its forward from that input, so one block's
 *   whole table is alive again while its gradients are formed. Recomputed: one extra forward of
 *   every block (not of lm_head). The learned position add is block 0's input, so it is that
 *   block's checkpoint and not counted twice. (Korthikanti et al. 2022, "Reducing Activation
 *   Recomputation in Large Transformer Models", section 4.3: full recomputation stores 2sbhL
 *   bytes, the input of every layer in 16-bit.)
 * - selective: the attention core is recomputed, as Korthikanti et al. 2022 (section 4.3,
 *   "selective activation recomputation") define it: the operations after the q, k, v projections
 *   and before the output projection whose saved tensors grow with T^2 (q k^T, the softmax, its
 *   dropout and the attention over values). This model has no dropout, so the scores and the
 *   softmax [B, H, T, T] are dropped; q, k and v (the recomputation's inputs) and the weighted
 *   sum (the output projection's input) are kept. Recomputed: the scores and weighted-sum
 *   matmuls of every block (the softmax too, a non-matmul kernel counted by trace, not here).
 *
 * Peak convention: the tensors a block keeps, and the learned position add, are held from the
 * forward pass until their block's backward; the tensors after the last block are held from the
 * forward pass until their own backward, which runs before any block's; a recomputed block's
 * table lives only during that block's backward. So
 *
 *   peak = initial + L * perLayer + max(final, recomputed)
 *
 * a maximum of two polynomials in B and T: at a fixed T both are linear in B, and one of them is
 * the larger for every B. Gradients of activations in flight (one [B, T, d] at a time between
 * blocks) are not counted, as training_memory.ts counts none.
 *
 * Tensor and sequence parallelism (Korthikanti et al. 2022, sections 4.1 and 4.2): a tensor
 * inside a column-parallel region (q, k, v, scores, softmax, weighted sum, the FFN's inner
 * tensors, the logits and the cross-entropy's softmax) is split over the tp ranks; a tensor
 * outside it (the norms' outputs, the row-parallel outputs of output_proj and w2, the position
 * add, a checkpointed block input) is replicated on every rank, unless sequence parallelism
 * splits it along T. With sequence parallelism Megatron-LM saves only the local shard of a
 * column-parallel layer's input and all-gathers it again in the backward pass
 * (LinearWithGradAccumulationAndAsyncCommunication.backward), so the norms' outputs count 1/tp.
 */
export const CHECKPOINTING = ['none', 'selective', 'full'] as const;
export type Checkpointing = (typeof CHECKPOINTING)[number];

/** 'tensor': split over tp whenever tp > 1; 'sequence': split over tp only with sequence parallelism. */
export type ActivationSplit = 'tensor' | 'sequence';

/** One saved tensor as one device holds it, per micro-batch of B sequences of T tokens. */
export interface SavedTensor {
  readonly name: string;
  readonly module: string;
  readonly description: string;
  /** The whole tensor's shape, as training_memory.ts writes it: ["B", "H", "T", "T"]. */
  readonly symbolic: readonly string[];
  readonly split: ActivationSplit;
  /** 1, or tp when this device holds 1/tp of the tensor. */
  readonly divisor: number;
  readonly bytesPerElement: bigint;
  /** Bytes on one device as B * c * T^power. */
  readonly bytes: BatchSeqPolynomial;
}

export interface ActivationGroup {
  readonly tensors: readonly SavedTensor[];
  readonly bytes: BatchSeqPolynomial;
}

export interface CheckpointedActivations {
  readonly checkpointing: Checkpointing;
  readonly layers: number;
  /** Before the first block, held through the backward pass: the learned position add (none for RoPE, or under full checkpointing). */
  readonly initial: ActivationGroup;
  /** What each block holds from its forward to its backward. */
  readonly perLayer: ActivationGroup;
  /** After the last block: final norm, logits, the cross-entropy's softmax. */
  readonly final: ActivationGroup;
  /** One block's tensors rebuilt during its backward pass (empty without checkpointing). */
  readonly recomputed: ActivationGroup;
}

export interface ActivationOptions {
  readonly checkpointing: Checkpointing;
  /** Bytes per activation element (default 4, fp32). */
  readonly activationBytes?: bigint;
  /** Bytes per element of the cross-entropy's softmax (default: activationBytes). */
  readonly lossBytes?: bigint;
  readonly tensorParallel?: number;
  readonly sequenceParallel?: boolean;
  /** Vocabulary rows of the logits (default: the config's padded vocabulary; Megatron pads further for tp). */
  readonly vocab?: number;
}

/**
 * Saved tensors inside a column-parallel region: each rank holds its own heads or FFN columns (or
 * vocabulary rows). The q/k norms and the capped scores are per head; the fused projections'
 * outputs are the column-parallel outputs they join.
 */
const TENSOR_SPLIT_MODULES = new Set([
  'attn.q_proj',
  'attn.k_proj',
  'attn.v_proj',
  'attn.qkv_proj',
  'attn.q_norm',
  'attn.k_norm',
  'attn.scores',
  'attn.softcap',
  'attn.softmax',
  'attn.weighted_sum',
  'ffn.w1',
  'ffn.w3',
  'ffn.gate_up_proj',
  'ffn.silu',
  'ffn.gate',
  'ffn.gelu',
  'lm_head',
  'final_softcap',
  'loss',
]);
/** Saved tensors of the residual stream [B, T, d]: whole on every rank, split along T with sequence parallelism. */
const SEQUENCE_SPLIT_MODULES = new Set([
  'embedding_scale',
  'position_embeddings',
  'ln1',
  'attn.output_proj',
  'post_attn_norm',
  'ln2',
  'ffn.w2',
  'post_ffn_norm',
  'ln_final',
  'block',
]);
/** The attention core's saved tensors that grow with T^2: what selective checkpointing recomputes. */
const ATTENTION_CORE_MODULES = new Set(['attn.scores', 'attn.softcap', 'attn.softmax']);

function splitOf(module: string): ActivationSplit {
  if (TENSOR_SPLIT_MODULES.has(module)) return 'tensor';
  if (SEQUENCE_SPLIT_MODULES.has(module)) return 'sequence';
  throw new Error(`checkpointing: no tensor-parallel rule for the saved tensor of ${module}`);
}

function assertCheckpointing(value: string): asserts value is Checkpointing {
  if (!(CHECKPOINTING as readonly string[]).includes(value)) {
    throw new InputError(`checkpointing (${value}) must be one of ${CHECKPOINTING.join(', ')}`);
  }
}

/**
 * The tables of training_memory.ts as polynomials: a row's elements at B = 1, T = 1 are the product
 * of its other dimensions, and T's power is how often T appears in its shape.
 */
function savedTensor(
  row: Pick<ActivationRow, 'name' | 'module' | 'description' | 'elements'> & { readonly symbolic: readonly string[] },
  config: ModelConfig,
  options: ActivationOptions,
): SavedTensor {
  const tp = options.tensorParallel ?? 1;
  const activationBytes = options.activationBytes ?? 4n;
  const bytesPerElement = row.module === 'loss' ? (options.lossBytes ?? activationBytes) : activationBytes;
  const split = splitOf(row.module);
  const divisor = split === 'tensor' || options.sequenceParallel === true ? tp : 1;
  const [leading] = row.symbolic;
  if (leading !== 'B') throw new Error(`checkpointing: ${row.name} [${row.symbolic}] does not lead with B`);
  const power = row.symbolic.filter((symbol) => symbol === 'T').length;
  let elements = row.elements;
  const vocabSymbol = dimensionSymbols(config).vocab;
  if (row.symbolic.includes(vocabSymbol) && options.vocab !== undefined) {
    const Vp = BigInt(architectureOf(config).padded_vocab_size);
    elements = (elements / Vp) * BigInt(options.vocab);
  }
  if (elements % BigInt(divisor) !== 0n) {
    throw new Error(`checkpointing: ${row.name} (${elements} per B T^${power}) does not split over ${divisor} ranks`);
  }
  return {
    name: row.name,
    module: row.module,
    description: row.description,
    symbolic: row.symbolic,
    split,
    divisor,
    bytesPerElement,
    bytes: monomial((elements / BigInt(divisor)) * bytesPerElement, power),
  };
}

function group(tensors: readonly SavedTensor[]): ActivationGroup {
  return { tensors, bytes: addPolynomials(...tensors.map((tensor) => tensor.bytes)) };
}

/** Saved activations of one micro-batch on one device holding every block, under `options.checkpointing`. */
export function checkpointedActivations(config: ModelConfig, options: ActivationOptions): CheckpointedActivations {
  assertCheckpointing(options.checkpointing);
  // One sequence of one token: each row's elements are the product of its dimensions other than B and T.
  const { activations } = trainingMemory(config, { batch: 1, seq: 1 });
  const toTensor = (row: ActivationRow) => savedTensor({ ...row, symbolic: row.shape.symbolic }, config, options);
  const initial = activations.initial.map(toTensor);
  const layer = activations.perLayer.map(toTensor);
  const final = activations.final.map(toTensor);
  const blockInput = savedTensor(
    {
      name: 'block input',
      module: 'block',
      description: 'the residual stream entering the block, kept to rerun the block in the backward pass',
      symbolic: ['B', 'T', 'd'],
      elements: BigInt(config.d_model),
    },
    config,
    options,
  );
  const core = layer.filter((tensor) => ATTENTION_CORE_MODULES.has(tensor.module));
  const byPolicy: Record<
    Checkpointing,
    { initial: SavedTensor[]; perLayer: SavedTensor[]; recomputed: SavedTensor[] }
  > = {
    none: { initial, perLayer: layer, recomputed: [] },
    selective: {
      initial,
      perLayer: layer.filter((tensor) => !ATTENTION_CORE_MODULES.has(tensor.module)),
      recomputed: core,
    },
    // The position add, when there is one, is block 0's input: its checkpoint.
    full: { initial: [], perLayer: [blockInput], recomputed: layer },
  };
  const chosen = byPolicy[options.checkpointing];
  return {
    checkpointing: options.checkpointing,
    layers: config.num_layers,
    initial: group(chosen.initial),
    perLayer: group(chosen.perLayer),
    final: group(final),
    recomputed: group(chosen.recomputed),
  };
}

export interface ActivationPeak {
  /** initial + layers * perLayer: held through the backward pass. */
  readonly held: BatchSeqPolynomial;
  /** The larger of the final tensors and one recomputed block at this T (ties name the final tensors). */
  readonly transient: 'final' | 'recomputed';
  readonly transientBytes: BatchSeqPolynomial;
  /** held + transientBytes: linear in B at this T. */
  readonly polynomial: BatchSeqPolynomial;
  /** Bytes of one sequence at this T. */
  readonly perBatch: bigint;
}

/** The larger transient of `candidates` at `seq` tokens; the first wins a tie. */
export function largerAt<K extends string>(
  seq: number,
  candidates: readonly (readonly [K, BatchSeqPolynomial])[],
): readonly [K, BatchSeqPolynomial] {
  const [first, ...rest] = candidates;
  if (first === undefined) throw new Error('checkpointing: no transient to compare');
  return rest.reduce((best, next) => (perSequenceAt(next[1], seq) > perSequenceAt(best[1], seq) ? next : best), first);
}

/** The activation peak of a device holding all `activations.layers` blocks, at sequences of `seq` tokens. */
export function activationPeak(activations: CheckpointedActivations, seq: number): ActivationPeak {
  const held = addPolynomials(
    activations.initial.bytes,
    scalePolynomial(activations.perLayer.bytes, BigInt(activations.layers)),
  );
  const [transient, transientBytes] = largerAt(seq, [
    ['final', activations.final.bytes],
    ['recomputed', activations.recomputed.bytes],
  ] as const);
  const polynomial = addPolynomials(held, transientBytes);
  return { held, transient, transientBytes, polynomial, perBatch: perSequenceAt(polynomial, seq) };
}

/** Bytes of saved activations at the peak of one step at `batch` sequences of `seq` tokens. */
export function activationPeakBytes(activations: CheckpointedActivations, batch: number, seq: number): bigint {
  return evaluatePolynomial(activationPeak(activations, seq).polynomial, batch, seq);
}

export interface RecomputeFlops {
  readonly checkpointing: Checkpointing;
  /** Matmul FLOPs recomputed in one block's backward pass, on one tensor-parallel rank. */
  readonly perLayer: BatchSeqPolynomial;
  readonly layers: number;
  /** layers * perLayer: per micro-batch on a device holding every block. */
  readonly total: BatchSeqPolynomial;
}

/**
 * Matmul FLOPs recomputed per micro-batch, from the forward matmul inventory: the whole forward
 * of every block (full) or its attention core, q k^T and P v (selective). The core's FLOPs grow
 * as T^2 (4 B T^2 d per block), every other matmul's as T. Tensor parallelism splits every
 * block's matmul evenly over the tp ranks (whole heads, whole FFN columns). Non-matmul work
 * recomputed (norms, softmax, activations) is left out, as step FLOPs leave it out.
 */
export function recomputeFlops(config: ModelConfig, checkpointing: Checkpointing, tensorParallel = 1): RecomputeFlops {
  assertCheckpointing(checkpointing);
  // One sequence of one token: each component's FLOPs are its coefficient of B T (or B T^2 for the core).
  const [firstLayer] = forwardFlopBreakdown(config, { batch: 1, seq: 1 }).perLayer;
  if (firstLayer === undefined) throw new Error('checkpointing: a model without blocks');
  const { attention_core, attention_projections, ffn } = firstLayer.byComponent;
  const tp = BigInt(tensorParallel);
  const split = (flops: bigint) => {
    if (flops % tp !== 0n) throw new Error(`checkpointing: ${flops} FLOPs do not split over ${tp} ranks`);
    return flops / tp;
  };
  const core = monomial(split(attention_core), 2);
  const rest = monomial(split(sum([attention_projections, ffn])), 1);
  const perLayer = { none: ZERO_POLYNOMIAL, selective: core, full: addPolynomials(rest, core) }[checkpointing];
  return {
    checkpointing,
    perLayer,
    layers: config.num_layers,
    total: scalePolynomial(perLayer, BigInt(config.num_layers)),
  };
}
