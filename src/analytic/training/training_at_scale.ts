import { InputError } from '../../core/errors.js';
import { sum } from '../../core/counting.js';
import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { assertRunFits } from '../run_shape.js';
import {
  addPolynomials,
  evaluatePolynomial,
  perSequenceAt,
  scalePolynomial,
  ZERO_POLYNOMIAL,
  type BatchSeqPolynomial,
} from './batch_seq_polynomial.js';
import {
  checkpointedActivations,
  largerAt,
  recomputeFlops,
  type CheckpointedActivations,
  type Checkpointing,
} from './checkpointing.js';
import { stageCommunication, type CommunicationItem } from './communication.js';
import {
  optionNaming,
  parallelLayout,
  type OptionNaming,
  shardedParameters,
  type ParallelismOptions,
  type ParallelLayout,
  type PipelineStage,
  type ShardedParameters,
} from './parallelism.js';
import { precisionOf, type Precision, type PrecisionName } from './precision.js';
import { assertZeroStage, zeroModelStates, type ZeroModelStates, type ZeroStage } from './zero.js';

/**
 * One training step per device, at scale: data parallelism with a ZeRO stage, tensor, pipeline
 * and sequence parallelism, a precision and a checkpointing policy. Each device of a pipeline
 * stage holds the same (tensor-parallel ranks hold equal shards, data-parallel ranks equal
 * partitions), so one figure per stage describes every device.
 *
 * Pipeline schedule: 1F1B without interleaving (PipeDream-Flush; Narayanan et al. 2021,
 * "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM", section
 * 2.2.1): stage i (from 0) runs p - i - 1 warm-up forwards before its first backward, so it holds
 * the activations of up to min(p - i, m) micro-batches at once (m micro-batches per step; Megatron's
 * num_warmup_microbatches = min(p - i - 1, m), plus the one in 1F1B). The first stage holds the
 * most activations, the last the fewest but the logits.
 *
 * Per device: peak = model states (ZeRO) + gathered parameters (ZeRO-3 only) + activations, with
 *   activations = inFlight * (initial on stage 0 + its blocks * perLayer) + max(final on the last
 *   stage, one recomputed block under checkpointing)
 * (checkpointing.ts states when each is alive). ZeRO-3 (FSDP wrapping each block) holds, besides
 * its partition, the whole of the stage's non-block parameters (FSDP's root unit stays gathered
 * from forward to backward) and of one block at a time (prefetching the next, FSDP's default,
 * holds two: not counted), in the working dtype.
 */
export interface TrainingAtScaleOptions extends ParallelismOptions {
  readonly zeroStage: ZeroStage;
  readonly precision: PrecisionName;
  readonly checkpointing: Checkpointing;
  /** Micro-batches per step per data-parallel replica (the pipeline's m; gradient accumulation without a pipeline). */
  readonly microBatches: number;
}

export interface StageActivations {
  /** Micro-batches whose activations the stage holds at once: min(p - i, m). */
  readonly inFlight: number;
  /** Held per micro-batch from its forward to its backward: initial (stage 0) + blocks * perLayer. */
  readonly heldPerMicroBatch: BatchSeqPolynomial;
  /** The larger transient at this T: the final tensors (last stage), a recomputed block, or none. */
  readonly transient: 'final' | 'recomputed' | 'none';
  readonly transientBytes: BatchSeqPolynomial;
  /** inFlight * heldPerMicroBatch + transientBytes: bytes at a micro-batch of B sequences of this T. */
  readonly polynomial: BatchSeqPolynomial;
  readonly bytes: bigint;
}

export interface StageDevice {
  readonly stage: PipelineStage;
  /** Parameters on each device of the stage (after tensor and pipeline parallelism, before ZeRO). */
  readonly parameters: bigint;
  readonly modelStates: ZeroModelStates;
  /** ZeRO-3's gathered parameters (0n otherwise). */
  readonly gatheredParameters: bigint;
  readonly activations: StageActivations;
  /** modelStates + gatheredParameters: what does not grow with the micro-batch. */
  readonly constant: bigint;
  /** Activation bytes per sequence of the micro-batch at this T. */
  readonly perBatch: bigint;
  readonly total: bigint;
  readonly communication: readonly CommunicationItem[];
  readonly communicationBytes: bigint;
  /** Matmul FLOPs recomputed per step on one device of the stage. */
  readonly recomputedFlops: bigint;
}

export interface TrainingAtScale {
  readonly layout: ParallelLayout;
  readonly precision: Precision;
  readonly zeroStage: ZeroStage;
  readonly checkpointing: Checkpointing;
  /** One micro-batch: B sequences of T tokens on each data-parallel replica. */
  readonly run: RunShape;
  readonly microBatches: number;
  /** Sequences per step: B * m * dp. */
  readonly globalBatch: bigint;
  readonly parameters: ShardedParameters;
  readonly activations: CheckpointedActivations;
  readonly stages: readonly StageDevice[];
  /** The stage whose devices need the most memory (the first of equals). */
  readonly peakStage: number;
  readonly peakBytes: bigint;
}

