/**
 * Checking a traced training step against the analytic formulas, exactly:
 *
 *   - forward-phase matmuls against forwardMatmulInventory, backward-phase matmuls against
 *     backwardMatmulInventory (its rows that run; skipped rows are left out), each joined by the
 *     module path of the forward op (backward kernels carry it, src/trace/backward_attribution.ts)
 *     and compared with batch dims folded into rows, so either order of dx and dW is fine;
 *   - per module and per component, the traced backward/forward matmul FLOP ratio (2 by calculus);
 *   - 6 * N * B * T against the traced forward + backward matmul FLOPs, N with and without embeddings;
 *   - the optimizer phase's FLOPs by the rule table beside the analytic AdamW count;
 *   - the measured peak memory beside the analytic training memory, with the reasons they differ;
 *   - the bytes every kernel moves (src/verify/bytes_check.ts): the forward phase's kernels against
 *     forwardKernelCosts as a forward pass's are checked (the loss, which has no analytic list yet,
 *     left out), and every backward matmul against backwardMatmulKernelCosts, the backward matmul
 *     inventory's rows with both operands and the output at fp32, tfjs's width.
 *
 * The matmul, mask, work and bytes checks decide `ok`: the rest are comparisons between
 * conventions, reported.
 */
import { expectedMasks } from '../analytic/attention_blocks.js';
import { forwardMatmulInventory } from '../analytic/forward_matmuls.js';
import { compareMasks, type MaskComparison } from './mask_check.js';
import { compareRouting, type RoutingComparison } from './routing_check.js';
import { nonMatmulEstimate } from '../analytic/non_matmul_estimate.js';
import { compareModuleWork, compareWorkAt, inAttentionCore, type WorkComparison } from './work_check.js';
import { summarizeParameters } from '../analytic/parameters.js';
import { MATMUL_COMPONENTS } from '../analytic/flop_breakdown.js';
import type { MatmulComponent, MatmulRow } from '../analytic/types.js';
import type { ActiveBackend } from '../runtime/backend.js';
import { architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import { parameterConventions, PARAMETER_CONVENTION_NOTES } from '../analytic/conventions/parameter_counts.js';
import { sixNPerToken } from '../analytic/conventions/published_approximations.js';
import { rational, type Rational } from '../core/exact.js';
import { groupDigits } from '../core/format.js';
import { layerIndexOf, withinLayer } from '../core/module_paths.js';
import type { BufferOwner, FirstKernel, MemoryPeak } from '../trace/memory_peak.js';
import { traceTrainingStep, type TracedTrainingStep, type TrainingTraceOptions } from '../runtime/traced_run.js';
import { totalNonMatmulFlops, uncountedKernels } from '../trace/summary.js';
import type { KernelPhase, KernelRecord } from '../core/kernel_record.js';
import {
  ADAMW_UNFOLDED_FLOPS_PER_PARAMETER,
  adamwUpdateFlops,
  embeddingGradientPeaks,
  stepBoundaries,
  type StepBoundary,
  backwardMatmulInventory,
  cloneStorageOf,
  evaluatePolynomial,
  keptBeyondSavedActivations,
  monomial,
  recomputeFlops,
  runtimeSavedWithFullCheckpointing,
  savedActivationBytesOfRun,
  savedActivations,
  tracedStepPeaks,
  trainingMemory,
  type TracedStepPeaks,
  type AdamwFlops,
  type BackwardMatmulRow,
  type KeptBeyondFormula,
  type RuntimeSavedComparison,
  type TrainingMemory,
} from '../analytic/training/index.js';
import type { BlockCheckpointing } from '../model/index.js';
import { compareMatmuls, countedMatmuls, type MatmulComparison } from './matmul_check.js';
import { forwardKernelCosts, type KernelList } from '../analytic/bytes.js';
import { backwardMatmulKernelCosts } from '../analytic/training/step_kernels.js';
import { path } from '../core/module_paths.js';
import { compareBackwardMatmulBytes, compareKernelBytes, type BytesComparison } from './bytes_check.js';

export interface TrainingVerifyOptions extends TrainingTraceOptions {
  /** The forward rows to check against (default: forwardMatmulInventory), to plant a wrong inventory. */
  readonly forwardInventory?: readonly MatmulRow[];
  /** The backward rows to check against (default: backwardMatmulInventory), to plant a wrong formula. */
  readonly backwardInventory?: readonly BackwardMatmulRow[];
  /** The forward kernels' bytes to check against (default: forwardKernelCosts at fp32), to plant a wrong list. */
  readonly forwardKernelBytes?: KernelList;
  /** The backward matmuls' bytes to check against (default: backwardMatmulKernelCosts at fp32), to plant a wrong list. */
  readonly backwardKernelBytes?: KernelList;
}

export interface BackwardToForwardFlops {
  readonly forward: bigint;
  readonly backward: bigint;
  /** backward / forward, exact; undefined when the forward side is 0. */
  readonly ratio: Rational | undefined;
}

export interface ModuleFlopRatio extends BackwardToForwardFlops {
  readonly path: string;
  readonly component: MatmulComponent;
}

export interface ComponentFlopRatio extends BackwardToForwardFlops {
  readonly component: MatmulComponent;
}

export interface TracedSixN {
  readonly convention: 'with_embeddings' | 'without_embeddings';
  readonly note: string;
  readonly parameters: bigint;
  readonly tokens: bigint;
  /** 6 * N * B * T. */
  readonly estimate: bigint;
  /** Traced forward + backward matmul FLOPs. */
  readonly traced: bigint;
  /** estimate / traced. */
  readonly ratio: Rational;
}

export interface OptimizerComparison {
  readonly parameterCount: bigint;
  /** Non-matmul FLOPs of the optimizer phase by the rule table. */
  readonly traced: bigint;
  readonly tracedPerParameter: Rational;
  /** Optimizer-phase kernels without a rule, by name and count (their work is in no total). */
  readonly uncounted: ReadonlyMap<string, number>;
  /** Matmul kernels in the optimizer phase (none expected). */
  readonly matmulKernels: number;
  /** The analytic count (its convention). */
  readonly analytic: AdamwFlops;
  /** The analytic alternative that folds both bias corrections into the step size, as the update runs. */
  readonly unfoldedAnalytic: bigint;
}

export interface PhaseNonMatmul {
  readonly phase: KernelPhase;
  readonly kernels: number;
  readonly flops: bigint;
  readonly uncounted: ReadonlyMap<string, number>;
}

export interface MemoryComparison {
  readonly measured: MemoryPeak;
  readonly analytic: TrainingMemory;
  /** tf.memory().numBytes at its peak / the analytic total. */
  readonly tensorRatio: Rational;
  /** Storage held at its peak (each buffer once) / the analytic total. */
  readonly bufferRatio: Rational;
  /** What is held before the step (weights, AdamW moments, ids, targets) against the analytic parameters + moments. */
  readonly heldBeforeAnalytic: bigint;
  /** Why the measured peak and the estimate differ, one sentence each, this run's figures included. */
  readonly reasons: readonly string[];
  /** The storage at the peak by who made it, against the saved-activation formula. */
  readonly saved: SavedActivationComparison;
}

/** Storage held at the peak by the buffers of one kernel at one module path (blocks folded together). */
export interface NamedBuffers {
  /** The module path within a block ("attn.scores"), or outside them ("lm_head"); '' for the step itself. */
  readonly module: string;
  readonly kernel: string;
  readonly buffers: number;
  readonly bytes: bigint;
}

/**
 * The storage taken apart by who made each buffer, at two moments. When the backward pass starts,
 * the buffers the forward pass made and still holds are what this framework keeps for the
 * backward pass: the saved-activation formula (saved_activations.ts, what autodiff needs) against
 * them, the rest named. At the storage peak: what was held before the step, what the forward,
 * backward and optimizer phases made, named.
 */
export interface SavedActivationComparison {
  /** The formula's saved activations at this run, in the model's fp32 (savedActivationBytesOfRun: the RoPE tables once, a blocked schedule's computed blocks). */
  readonly formula: bigint;
  /**
   * What the step keeps beyond the formula, named (keptBeyondSavedActivations: the loss, a
   * zero-centred gain's 1 + g); undefined on a backend whose clones are not modelled.
   */
  readonly beyondFormula: readonly KeptBeyondFormula[] | undefined;
  /** keptForBackward equals formula plus beyondFormula; undefined where beyondFormula is. */
  readonly keptMatchesFormula: boolean | undefined;
  /**
   * The formula's peak: what was held before the step, the formula and beyondFormula. At a peak in
   * the loss's gradient, where nothing kept has been freed yet, the measured peak is this plus the
   * backward pass's buffers (backwardBuffers, named).
   */
  readonly formulaPeak: bigint;
  /** Storage the forward pass made and still holds when the backward pass starts. */
  readonly keptForBackward: bigint;
  /** Those buffers, largest first, blocks folded together. */
  readonly keptBuffers: readonly NamedBuffers[];
  readonly peak: bigint;
  readonly peakPhase: KernelPhase | undefined;
  readonly heldBefore: bigint;
  readonly forward: bigint;
  readonly backward: bigint;
  readonly optimizer: bigint;
  /** Made by the reruns of checkpointed blocks or cores (0 without checkpointing). */
  readonly recompute: bigint;
  /** The backward pass's buffers at the peak, largest first. */
  readonly backwardBuffers: readonly NamedBuffers[];
  /** The optimizer update's storage peak, measured and by formula. */
  readonly updatePeak: OptimizerPeakComparison;
  /** The storage peak while the loss's gradient runs, measured and by formula. */
  readonly lossGradientPeak: LossGradientPeakComparison;
  /** The storage peak of each phase, and where it was reached. */
  readonly phasePeaks: MemoryPeak['bufferPeakByPhase'];
  /** The storage between blocks, forward and backward, measured and by formula, in the order the step reaches them. */
  readonly boundaries: readonly BoundaryComparison[];
  /** The embeddings' backward nodes (and a tied table's running sum), measured and by formula. */
  readonly embeddingPeaks: readonly EmbeddingPeakComparison[];
  /** Where the peak lies inside a block (its forward, rerun or backward): that block's start, and what it made and freed since. */
  readonly peakInBlock: PeakInBlock | undefined;
}

/** A moment of the embeddings' backward pass: its storage by formula (the embeddings' boundary and named parts) and measured. */
export interface EmbeddingPeakComparison {
  /** The module, or '' for the running sum of a tied table's two gradients. */
  readonly module: string;
  readonly parts: readonly { readonly name: string; readonly bytes: bigint }[];
  readonly formula: bigint;
  readonly measured: bigint | undefined;
  readonly matches: boolean | undefined;
}

/**
 * The storage peak inside a block, taken apart from the block's start (a boundary, by formula):
 * peak = start + made - freed, every buffer named by the module and kernel that made it.
 */
export interface PeakInBlock {
  /** The block, or undefined for a module after the blocks (the boundary's module). */
  readonly layer: number | undefined;
  readonly boundary: BoundaryComparison;
  /** Buffers made since the block's start and still held at the peak (its gradients, dys and temporaries), largest first. */
  readonly made: readonly PhaseBuffers[];
  /** Buffers held at the block's start and freed by the peak (what the block kept, the dys it was done with). */
  readonly freed: readonly PhaseBuffers[];
  readonly madeBytes: bigint;
  readonly freedBytes: bigint;
}

/** Buffers by the phase, module path and kernel that made them. */
export interface PhaseBuffers {
  /** undefined: held before the step. */
  readonly phase: KernelPhase | undefined;
  readonly path: string;
  readonly kernel: string;
  readonly buffers: number;
  readonly bytes: bigint;
}

/**
 * The storage just before the first kernel of a block's forward pass, rerun or backward pass, or
 * of the embeddings' backward pass, measured and by formula (stepBoundaries: held before, the
 * blocks' kept tensors, the gradients made so far, the residual stream or its dy, and the named
 * extras).
 */
export interface BoundaryComparison {
  readonly formula: StepBoundary;
  /** undefined when the step ran no kernel there. */
  readonly measured: bigint | undefined;
  /** measured equals the formula; undefined on a backend whose clones are not modelled. */
  readonly matches: boolean | undefined;
}

/**
 * The storage peak in the loss's gradient, the backward pass's first node: nothing kept has been
 * freed and no gradient made, so it is the formula's peak (formulaPeak) and the gradient's three
 * [B, T, Vp] fp32 buffers (the one-hot, the softmax and their difference: src/model/cross_entropy.ts).
 * The 4-byte seed gradient tfjs makes outside any kernel counts from the kernel that reads it, after this peak.
 */
export interface LossGradientPeakComparison {
  /** undefined when the step ran no backward kernel at the loss. */
  readonly measured: bigint | undefined;
  readonly formulaPeak: bigint;
  /** The three [B, T, Vp] fp32 buffers. */
  readonly scratch: bigint;
  readonly formula: bigint;
  /** measured equals formula; undefined where the named list does not cover the backend. */
  readonly matches: boolean | undefined;
}

/**
 * The update's storage peak: what was held before the step, every gradient, the loss, and three
 * copies of the largest parameter (optimizerPeak, from the update's order of release).
 */
export interface OptimizerPeakComparison {
  /** undefined when the step ran no optimizer kernel. */
  readonly measured: bigint | undefined;
  readonly heldBefore: bigint;
  readonly gradients: bigint;
  readonly loss: bigint;
  readonly largest: { readonly path: string; readonly name: string; readonly bytes: bigint };
  readonly scratch: bigint;
  readonly formula: bigint;
  /** measured equals formula; undefined on a backend whose clones are not modelled. */
  readonly matches: boolean | undefined;
}

/** One module's storage kept for the backward pass: traced against what the runtime formula says it keeps. */
export interface KeptByModule {
  readonly module: string;
  readonly traced: bigint;
  readonly formula: bigint;
}

/**
 * A checkpointed step, checked. Full: the blocks' rerun matmuls against the forward inventory's
 * block rows, and the storage the forward pass leaves for the backward pass, module by module,
 * against runtime_saved.ts (what tfjs keeps), which names each difference from the textbook
 * formula. Selective: the cores' rerun matmuls against the inventory's attention-core rows, the
 * rerun's non-matmul work (scale, cap, mask, softmax) at each module of the core against the
 * estimate's, and, per layer, the storage the core's modules (scores, softcap, softmax,
 * weighted_sum and their blocks) leave for the backward pass against the formula's T^2 term:
 * none under selective, as the core keeps only q, k and v, which their makers outside the core
 * hold (the weighted sum, which the formula keeps for output_proj, tfjs holds as the merged
 * heads' transpose, made at attn).
 */
export interface CheckpointVerification {
  readonly checkpoint: 'selective' | 'full';
  /** Rerun matmuls ('recompute' phase) against the forward rows rerun (every block's, or every core's), exactly. */
  readonly recompute: MatmulComparison;
  /** Traced rerun matmul FLOPs beside recomputeFlops(config, checkpoint), which counts the dense core. */
  readonly recomputeFlops: { readonly traced: bigint; readonly analytic: bigint };
  /** Selective: the rerun's non-matmul work at each module of the core against the estimate's; undefined for full. */
  readonly recomputeWork: WorkComparison | undefined;
  /** Full: what tfjs keeps, tensor by tensor, and the textbook; undefined on a backend whose clones are not modelled, and for selective. */
  readonly runtime: RuntimeSavedComparison | undefined;
  /** Every module holding storage, traced or in the formula, traced against formula (selective: each layer's core). */
  readonly kept: readonly KeptByModule[];
  /** Every module's kept storage equals the formula's (false when the backend is not modelled). */
  readonly keptOk: boolean;
  readonly ok: boolean;
}

export interface TrainingVerification {
  readonly config: ModelConfig;
  readonly checkpoint: BlockCheckpointing;
  /** Set when the step ran with selective or full checkpointing. */
  readonly checkpointCheck: CheckpointVerification | undefined;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  readonly forward: MatmulComparison;
  readonly backward: MatmulComparison;
  /** Backward inventory rows a real pass does not run (left out of the check). */
  readonly skippedBackwardRows: readonly BackwardMatmulRow[];
  /** Traced backward/forward matmul FLOPs per forward matmul path, in forward order. */
  readonly modules: readonly ModuleFlopRatio[];
  readonly components: readonly ComponentFlopRatio[];
  readonly total: BackwardToForwardFlops;
  readonly sixN: readonly TracedSixN[];
  readonly optimizer: OptimizerComparison;
  readonly nonMatmul: readonly PhaseNonMatmul[];
  /**
   * Adds the engine runs to sum the gradients of a tensor used more than once, outside every op's
   * gradient (so at the step's own path): their count and FLOPs, part of the backward non-matmul total.
   */
  readonly gradientAccumulation: { readonly kernels: number; readonly flops: bigint };
  readonly memory: MemoryComparison;
  /** The loss before the update; undefined on meta. */
  readonly loss: number | undefined;
  /** The attention masks of the forward phase against the formulas' (positions and window). */
  readonly masks: MaskComparison;
  /** The non-matmul work of each module outside the attention core in the forward phase, against the estimate's. */
  readonly work: WorkComparison;
  /** Each MoE layer's rows per expert in the forward phase, against k per token; undefined for a dense model. */
  readonly routing: RoutingComparison | undefined;
  /** The bytes the forward phase's kernels read (weights and activations apart) and write, against the analytic list's. */
  readonly forwardBytes: BytesComparison;
  /** The bytes every backward matmul reads and writes, against the backward matmul inventory's. */
  readonly backwardBytes: BytesComparison;
  readonly records: readonly KernelRecord[];
  /**
   * Every forward and backward matmul matches exactly, every attention mask has the expected band,
   * every module outside the core did the forward non-matmul work the estimate lists, and every
   * compared kernel, forward or backward matmul, moved exactly the bytes the analytic lists state,
   * and, where the named list covers the model, the storage kept for the backward pass is the
   * saved-activation formula plus its named buffers.
   */
  readonly ok: boolean;
}

/** Records of one phase, in execution order. */
function phaseRecords(records: readonly KernelRecord[], phase: KernelPhase): KernelRecord[] {
  let byPhase = recordsByPhase.get(records);
  if (byPhase === undefined) {
    byPhase = new Map<KernelPhase | undefined, KernelRecord[]>();
    for (const record of records) {
      const inPhase = byPhase.get(record.phase);
      if (inPhase === undefined) byPhase.set(record.phase, [record]);
      else inPhase.push(record);
    }
    recordsByPhase.set(records, byPhase);
  }
  return [...(byPhase.get(phase) ?? [])];
}

/**
 * A trace's records split by phase in one pass: the checks ask for a phase's records seven times or
 * more, each a scan of a million records in a large step. A trace's records do not change.
 */
const recordsByPhase = new WeakMap<readonly KernelRecord[], Map<KernelPhase | undefined, KernelRecord[]>>();

/** A dense model's report lists no router or experts, a model without latent attention no latent projections. */
const MOE_COMPONENTS: ReadonlySet<string> = new Set([
  'latent_projections',
  'router',
  'routed_experts',
  'shared_experts',
]);

function flopRatio(forward: bigint, backward: bigint): BackwardToForwardFlops {
  return { forward, backward, ratio: forward === 0n ? undefined : rational(backward, forward) };
}

function matmulFlopsByPath(records: readonly KernelRecord[]): Map<string, bigint> {
  const byPath = new Map<string, bigint>();
  for (const record of countedMatmuls(records)) {
    byPath.set(record.path, (byPath.get(record.path) ?? 0n) + record.matmul!.flops);
  }
  return byPath;
}

function moduleRatios(
  inventory: readonly MatmulRow[],
  forwardRecords: readonly KernelRecord[],
  backwardRecords: readonly KernelRecord[],
): ModuleFlopRatio[] {
  const forwardByPath = matmulFlopsByPath(forwardRecords);
  const backwardByPath = matmulFlopsByPath(backwardRecords);
  const seen = new Set<string>();
  const modules: ModuleFlopRatio[] = [];
  for (const row of inventory) {
    if (seen.has(row.path)) continue;
    seen.add(row.path);
    modules.push({
      path: row.path,
      component: row.component,
      ...flopRatio(forwardByPath.get(row.path) ?? 0n, backwardByPath.get(row.path) ?? 0n),
    });
  }
  return modules;
}

function tracedSixN(config: ModelConfig, run: RunShape, traced: bigint): TracedSixN[] {
  const N = parameterConventions(config);
  const tokens = BigInt(run.batch) * BigInt(run.seq);
  const compare = (convention: TracedSixN['convention'], note: string, parameters: bigint): TracedSixN => {
    const estimate = sixNPerToken(parameters) * tokens;
    return { convention, note, parameters, tokens, estimate, traced, ratio: rational(estimate, traced) };
  };
  return [
    compare('with_embeddings', PARAMETER_CONVENTION_NOTES.withEmbeddings, N.withEmbeddings),
    compare('without_embeddings', PARAMETER_CONVENTION_NOTES.withoutEmbeddings, N.withoutEmbeddings),
  ];
}

function phaseNonMatmul(records: readonly KernelRecord[], phase: KernelPhase): PhaseNonMatmul {
  const inPhase = phaseRecords(records, phase).filter((record) => !record.nested);
  return { phase, kernels: inPhase.length, flops: totalNonMatmulFlops(inPhase), uncounted: uncountedKernels(inPhase) };
}

function optimizerComparison(config: ModelConfig, records: readonly KernelRecord[]): OptimizerComparison {
  const parameterCount = summarizeParameters(config).total;
  const optimizerRecords = phaseRecords(records, 'optimizer');
  const traced = totalNonMatmulFlops(optimizerRecords);
  return {
    parameterCount,
    traced,
    tracedPerParameter: rational(traced, parameterCount),
    uncounted: uncountedKernels(optimizerRecords),
    matmulKernels: countedMatmuls(optimizerRecords).length,
    analytic: adamwUpdateFlops(parameterCount),
    unfoldedAnalytic: ADAMW_UNFOLDED_FLOPS_PER_PARAMETER * parameterCount,
  };
}

const PHASE_WORDS: Readonly<Record<KernelPhase, string>> = {
  forward: 'the forward pass',
  recompute: 'the recomputed forward pass of a checkpointed block or attention core',
  backward: 'the backward pass',
  optimizer: 'the optimizer update',
};

/** The buffers of `owners` that one phase made, blocks folded together, largest first. */
function namedBuffers(owners: readonly BufferOwner[], phase: KernelPhase): NamedBuffers[] {
  const byName = new Map<string, NamedBuffers>();
  for (const owner of owners) {
    if (owner.phase !== phase) continue;
    const module = withinLayer(owner.path);
    const key = `${module}\u0000${owner.kernel}`;
    const earlier = byName.get(key);
    byName.set(key, {
      module,
      kernel: owner.kernel,
      buffers: (earlier?.buffers ?? 0) + owner.buffers,
      bytes: (earlier?.bytes ?? 0n) + BigInt(owner.bytes),
    });
  }
  return [...byName.values()].sort((a, b) => (a.bytes === b.bytes ? 0 : a.bytes > b.bytes ? -1 : 1));
}

function bytesMadeIn(owners: readonly BufferOwner[], phase: KernelPhase | undefined): bigint {
  return BigInt(owners.filter((owner) => owner.phase === phase).reduce((total, owner) => total + owner.bytes, 0));
}

/** Whether keptBeyondSavedActivations covers this run: a backend whose clones are modelled. */
function beyondFormulaCovers(trace: TracedTrainingStep): boolean {
  return cloneStorageOf(trace.backend.name) !== undefined;
}

function savedActivationComparison(trace: TracedTrainingStep): SavedActivationComparison {
  const { memory: measured, config, run } = trace;
  const atBackward = measured.heldAtPhaseStart.backward ?? [];
  const atPeak = measured.bufferPeakHeldBy;
  const formula = savedActivationBytesOfRun(savedActivations(config, { checkpoint: trace.checkpoint }), config, run);
  const keptForBackward = bytesMadeIn(atBackward, 'forward');
  const beyondFormula = beyondFormulaCovers(trace) ? keptBeyondSavedActivations(config, trace.checkpoint) : undefined;
  const beyondBytes = (beyondFormula ?? []).reduce((total, entry) => total + entry.bytes, 0n);
  const heldBefore = bytesMadeIn(atPeak, undefined);
  // The formula's peak counts everything held before the step, from the parameter count: at a
  // peak in the update, some of it has been replaced by the update's own buffers (heldBefore
  // counts what is left).
  const peaks = tracedStepPeaks(config, run, trace.checkpoint);
  const boundaries = boundaryComparisons(trace);
  const formulaPeak = peaks.heldBefore + formula + beyondBytes;
  return {
    formula,
    beyondFormula,
    keptMatchesFormula: beyondFormula === undefined ? undefined : keptForBackward === formula + beyondBytes,
    formulaPeak,
    keptForBackward,
    keptBuffers: namedBuffers(atBackward, 'forward'),
    peak: BigInt(measured.bufferPeak.bytes),
    peakPhase: measured.bufferPeak.phase,
    heldBefore,
    forward: bytesMadeIn(atPeak, 'forward'),
    backward: bytesMadeIn(atPeak, 'backward'),
    optimizer: bytesMadeIn(atPeak, 'optimizer'),
    recompute: bytesMadeIn(atPeak, 'recompute'),
    backwardBuffers: namedBuffers(atPeak, 'backward'),
    updatePeak: optimizerPeakComparison(trace, peaks),
    lossGradientPeak: lossGradientPeakComparison(trace, peaks),
    phasePeaks: measured.bufferPeakByPhase,
    boundaries,
    embeddingPeaks: embeddingPeakComparisons(trace, boundaries),
    peakInBlock: peakInBlock(trace, boundaries),
  };
}

/** The peak inside a block, from the block's start; undefined when the peak lies outside the blocks. */
function peakInBlock(trace: TracedTrainingStep, boundaries: readonly BoundaryComparison[]): PeakInBlock | undefined {
  const { bufferPeak, bufferPeakHeldBy, heldAtPeakBlockStart } = trace.memory;
  const layer = layerIndexOf(bufferPeak.path);
  if (heldAtPeakBlockStart === undefined || heldAtPeakBlockStart.phase === 'optimizer') return undefined;
  const phase = heldAtPeakBlockStart.phase;
  const kind = phase === 'recompute' ? 'rerun' : phase;
  // A block's start, or the start of a module after the blocks (lm_head, ln_final) in the backward pass.
  const boundary = boundaries.find((entry) =>
    layer === undefined
      ? entry.formula.module === bufferPeak.path && entry.formula.kind === kind
      : entry.formula.layer === layer && entry.formula.kind === kind,
  );
  if (boundary === undefined) return undefined;
  const key = (owner: BufferOwner) => `${owner.phase ?? ''}\u0000${owner.path}\u0000${owner.kernel}`;
  const change = new Map<string, PhaseBuffers>();
  const add = (owner: BufferOwner, sign: 1 | -1) => {
    const earlier = change.get(key(owner));
    change.set(key(owner), {
      phase: owner.phase,
      path: owner.path,
      kernel: owner.kernel,
      buffers: (earlier?.buffers ?? 0) + sign * owner.buffers,
      bytes: (earlier?.bytes ?? 0n) + BigInt(sign * owner.bytes),
    });
  };
  for (const owner of bufferPeakHeldBy) add(owner, 1);
  for (const owner of heldAtPeakBlockStart.heldBy) add(owner, -1);
  const largestFirst = (a: PhaseBuffers, b: PhaseBuffers) => (a.bytes === b.bytes ? 0 : a.bytes > b.bytes ? -1 : 1);
  const made = [...change.values()].filter((entry) => entry.bytes > 0n).sort(largestFirst);
  const freed = [...change.values()]
    .filter((entry) => entry.bytes < 0n)
    .map((entry) => ({ ...entry, buffers: -entry.buffers, bytes: -entry.bytes }))
    .sort(largestFirst);
  const total = (entries: readonly PhaseBuffers[]) => entries.reduce((sum, entry) => sum + entry.bytes, 0n);
  return { layer, boundary, made, freed, madeBytes: total(made), freedBytes: total(freed) };
}

/** Module paths of the embeddings' backward pass, the last the step runs. */
const EMBEDDING_PATHS: ReadonlySet<string> = new Set([
  path.tokenEmbeddings,
  path.positionEmbeddings,
  path.embeddingScale,
]);

/** The earliest of some modules' first kernels. */
function firstOf(kernels: readonly (FirstKernel | undefined)[]): FirstKernel | undefined {
  let first: FirstKernel | undefined;
  for (const kernel of kernels)
    if (kernel !== undefined && (first === undefined || kernel.order < first.order)) first = kernel;
  return first;
}

function embeddingPeakComparisons(
  trace: TracedTrainingStep,
  boundaries: readonly BoundaryComparison[],
): EmbeddingPeakComparison[] {
  const covers = beyondFormulaCovers(trace);
  const byPath = trace.memory.bufferPeakByPhaseAndPath.get('backward');
  const embeddingsBoundary = boundaries.at(-1)!.formula.bytes;
  return embeddingGradientPeaks(trace.config, trace.run, embeddingsBoundary).map((peak) => {
    // tfjs adds a tied table's two gradients outside every module, the backward pass's last such Add.
    const value = peak.module === '' ? trace.memory.lastAddOutsideModules.backward : byPath?.get(peak.module)?.bytes;
    const measured = value === undefined ? undefined : BigInt(value);
    return {
      module: peak.module,
      parts: peak.parts,
      formula: peak.bytes,
      measured,
      matches: covers ? measured === peak.bytes : undefined,
    };
  });
}

function boundaryComparisons(trace: TracedTrainingStep): BoundaryComparison[] {
  const covers = beyondFormulaCovers(trace);
  // The experts' gradients follow the routing the step took: an expert no token chose gets none in the pass.
  const run = trace.routing === undefined ? trace.run : { ...trace.run, routing: trace.routing };
  return stepBoundaries(trace.config, run, trace.checkpoint).map((formula) => {
    const phase: KernelPhase = formula.kind === 'rerun' ? 'recompute' : formula.kind;
    const first =
      formula.module !== undefined
        ? trace.memory.firstKernelByPhaseAndPath.get(phase)?.get(formula.module)
        : formula.layer === undefined
          ? firstOf(
              [...EMBEDDING_PATHS].map((modulePath) =>
                trace.memory.firstKernelByPhaseAndPath.get(phase)?.get(modulePath),
              ),
            )
          : trace.memory.firstKernelByPhaseAndBlock.get(`${phase} ${formula.layer}`);
    const measured = first === undefined ? undefined : BigInt(first.bytesBefore);
    // Every block runs kernels in every phase it has: a boundary not found is a fault, not a pass.
    return { formula, measured, matches: covers ? measured === formula.bytes : undefined };
  });
}

function lossGradientPeakComparison(trace: TracedTrainingStep, peaks: TracedStepPeaks): LossGradientPeakComparison {
  const peak = trace.memory.bufferPeakByPhaseAndPath.get('backward')?.get(path.loss);
  const value = peak === undefined ? undefined : BigInt(peak.bytes);
  return {
    measured: value,
    formulaPeak: peaks.heldBefore + peaks.kept,
    scratch: peaks.lossGradientScratch,
    formula: peaks.lossGradient,
    matches: value === undefined || !beyondFormulaCovers(trace) ? undefined : value === peaks.lossGradient,
  };
}

function optimizerPeakComparison(trace: TracedTrainingStep, peaks: TracedStepPeaks): OptimizerPeakComparison {
  const peak = trace.memory.bufferPeakByPhase.optimizer;
  const value = peak === undefined ? undefined : BigInt(peak.bytes);
  return {
    measured: value,
    heldBefore: peaks.heldBefore,
    gradients: peaks.gradients,
    loss: LOSS_BYTES,
    largest: peaks.largestParameter,
    scratch: peaks.updateScratch,
    formula: peaks.update,
    matches: value === undefined || !beyondFormulaCovers(trace) ? undefined : value === peaks.update,
  };
}

/** The loss, a float32 scalar the step returns. */
const LOSS_BYTES = 4n;

/** "attn.scores BatchMatMul 2,048", the largest `count` of them. */
function describeBuffers(buffers: readonly NamedBuffers[], count: number): string {
  const shown = buffers
    .slice(0, count)
    .map((entry) => `${entry.module === '' ? 'the step' : entry.module} ${entry.kernel} ${groupDigits(entry.bytes)}`);
  const rest = buffers.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} and ${rest} more` : shown.join(', ');
}

function savedActivationSentences(saved: SavedActivationComparison): string[] {
  const bytes = (value: bigint) => `${groupDigits(value)} bytes`;
  const difference = saved.keptForBackward - saved.formula;
  const beyond = saved.beyondFormula ?? [];
  const named = beyond.map((entry) => `${entry.module} ${entry.tensor} ${groupDigits(entry.bytes)}`).join(', ');
  const verdict =
    saved.keptMatchesFormula === undefined
      ? `so the step keeps ${difference >= 0n ? `${bytes(difference)} more` : `${bytes(-difference)} less`} (the named list does not cover this model or backend)`
      : saved.keptMatchesFormula
        ? `and the step keeps exactly that plus ${bytes(difference)} named: ${named}`
        : `but the step keeps ${bytes(difference)} more where ${named} are named: a difference of ${bytes(difference - beyond.reduce((total, entry) => total + entry.bytes, 0n))} unaccounted`;
  const sentences = [
    `When the backward pass starts, the forward pass still holds ${bytes(saved.keptForBackward)} of its buffers; ` +
      `what autodiff needs of it (the saved-activation formula) is ${bytes(saved.formula)}, ${verdict}. ` +
      `Its buffers by module and kernel (blocks together), largest first: ${describeBuffers(saved.keptBuffers, 10)}.`,
    `Storage at the peak (in ${PHASE_WORDS[saved.peakPhase ?? 'forward']}), ${bytes(saved.peak)}, by who made it: ` +
      `${bytes(saved.heldBefore)} held before the step, ${bytes(saved.forward)} by the forward pass, ` +
      `${bytes(saved.backward)} by the backward pass, ${bytes(saved.optimizer)} by the optimizer` +
      (saved.recompute === 0n ? '. ' : `, ${bytes(saved.recompute)} by the reruns of checkpointed modules. `) +
      `The formula's peak (held before, the formula and the named buffers) is ${bytes(saved.formulaPeak)}; ` +
      `the measured peak is ${bytes(saved.peak - saved.formulaPeak)} above it.`,
  ];
  const phases = (['forward', 'recompute', 'backward', 'optimizer'] as const).filter(
    (phase) => saved.phasePeaks[phase] !== undefined,
  );
  sentences.push(
    'Storage peaks by phase: ' +
      phases
        .map((phase) => {
          const moment = saved.phasePeaks[phase]!;
          const at = moment.path === '' ? 'the step itself' : moment.path;
          return `${PHASE_WORDS[phase]} ${bytes(BigInt(moment.bytes))} (after ${moment.kernel} at ${at})`;
        })
        .join(', ') +
      '.',
  );
  const lossGradient = saved.lossGradientPeak;
  if (lossGradient.measured !== undefined) {
    const verdict =
      lossGradient.matches === undefined
        ? `measured ${bytes(lossGradient.measured)} (the named list does not cover this backend)`
        : lossGradient.matches
          ? 'equal to the measured peak there'
          : `but the measured peak there is ${bytes(lossGradient.measured)}`;
    sentences.push(
      `In the loss's gradient, the backward pass's first node, the peak is ${bytes(lossGradient.formula)}, ${verdict}: ` +
        `the formula's peak and three [B, T, Vp] fp32 buffers, ${bytes(lossGradient.scratch)} (the one-hot, the softmax ` +
        'and their difference), as nothing kept has been freed and no gradient made yet.',
    );
  }
  const update = saved.updatePeak;
  if (update.measured !== undefined) {
    const verdict =
      update.matches === undefined
        ? `measured ${bytes(update.measured)} (the formula does not cover this backend)`
        : update.matches
          ? 'equal to the measured peak'
          : `but the measured peak is ${bytes(update.measured)}`;
    sentences.push(
      `The optimizer update's peak is ${bytes(update.formula)}, ${verdict}: ${bytes(update.heldBefore)} held before the ` +
        `step, ${bytes(update.gradients)} of gradients, the 4-byte loss, and three copies of the largest parameter ` +
        `(${update.largest.path} ${update.largest.name}, ${bytes(update.largest.bytes)}): the update frees each ` +
        "kernel's result once the next has read it, so a line holds two operands and their sum at most.",
    );
  }
  const boundaries = saved.boundaries;
  if (boundaries.length > 0) {
    const off = boundaries.filter((boundary) => boundary.matches === false);
    const largest = boundaries.reduce((most, boundary) =>
      boundary.formula.bytes > most.formula.bytes ? boundary : most,
    );
    const verdict = boundaries.some((boundary) => boundary.matches === undefined)
      ? 'the formula does not cover this backend'
      : off.length === 0
        ? `the formula equals the measured storage at all ${boundaries.length} boundaries`
        : `the formula differs from the measured storage at ${off.length} of the ${boundaries.length} boundaries: ${off.map(boundaryLabel).join(', ')}`;
    const forward = boundaries.filter((boundary) => boundary.formula.kind === 'forward').length;
    sentences.push(
      `Between blocks the storage is whole tensors, and ${verdict} (${forward} in the forward pass, ` +
        `${boundaries.length - forward} in the backward pass): what was held before the step; the blocks' kept ` +
        'tensors (in the forward pass those run so far, in the backward pass those not yet reached); the gradients ' +
        "made so far; the residual stream or its dy [B, T, d]; the loss, the reruns' outputs and what the embeddings " +
        `made. The largest is ${bytes(largest.formula.bytes)}, at ${boundaryLabel(largest)}.` +
        peakWithinBlock(saved),
    );
  }
  const embeddingPeaks = saved.embeddingPeaks;
  if (embeddingPeaks.length > 0) {
    const off = embeddingPeaks.filter((peak) => peak.matches === false);
    const verdict = embeddingPeaks.some((peak) => peak.matches === undefined)
      ? 'the formulas do not cover this backend'
      : off.length === 0
        ? `each equals its formula`
        : `${off.length} of ${embeddingPeaks.length} differ from their formula`;
    sentences.push(
      `The embeddings' backward pass, from their boundary: ${verdict}. ` +
        embeddingPeaks
          .map(
            (peak) =>
              `${peak.module === '' ? "The tied table's running sum" : `At ${peak.module}`}, ${bytes(peak.formula)}: ` +
              `the boundary and ${peak.parts.map((part) => `${part.name} ${bytes(part.bytes)}`).join(', ')}.`,
          )
          .join(' '),
    );
  }
  if (saved.backwardBuffers.length > 0) {
    sentences.push(
      `The backward pass's buffers at the peak (gradients and temporaries, none in the formula): ` +
        `${describeBuffers(saved.backwardBuffers, 8)}.`,
    );
  }
  return sentences;
}

