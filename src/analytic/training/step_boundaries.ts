import { blockOf } from '../../config/attention_schedule.js';
import { architectureOf, isMoeLayer, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { layerWindow } from '../../config/windows.js';
import { layerIndexOf, path } from '../../core/module_paths.js';
import { blockedScores, denseScores } from '../attention_blocks.js';
import { assignedExpertRows } from '../../config/moe.js';
import { parameterInventory } from '../parameters.js';
import { evaluatePolynomial, perSequenceAt } from './batch_seq_polynomial.js';
import { keptBeyondSavedActivations } from './runtime_saved.js';
import { savedActivations, type SavedActivationGroup, type SavedActivations } from './saved_activations.js';

/**
 * The storage of this project's fp32 training step (src/model/training_step.ts) at the boundaries
 * between its blocks: just before the first kernel of each block's forward pass, and of each
 * block's backward pass (which frees what each node is done with: src/model/backward_release.ts)
 * and of the embeddings'. At a boundary no node is half done, so what is held is a sum of whole
 * tensors, each named:
 *
 *   held before   the weights, AdamW's m and v (12 bytes per parameter) and the int32 ids and
 *                 targets, as before the step;
 *   the loss      the step's output, 4 bytes (backward only);
 *   kept          what the blocks already run (forward) or not yet reached (backward) keep for their
 *                 backward pass (the saved-activation formula of each, and a zero-centred gain's
 *                 1 + g per norm), and the RoPE tables from the first block's first use on, while a
 *                 block still reads them: all blocks read them without checkpointing, and a
 *                 checkpointed step holds them for its reruns until it ends;
 *   gradients     the gradient of every parameter after the boundary (4 bytes per parameter): the
 *                 final norm, lm_head (with tied embeddings, the table's gradient from lm_head), and
 *                 every block already done. A parameter the loss does not reach has none yet (the
 *                 step gives it zeros once the pass is over): a routed expert no token chose in
 *                 this run's routing, and a router's score bias, which only chooses. A
 *                 checkpointed block's backward gives its own such parameters zeros as it ends;
 *   residual      the residual stream entering the block (forward) or its gradient dy (backward),
 *                 [B, T, d] fp32;
 *   embeddings    in the forward pass, what the embeddings made on the way to the stream and the
 *                 pass holds to its end: each step from the looked-up rows to the stream (a scale,
 *                 the position add) leaves its input [B, T, d], and the position add its rows [T, d].
 *
 * With full checkpointing a block's backward first reruns its forward (the recompute phase) from
 * the input it kept: at the rerun's start the block holds its input alone; when the rerun ends
 * and the block's own backward begins it holds what the block keeps without checkpointing, the
 * input among it, and the rerun's output, [B, T, d] fp32, which tfjs holds until the rerun's
 * backward pass returns (src/model/checkpoint.ts).
 *
 * Within a block the storage rises above the boundary by the block's own buffers; those are named
 * by the trace, not given here.
 */
export type StepBoundaryKind = 'forward' | 'rerun' | 'backward';

export interface StepBoundary {
  /** The block's index, or undefined for a module outside the blocks (`module`) or the embeddings. */
  readonly layer: number | undefined;
  /** Outside the blocks, the module whose first backward kernel it precedes: final_softcap, lm_head, ln_final. */
  readonly module?: string;
  /** The first forward kernel, the first recompute kernel of a checkpointed block, or the first backward kernel. */
  readonly kind: StepBoundaryKind;
  readonly heldBefore: bigint;
  readonly loss: bigint;
  readonly kept: bigint;
  readonly gradients: bigint;
  /** The residual stream entering the block (forward) or its gradient (backward), [B, T, d] fp32. */
  readonly residual: bigint;
  /** The rerun's output, held until the rerun's backward pass returns (full checkpointing only). */
  readonly rerunOutput: bigint;
  /** What the embeddings made besides the stream, held through the forward pass. */
  readonly embeddings: bigint;
  /** The sum of the parts. */
  readonly bytes: bigint;
}

const FLOAT_BYTES = 4n;
const ID_BYTES = 4n;
const LOSS_BYTES = 4n;

/** What a step holds before it runs: the weights, AdamW's m and v (fp32 each) and the int32 ids and targets. */
export function heldBeforeStep(parameters: bigint, run: RunShape): bigint {
  return 3n * FLOAT_BYTES * parameters + 2n * ID_BYTES * BigInt(run.batch) * BigInt(run.seq);
}

/** The boundaries of the step in the order it reaches them: each block's forward, then the backward pass's. */
export function stepBoundaries(
  config: ModelConfig,
  run: RunShape,
  checkpoint: 'none' | 'selective' | 'full' = 'none',
): StepBoundary[] {
  const architecture = architectureOf(config);
  const L = config.num_layers;
  const tokens = BigInt(run.batch) * BigInt(run.seq);
  const unreached = checkpoint === 'full' ? new Set<string>() : unreachedExperts(config, run);
  const inventory = parameterInventory(config);
  const rows = inventory.filter(
    (row) => checkpoint === 'full' || (row.name !== 'score_bias' && !unreached.has(row.path.replace(EXPERT_LEAF, ''))),
  );
  // One pass over the inventory: a MoE model has tens of thousands of rows.
  const layerParameters: bigint[] = new Array<bigint>(L).fill(0n);
  let total = 0n;
  let embeddingBytes = 0n; // the embeddings' own tables, whose gradients come last (a tied table's starts at lm_head)
  for (const row of rows) {
    const bytes = row.count * FLOAT_BYTES;
    total += bytes;
    const layer = layerIndexOf(row.path);
    if (layer !== undefined) layerParameters[layer] = layerParameters[layer]! + bytes;
    else if (
      row.path === path.positionEmbeddings ||
      (row.path === path.tokenEmbeddings && !architecture.tie_embeddings)
    ) {
      embeddingBytes += bytes;
    }
  }
  const everyParameter = inventory.reduce((sum, row) => sum + row.count, 0n);
  const heldBefore = heldBeforeStep(everyParameter, run);
  const residual = tokens * BigInt(config.d_model) * FLOAT_BYTES;
  // Each step from the looked-up rows to the stream (the scale, the position add) leaves its input
  // [B, T, d] held; the position add also the position rows [T, d].
  const stepsToStream = (architecture.scale_embeddings ? 1n : 0n) + (architecture.positions === 'learned' ? 1n : 0n);
  const rowsMadeOver = stepsToStream * residual;
  const positionRows =
    architecture.positions === 'learned' ? BigInt(run.seq) * BigInt(config.d_model) * FLOAT_BYTES : 0n;
  const embeddingScratch = rowsMadeOver + positionRows;

  const saved = savedActivations(config, { checkpoint });
  const unCheckpointed = checkpoint === 'full' ? savedActivations(config, { checkpoint: 'none' }) : saved;
  const ropeTables = perSequenceAt(saved.perRun.bytes, run.seq);
  const gains = keptBeyondSavedActivations(config, 'none')
    .filter((entry) => entry.module !== path.loss && entry.module !== path.lnFinal)
    .reduce((sum, entry) => sum + entry.bytes, 0n);
  const gainsPerLayer = L === 0 ? 0n : gains / BigInt(L);
  const keptByLayer = (groups: SavedActivations, i: number): bigint =>
    layerKept(groups, config, run, i) + (checkpoint === 'full' && groups === saved ? 0n : gainsPerLayer);

  const boundaries: StepBoundary[] = [];
  const boundary = (
    layer: number | undefined,
    kind: StepBoundaryKind,
    kept: bigint,
    gradients: bigint,
    rerunOutput = 0n,
    head?: { module: string; residual: bigint },
  ): void => {
    const loss = kind === 'forward' ? 0n : LOSS_BYTES;
    const embeddings = kind === 'forward' ? embeddingScratch : 0n;
    const stream = head?.residual ?? residual;
    const bytes = heldBefore + loss + kept + gradients + stream + rerunOutput + embeddings;
    boundaries.push({
      layer,
      ...(head === undefined ? {} : { module: head.module }),
      kind,
      heldBefore,
      loss,
      kept,
      gradients,
      residual: stream,
      rerunOutput,
      embeddings,
      bytes,
    });
  };
  let keptBelow = 0n; // blocks 0..i
  const keptUpTo: bigint[] = [];
  for (let i = 0; i < L; i++) {
    // The RoPE tables are made outside any kernel and count from block 0's first use of them.
    boundary(i, 'forward', keptBelow + (i > 0 ? ropeTables : 0n), 0n);
    keptUpTo.push((keptBelow += keptByLayer(saved, i)));
  }
  let gradientsDone = total - embeddingBytes - layerParameters.reduce((sum, bytes) => sum + bytes, 0n);
  // The modules after the last block, in the backward pass's order; each keeps its final tensors
  // until its own backward has run, and the blocks keep all of theirs.
  const blocksKept = (keptUpTo[L - 1] ?? 0n) + ropeTables;
  const finalGain = architecture.zero_centered_gain ? BigInt(config.d_model) * FLOAT_BYTES : 0n;
  const logitsGradient = tokens * BigInt(architecture.padded_vocab_size) * FLOAT_BYTES;
  const lnFinalGradient = rows
    .filter((row) => row.path === path.lnFinal)
    .reduce((sum, row) => sum + row.count * FLOAT_BYTES, 0n);
  const head: string[] = [
    ...(architecture.final_softcap === undefined ? [] : [path.finalSoftcap]),
    path.lmHead,
    path.lnFinal,
  ];
  head.forEach((module, at) => {
    const stillRead = new Set(head.slice(at));
    const finalKept = saved.final.tensors
      .filter((entry) => entry.readBy.some((reader) => stillRead.has(reader)))
      .reduce((sum, entry) => sum + evaluatePolynomial(entry.bytes, run.batch, run.seq), 0n);
    const afterLmHead = module === path.lnFinal;
    boundary(
      undefined,
      'backward',
      blocksKept + finalKept + finalGain,
      afterLmHead ? gradientsDone - lnFinalGradient : 0n,
      0n,
      { module, residual: afterLmHead ? residual : logitsGradient },
    );
  });
  for (let i = L - 1; i >= 0; i--) {
    const kept = keptUpTo[i]! + ropeTables;
    if (checkpoint === 'full') {
      boundary(i, 'rerun', kept, gradientsDone);
      const rerun = keptByLayer(unCheckpointed, i) - keptByLayer(saved, i);
      boundary(i, 'backward', kept + rerun, gradientsDone, residual);
    } else {
      boundary(i, 'backward', kept, gradientsDone);
    }
    gradientsDone += layerParameters[i]!;
  }
  boundary(undefined, 'backward', checkpoint === 'full' ? ropeTables : 0n, gradientsDone);
  return boundaries;
}

/** The last segment of an expert's matrix path ("layers.1.moe.experts.3.w1" -> "layers.1.moe.experts.3"). */
const EXPERT_LEAF = /\.[^.]+$/;

/**
 * The routed experts, as "layers.{i}.moe.experts.{e}", no token chose in `run`'s routing (or, with
 * none given, in the assignment a shape-only run uses).
 */
function unreachedExperts(config: ModelConfig, run: RunShape): Set<string> {
  const architecture = architectureOf(config);
  const unreached = new Set<string>();
  const moe = architecture.moe;
  if (moe === undefined) return unreached;
  const assigned = assignedExpertRows(run.batch * run.seq, moe.num_experts, moe.experts_per_token);
  for (let i = 0; i < config.num_layers; i++) {
    if (!isMoeLayer(architecture, i)) continue;
    const rows = run.routing?.rows[i] ?? assigned;
    for (let e = 0; e < moe.num_experts; e++) if ((rows[e] ?? 0) === 0) unreached.add(path.expert(i, e));
  }
  return unreached;
}

/**
 * What block i keeps for its backward pass at `run`: its group's polynomial, with a blocked
 * schedule's [B, H, T, T] tensors over the key blocks the layer computes (as
 * savedActivationBytesOfRun, one layer at a time: each layer has its own window).
 */
function layerKept(saved: SavedActivations, config: ModelConfig, run: RunShape, i: number): bigint {
  const group: SavedActivationGroup =
    saved.perMoeLayer !== undefined && isMoeLayer(architectureOf(config), i) ? saved.perMoeLayer : saved.perLayer;
  const dense = evaluatePolynomial(group.bytes, run.batch, run.seq);
  const block = blockOf(run.attention);
  if (block === undefined) return dense;
  const perScore = group.tensors
    .filter((entry) => entry.symbolic.filter((symbol) => symbol === 'T').length === 2)
    .reduce((sum, entry) => sum + entry.bytesPerElement, 0n);
  const scores = blockedScores(run.seq, block, layerWindow(config, i)) - denseScores(run.seq);
  return dense + BigInt(run.batch) * BigInt(config.num_heads) * perScore * scores;
}

/** A moment of the embeddings' backward pass whose storage has a formula. */
export interface EmbeddingGradientPeak {
  /**
   * The module whose backward kernels reach it (position_embeddings, embedding_scale,
   * token_embeddings), or '' for a tied table's running sum, which tfjs adds outside every module.
   */
  readonly module: string;
  /** What the moment holds above the embeddings' boundary, named. */
  readonly parts: readonly { readonly name: string; readonly bytes: bigint }[];
  /** The boundary's storage and the parts. */
  readonly bytes: bigint;
}

/**
 * The storage peaks of the embeddings' backward nodes, in the order the pass runs them (the reverse
 * of the forward's: the position add, the scale, the lookup), above the embeddings' boundary
 * (`embeddingsBoundary`, the last of stepBoundaries):
 *
 *   position_embeddings  dy summed over the batch [T, d], padded to the table's [context, d]: the
 *                        table's gradient, held from here on;
 *   embedding_scale      dy times sqrt(d) [B, T, d], and the 4-byte scalar it is multiplied by;
 *   token_embeddings     the lookup's gradient, every row scattered into a [Vp, d] table;
 *   '' (tied only)       the running sum of the table's two gradients (lm_head's, held since the
 *                        backward pass began, and the lookup's), a third [Vp, d], made once dy is freed.
 */
export function embeddingGradientPeaks(
  config: ModelConfig,
  run: RunShape,
  embeddingsBoundary: bigint,
): EmbeddingGradientPeak[] {
  const architecture = architectureOf(config);
  const d = BigInt(config.d_model);
  const stream = BigInt(run.batch) * BigInt(run.seq) * d * FLOAT_BYTES;
  const peaks: EmbeddingGradientPeak[] = [];
  const peak = (module: string, parts: { name: string; bytes: bigint }[]) =>
    peaks.push({ module, parts, bytes: parts.reduce((sum, part) => sum + part.bytes, embeddingsBoundary) });
  const held: { name: string; bytes: bigint }[] = [];
  if (architecture.positions === 'learned') {
    const batchSum = { name: 'dy summed over the batch [T, d]', bytes: BigInt(run.seq) * d * FLOAT_BYTES };
    const gradient = {
      name: "the position table's gradient [context, d]",
      bytes: BigInt(config.context_length) * d * FLOAT_BYTES,
    };
    peak(path.positionEmbeddings, [batchSum, gradient]);
    held.push(gradient);
  }
  if (architecture.scale_embeddings) {
    peak(path.embeddingScale, [
      ...held,
      { name: 'dy times sqrt(d) [B, T, d]', bytes: stream },
      { name: 'the scalar sqrt(d)', bytes: FLOAT_BYTES },
    ]);
  }
  const table = BigInt(architecture.padded_vocab_size) * d * FLOAT_BYTES;
  const lookup = { name: "the lookup's gradient [Vp, d]", bytes: table };
  peak(path.tokenEmbeddings, [...held, lookup]);
  if (architecture.tie_embeddings) {
    peak('', [
      ...held,
      lookup,
      { name: "the running sum of the table's two gradients [Vp, d]", bytes: table },
      { name: 'dy, freed', bytes: -stream },
    ]);
  }
  return peaks;
}