function assertMicroBatches(microBatches: number, naming: OptionNaming): void {
  if (!Number.isSafeInteger(microBatches) || microBatches < 1) {
    throw new InputError(`${naming.subject('micro-batches', microBatches)} must be a positive integer`);
  }
}

function assertSequenceSplits(layout: ParallelLayout, seq: number, config: ModelConfig, naming: OptionNaming): void {
  const tp = layout.tensorParallel;
  if (!layout.sequenceParallel || seq % tp === 0) return;
  const below = Math.floor(seq / tp) * tp;
  const above = below + tp;
  const choices = [below, above].filter((value) => value >= 1 && value <= config.context_length);
  throw new InputError(
    `${naming.subject('seq', seq)} must be a multiple of tp (${tp}) with sequence parallelism, which splits the sequence over the ranks; ` +
      `use ${choices.length > 0 ? naming.fix('seq', choices.join(' or ')) : `a multiple of ${tp}`}, or ${naming.noSequenceParallel}`,
  );
}

/** What does not depend on the micro-batch size: layout, shards, activation tables. */
interface Plan {
  readonly layout: ParallelLayout;
  readonly precision: Precision;
  readonly parameters: ShardedParameters;
  readonly activations: CheckpointedActivations;
  readonly modelStates: readonly ZeroModelStates[];
  readonly gathered: readonly bigint[];
}

function plan(config: ModelConfig, options: TrainingAtScaleOptions): Plan {
  assertZeroStage(options.zeroStage);
  assertMicroBatches(options.microBatches, optionNaming(options.syntax));
  const layout = parallelLayout(config, options);
  const precision = precisionOf(options.precision);
  const parameters = shardedParameters(config, layout);
  const activations = checkpointedActivations(config, {
    checkpointing: options.checkpointing,
    activationBytes: precision.activationBytes,
    lossBytes: precision.lossBytes,
    tensorParallel: layout.tensorParallel,
    sequenceParallel: layout.sequenceParallel,
    vocab: parameters.vocab,
  });
  const modelStates = parameters.stages.map((stage) =>
    zeroModelStates(
      precision,
      options.zeroStage,
      layout.dataParallel,
      stage.rows.map((row) => row.count),
    ),
  );
  const gathered = parameters.stages.map((stage) => {
    if (options.zeroStage !== 3 || layout.dataParallel === 1) return 0n;
    const nonBlock = stage.parameters - BigInt(stage.layerCount) * stage.perLayer;
    return (nonBlock + stage.perLayer) * precision.weightBytes;
  });
  return { layout, precision, parameters, activations, modelStates, gathered };
}

function stageActivations(
  activations: CheckpointedActivations,
  stage: PipelineStage,
  layout: ParallelLayout,
  microBatches: number,
  seq: number,
): Omit<StageActivations, 'bytes'> {
  const inFlight = Math.min(layout.pipelineParallel - stage.stage, microBatches);
  const heldPerMicroBatch = addPolynomials(
    stage.hasEmbeddings ? activations.initial.bytes : ZERO_POLYNOMIAL,
    scalePolynomial(activations.perLayer.bytes, BigInt(stage.layerCount)),
  );
  const candidates: (readonly ['final' | 'recomputed' | 'none', BatchSeqPolynomial])[] = [['none', ZERO_POLYNOMIAL]];
  if (stage.hasHead) candidates.push(['final', activations.final.bytes]);
  if (activations.recomputed.tensors.length > 0) candidates.push(['recomputed', activations.recomputed.bytes]);
  // 'none' is first and zero, so any nonzero transient replaces it.
  const [transient, transientBytes] = largerAt(seq, candidates);
  const polynomial = addPolynomials(scalePolynomial(heldPerMicroBatch, BigInt(inFlight)), transientBytes);
  return { inFlight, heldPerMicroBatch, transient, transientBytes, polynomial };
}

/**
 * Per-device memory, communication and recomputation of one training step of micro-batches of
 * `run` (B sequences of T tokens), `options.microBatches` of them per step.
 */