/** "the start of layers.3's forward pass", "... rerun", "... backward pass", "the start of the embeddings' backward pass". */
function boundaryLabel(boundary: BoundaryComparison): string {
  const { layer, kind, module } = boundary.formula;
  if (module !== undefined) return `the start of ${module}'s backward pass`;
  if (layer === undefined) return "the start of the embeddings' backward pass";
  return `the start of ${path.layer(layer)}'s ${kind === 'rerun' ? 'rerun' : `${kind} pass`}`;
}

/** " The step's peak is in layers.3's backward pass, 28,160 bytes above its start: ...", or ''. */
function peakWithinBlock(saved: SavedActivationComparison): string {
  const inBlock = saved.peakInBlock;
  if (inBlock?.boundary.matches !== true) return '';
  const passOf = (phase: KernelPhase | undefined) => (phase === 'recompute' ? 'rerun' : `${phase ?? 'forward'} pass`);
  const kind = inBlock.boundary.formula.kind;
  const peakPhase = saved.peakPhase;
  const list = (entries: readonly PhaseBuffers[]) =>
    entries
      .slice(0, 6)
      .map(
        (entry) =>
          `${entry.path === '' ? 'the step' : entry.path} ${entry.kernel} (${entry.phase ?? 'held before'}) ${groupDigits(entry.bytes)}`,
      )
      .join(', ') + (entries.length > 6 ? ` and ${entries.length - 6} more` : '');
  return (
    ` The step's peak is in ${inBlock.layer === undefined ? inBlock.boundary.formula.module : path.layer(inBlock.layer)}'s ` +
    `${passOf(peakPhase)}, ${groupDigits(inBlock.madeBytes - inBlock.freedBytes)} bytes above the start of its ` +
    `${passOf(kind === 'rerun' ? 'recompute' : kind)}: made since and held, ${groupDigits(inBlock.madeBytes)} bytes (${list(inBlock.made)})` +
    (inBlock.freed.length === 0
      ? ''
      : `; freed since, ${groupDigits(inBlock.freedBytes)} bytes (${list(inBlock.freed)})`) +
    (peakPhase === 'backward'
      ? ". These are its own gradients, dys and temporaries (and a rerun core's intermediates): named, not a formula."
      : peakPhase === 'recompute'
        ? ". These are the rerun's intermediates, held until its backward pass returns: named, not a formula."
        : ". These are the block's intermediates, held until it ends: named, not a formula.")
  );
}