export function trainingAtScale(config: ModelConfig, run: RunShape, options: TrainingAtScaleOptions): TrainingAtScale {
  assertRunFits(config, run);
  const planned = plan(config, options);
  const { layout, precision, parameters, activations } = planned;
  assertSequenceSplits(layout, run.seq, config, optionNaming(options.syntax));
  const recompute = recomputeFlops(config, options.checkpointing, layout.tensorParallel);
  const embeddingShard = (BigInt(parameters.vocab) * BigInt(config.d_model)) / BigInt(layout.tensorParallel);
  const stages = parameters.stages.map((stage, i): StageDevice => {
    const modelStates = planned.modelStates[i];
    const gatheredParameters = planned.gathered[i];
    if (modelStates === undefined || gatheredParameters === undefined)
      throw new Error(`training at scale: stage ${i} missing`);
    const shape = stageActivations(activations, stage, layout, options.microBatches, run.seq);
    const stageActivationBytes = evaluatePolynomial(shape.polynomial, run.batch, run.seq);
    const communication = stageCommunication({
      layout,
      stage,
      precision,
      zeroStage: options.zeroStage,
      checkpointing: options.checkpointing,
      batch: run.batch,
      seq: run.seq,
      dModel: config.d_model,
      microBatches: options.microBatches,
      tiedEmbeddings: architectureOf(config).tie_embeddings,
      embeddingShard,
    });
    const constant = modelStates.total + gatheredParameters;
    return {
      stage,
      parameters: stage.parameters,
      modelStates,
      gatheredParameters,
      activations: { ...shape, bytes: stageActivationBytes },
      constant,
      perBatch: perSequenceAt(shape.polynomial, run.seq),
      total: constant + stageActivationBytes,
      communication,
      communicationBytes: sum(communication.map((entry) => entry.bytesPerStep)),
      recomputedFlops:
        BigInt(stage.layerCount) *
        BigInt(options.microBatches) *
        evaluatePolynomial(recompute.perLayer, run.batch, run.seq),
    };
  });
  const peak = stages.reduce((best, next) => (next.total > best.total ? next : best));
  return {
    layout,
    precision,
    zeroStage: options.zeroStage,
    checkpointing: options.checkpointing,
    run,
    microBatches: options.microBatches,
    globalBatch: BigInt(run.batch) * BigInt(options.microBatches) * BigInt(layout.dataParallel),
    parameters,
    activations,
    stages,
    peakStage: peak.stage.stage,
    peakBytes: peak.total,
  };
}

export type LargestMicroBatch =
  | {
      readonly fits: true;
      readonly batch: number;
      /** The stage whose devices run out first. */
      readonly bindingStage: number;
      readonly bytesAtBatch: bigint;
      readonly bytesAtNext: bigint;
    }
  | { readonly fits: false; readonly batch: 0; readonly bindingStage: number; readonly reason: string };

/**
 * The largest micro-batch (sequences of `seq` tokens) whose step fits in `memoryBytes` on every
 * device: for each stage floor((M - constant) / perBatch), the smallest over the stages. Exact.
 */
export function largestMicroBatch(
  config: ModelConfig,
  seq: number,
  options: TrainingAtScaleOptions,
  memoryBytes: bigint,
): LargestMicroBatch {
  assertRunFits(config, { batch: 1, seq });
  const planned = plan(config, options);
  assertSequenceSplits(planned.layout, seq, config, optionNaming(options.syntax));
  let best: { batch: bigint; stage: number; constant: bigint; perBatch: bigint } | undefined;
  for (const [i, stage] of planned.parameters.stages.entries()) {
    const constant = (planned.modelStates[i]?.total ?? 0n) + (planned.gathered[i] ?? 0n);
    const shape = stageActivations(planned.activations, stage, planned.layout, options.microBatches, seq);
    const perBatch = perSequenceAt(shape.polynomial, seq);
    if (memoryBytes < constant) {
      return {
        fits: false,
        batch: 0,
        bindingStage: i,
        reason:
          `on stage ${i}, the model states alone take ${constant} bytes per device, ` +
          `more than the ${memoryBytes} bytes available`,
      };
    }
    const batch = (memoryBytes - constant) / perBatch;
    if (best === undefined || batch < best.batch) best = { batch, stage: i, constant, perBatch };
  }
  if (best === undefined) throw new Error('training at scale: no stage');
  if (best.batch === 0n) {
    return {
      fits: false,
      batch: 0,
      bindingStage: best.stage,
      reason:
        `on stage ${best.stage}, one sequence of ${seq} tokens needs ${best.constant + best.perBatch} bytes per device ` +
        `(${best.constant} for the model states and ${best.perBatch} of activations), more than the ${memoryBytes} bytes available`,
    };
  }
  if (best.batch > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(
      `memory: ${memoryBytes} bytes hold more than ${Number.MAX_SAFE_INTEGER} sequences; give a smaller memory`,
    );
  }
  return {
    fits: true,
    batch: Number(best.batch),
    bindingStage: best.stage,
    bytesAtBatch: best.constant + best.perBatch * best.batch,
    bytesAtNext: best.constant + best.perBatch * (best.batch + 1n),
  };
}