function memoryComparison(trace: TracedTrainingStep, analytic: TrainingMemory): MemoryComparison {
  const measured = trace.memory;
  const analyticTotal = analytic.total;
  const heldBeforeAnalytic = analytic.parameters + analytic.adamMoments;
  const peak = measured.tensorPeak;
  const where = `${PHASE_WORDS[peak.phase ?? 'forward']}, after ${peak.kernel} at ${peak.path === '' ? 'the step itself' : peak.path}`;
  const bytes = (value: number | bigint): string => `${groupDigits(BigInt(value))} bytes`;
  const heldDifference = BigInt(measured.tensorBytesBefore) - heldBeforeAnalytic;
  const idsAndTargets = 2n * 4n * BigInt(trace.run.batch) * BigInt(trace.run.seq);
  const architecture = architectureOf(trace.config);
  const norm = architecture.norm === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm';
  const reasons = [
    `Before the step, weights, AdamW's m and v, ids and targets held ${bytes(measured.tensorBytesBefore)}; ` +
      `the estimate's parameters and moments are ${bytes(heldBeforeAnalytic)}: ` +
      (heldDifference === idsAndTargets
        ? `the difference is exactly the ids and targets (2 x B x T int32, ${bytes(idsAndTargets)}).`
        : `a difference of ${bytes(heldDifference)}, where the ids and targets take ${bytes(idsAndTargets)}.`),
    `The measured peak came in ${where}. The estimate adds parameters, gradients (${bytes(analytic.gradients)}), ` +
      'm, v and the listed activations as if all were held at once.',
    "The forward pass frees each block's intermediates when the block ends, and the backward pass frees what each " +
      'node is done with (the gradient it received, what it kept, its temporaries), as autograd does' +
      (peak.phase === 'backward'
        ? ": a peak in the backward pass holds what is still kept, the gradients made so far and the running node's buffers."
        : '.'),
    "The model's gradients keep what autodiff needs (the saved-activation formula), not every kernel's inputs: the " +
      'residual adds, reshapes, scales, the mask' +
      (architecture.positions === 'rope' ? ', RoPE' : '') +
      ` and the activations carry custom gradients (src/model/lean_gradients.ts), each ${norm} keeps its input, gain ` +
      'and statistics.',
    `Gradients of non-matmul ops make full-size temporaries (the ${norm}s', ` +
      (architecture.positions === 'rope' ? "RoPE's, " : '') +
      `${architecture.ffn === 'swiglu' ? "SiLU's" : "GELU's"}, the softmax's), freed when their node is done, and ` +
      'the engine adds up the gradients of tensors used more than once.',
    'tf.memory().numBytes counts tensors, not storage: a reshape view, or a clone kept for a gradient that shares its ' +
      `source's storage, counts again. Storage actually held peaked at ${bytes(measured.bufferPeak.bytes)}, each buffer once.`,
  ];
  const saved = savedActivationComparison(trace);
  reasons.push(...savedActivationSentences(saved));
  if (trace.backend.name === 'meta') {
    reasons.push(
      'On meta no byte is held (its memory() reports 0): both measured figures count shapes, i.e. what the real tensors ' +
        'would take on a backend that shares storage where cpu does.',
    );
  }
  return {
    measured,
    analytic,
    saved,
    tensorRatio: rational(BigInt(peak.bytes), analyticTotal),
    bufferRatio: rational(BigInt(measured.bufferPeak.bytes), analyticTotal),
    heldBeforeAnalytic,
    reasons,
  };
}

/** Storage the forward pass made and still holds when the backward pass starts, by the path of its maker. */
function keptForBackwardByPath(trace: TracedTrainingStep): Map<string, bigint> {
  const traced = new Map<string, bigint>();
  for (const owner of trace.memory.heldAtPhaseStart.backward ?? []) {
    if (owner.phase !== 'forward') continue;
    traced.set(owner.path, (traced.get(owner.path) ?? 0n) + BigInt(owner.bytes));
  }
  return traced;
}

/** The step's kept storage by module path, and the forward rows of every block, checked against a rerun. */
function fullCheckpointVerification(
  trace: TracedTrainingStep,
  forwardRows: readonly MatmulRow[],
  recomputeRecords: readonly KernelRecord[],
): CheckpointVerification {
  const { config, run } = trace;
  const blockRows = forwardRows.filter((row) => layerIndexOf(row.path) !== undefined);
  const recompute = compareMatmuls(blockRows, recomputeRecords);
  const analyticRecompute = evaluatePolynomial(recomputeFlops(config, 'full').total, run.batch, run.seq);
  const storage = cloneStorageOf(trace.backend.name);
  const runtime = storage === undefined ? undefined : runtimeSavedWithFullCheckpointing(config, run, storage);
  const traced = keptForBackwardByPath(trace);
  const modules = [...new Set([...(runtime?.byModule.keys() ?? []), ...traced.keys()])];
  const kept = modules.map((module) => ({
    module,
    traced: traced.get(module) ?? 0n,
    formula: runtime?.byModule.get(module) ?? 0n,
  }));
  const keptOk = runtime !== undefined && kept.every((entry) => entry.traced === entry.formula);
  return {
    checkpoint: 'full',
    recompute,
    recomputeFlops: { traced: recompute.tracedTotal, analytic: analyticRecompute },
    recomputeWork: undefined,
    runtime,
    kept,
    keptOk,
    ok: recompute.ok && keptOk,
  };
}

/**
 * Selective checkpointing checked: every core's rerun against the inventory's core rows and the
 * estimate's core kernels, and the storage kept at the core's T^2 modules against the formula.
 */
function selectiveCheckpointVerification(
  trace: TracedTrainingStep,
  forwardRows: readonly MatmulRow[],
  records: readonly KernelRecord[],
): CheckpointVerification {
  const { config, run } = trace;
  const recomputeRecords = phaseRecords(records, 'recompute');
  const coreRows = forwardRows.filter((row) => row.component === 'attention_core');
  const recompute = compareMatmuls(coreRows, recomputeRecords);
  const analyticRecompute = evaluatePolynomial(recomputeFlops(config, 'selective').total, run.batch, run.seq);
  const recomputeWork = compareWorkAt(nonMatmulEstimate(config, run), recomputeRecords, 'recompute', inAttentionCore);
  // The formula's T^2 bytes per layer: what a layer keeps that grows with the square of the sequence.
  const perLayer = savedActivations(config, { checkpoint: 'selective' }).perLayer.bytes;
  const quadratic = evaluatePolynomial(monomial(perLayer.perSequence[2] ?? 0n, 2), run.batch, run.seq);
  const traced = keptForBackwardByPath(trace);
  const kept: KeptByModule[] = [];
  for (let i = 0; i < config.num_layers; i += 1) {
    const layer = path.layer(i);
    const modules = [...traced.keys()].filter((module) => inAttentionCore(module) && layerIndexOf(module) === i);
    const tracedBytes = modules.reduce((total, module) => total + traced.get(module)!, 0n);
    kept.push({ module: `${layer}.attn core`, traced: tracedBytes, formula: quadratic });
  }
  const keptOk = kept.every((entry) => entry.traced === entry.formula);
  return {
    checkpoint: 'selective',
    recompute,
    recomputeFlops: { traced: recompute.tracedTotal, analytic: analyticRecompute },
    recomputeWork,
    runtime: undefined,
    kept,
    keptOk,
    ok: recompute.ok && recomputeWork.ok && keptOk,
  };
}

interface TrainingInventories {
  readonly forward?: readonly MatmulRow[];
  readonly backward?: readonly BackwardMatmulRow[];
  readonly forwardBytes?: KernelList;
  readonly backwardBytes?: KernelList;
}

/** Compare a traced training step with the analytic inventories (defaults from config and run). */
function checkTrainingTrace(trace: TracedTrainingStep, inventories: TrainingInventories = {}): TrainingVerification {
  const { config, records } = trace;
  // A MoE layer's experts are checked against the rows each got in the traced forward pass.
  const run = trace.routing === undefined ? trace.run : { ...trace.run, routing: trace.routing };
  const routing = compareRouting(config, trace.run, trace.routing);
  const forwardRows = inventories.forward ?? forwardMatmulInventory(config, run);
  const backwardRows = inventories.backward ?? backwardMatmulInventory(config, run);
  const runningBackwardRows = backwardRows.filter((row) => row.skipped === undefined);
  const forwardRecords = phaseRecords(records, 'forward');
  const backwardRecords = phaseRecords(records, 'backward');
  const forward = compareMatmuls(forwardRows, forwardRecords);
  const backward = compareMatmuls(runningBackwardRows, backwardRecords);
  const masks = compareMasks(expectedMasks(config, run), forwardRecords);
  const work = compareModuleWork(nonMatmulEstimate(config, run), forwardRecords);
  // tfjs computes in float32: the analytic bytes at fp32's 4 bytes. The loss has no analytic list yet.
  const forwardBytes = compareKernelBytes(
    inventories.forwardBytes ?? forwardKernelCosts(config, run, 'fp32'),
    forwardRecords.filter((record) => record.path !== path.loss),
  );
  const backwardBytes = compareBackwardMatmulBytes(
    inventories.backwardBytes ?? backwardMatmulKernelCosts(config, run, 'fp32'),
    backwardRecords,
  );

  const components = MATMUL_COMPONENTS.map((component): ComponentFlopRatio => {
    const tracedForward = forward.byComponent.find((entry) => entry.component === component)?.traced ?? 0n;
    const tracedBackward = backward.byComponent.find((entry) => entry.component === component)?.traced ?? 0n;
    return { component, ...flopRatio(tracedForward, tracedBackward) };
  }).filter((entry) => entry.forward > 0n || !MOE_COMPONENTS.has(entry.component));
  const accumulation = backwardRecords.filter((record) => record.path === '' && !record.nested);
  const checkpointCheck =
    trace.checkpoint === 'full'
      ? fullCheckpointVerification(trace, forwardRows, phaseRecords(records, 'recompute'))
      : trace.checkpoint === 'selective'
        ? selectiveCheckpointVerification(trace, forwardRows, records)
        : undefined;

  const memory = memoryComparison(trace, trainingMemory(config, run));
  return {
    config,
    checkpoint: trace.checkpoint,
    checkpointCheck,
    run,
    backend: trace.backend,
    forward,
    backward,
    skippedBackwardRows: backwardRows.filter((row) => row.skipped !== undefined),
    modules: moduleRatios(forwardRows, forwardRecords, backwardRecords),
    components,
    total: flopRatio(forward.tracedTotal, backward.tracedTotal),
    sixN: tracedSixN(config, run, forward.tracedTotal + backward.tracedTotal),
    optimizer: optimizerComparison(config, records),
    nonMatmul: (checkpointCheck === undefined
      ? (['forward', 'backward', 'optimizer'] as const)
      : (['forward', 'recompute', 'backward', 'optimizer'] as const)
    ).map((phase) => phaseNonMatmul(records, phase)),
    gradientAccumulation: { kernels: accumulation.length, flops: totalNonMatmulFlops(accumulation) },
    memory,
    loss: trace.loss,
    masks,
    work,
    routing,
    forwardBytes,
    backwardBytes,
    records,
    ok:
      forward.ok &&
      backward.ok &&
      masks.ok &&
      work.ok &&
      (routing?.ok ?? true) &&
      forwardBytes.ok &&
      backwardBytes.ok &&
      (checkpointCheck?.ok ?? true) &&
      memory.saved.keptMatchesFormula !== false &&
      memory.saved.updatePeak.matches !== false &&
      memory.saved.lossGradientPeak.matches !== false &&
      memory.saved.boundaries.every((boundary) => boundary.matches !== false) &&
      memory.saved.embeddingPeaks.every((peak) => peak.matches !== false),
  };
}

/** Trace one training step and check it against the analytic inventories, exactly. */
export async function verifyTraining(options: TrainingVerifyOptions): Promise<TrainingVerification> {
  const { config, run } = options;
  // The expected side first: a bad config or run is refused before any backend work.
  const forward = options.forwardInventory ?? forwardMatmulInventory(config, run);
  const backward = options.backwardInventory ?? backwardMatmulInventory(config, run);
  const forwardBytes = options.forwardKernelBytes ?? forwardKernelCosts(config, run, 'fp32');
  const backwardBytes = options.backwardKernelBytes ?? backwardMatmulKernelCosts(config, run, 'fp32');
  trainingMemory(config, run);
  const trace = await traceTrainingStep(options);
  // A routed run's defaults follow the routing it took; a given inventory (a planted fault) stays.
  if (trace.routing !== undefined) {
    return checkTrainingTrace(trace, {
      ...(options.forwardInventory === undefined ? {} : { forward: options.forwardInventory }),
      ...(options.backwardInventory === undefined ? {} : { backward: options.backwardInventory }),
      ...(options.forwardKernelBytes === undefined ? {} : { forwardBytes: options.forwardKernelBytes }),
      ...(options.backwardKernelBytes === undefined ? {} : { backwardBytes: options.backwardKernelBytes }),
    });
  }
  return checkTrainingTrace(trace, { forward, backward, forwardBytes, backwardBytes });
}
