import type { Checkpointing } from './checkpointing.js';
import type { ParallelLayout, PipelineStage } from './parallelism.js';
import type { Precision } from './precision.js';
import type { ZeroStage } from './zero.js';

/**
 * Communication of one training step, as bytes each device sends.
 *
 * Ring collectives over n devices of a buffer of E elements (E is the whole, reduced or gathered
 * buffer), cut into n chunks of ceil(E / n) elements (NCCL's ring algorithm; the padding of the
 * last chunk is counted):
 *   all-reduce       2 (n - 1) chunks per device (a reduce-scatter, then an all-gather)
 *   reduce-scatter     (n - 1) chunks
 *   all-gather         (n - 1) chunks
 * so a ring all-reduce moves 2 (n - 1) / n of the data per device, the bandwidth-optimal amount
 * (Patarasuk & Yuan 2009), and the ZeRO paper's "2Ψ" per step of plain data parallelism is this
 * with the (n - 1) / n factor dropped. A point-to-point send moves E elements. Every device sends
 * as many bytes as it receives in these, so one figure per device is stated. Tree algorithms,
 * in-network reduction and overlap with computation are not modelled; nothing here is time.
 */
export type Collective = 'all-reduce' | 'reduce-scatter' | 'all-gather' | 'send';

export type CommunicationGroup = 'data' | 'tensor' | 'pipeline' | 'embedding';

export interface CommunicationItem {
  readonly group: CommunicationGroup;
  readonly what: string;
  readonly collective: Collective;
  /** Times per step. */
  readonly count: bigint;
  /** Elements of the whole buffer each time. */
  readonly elements: bigint;
  readonly bytesPerElement: bigint;
  /** Devices taking part in each collective (2 for a send: one sends, one receives). */
  readonly devices: number;
  /** Bytes one device sends per step: count times one collective's. */
  readonly bytesPerStep: bigint;
}

/** Bytes one device sends in one `collective` over `devices` devices of `elements` elements. */
export function collectiveBytes(
  collective: Collective,
  elements: bigint,
  bytesPerElement: bigint,
  devices: number,
): bigint {
  if (collective === 'send') return elements * bytesPerElement;
  const n = BigInt(devices);
  const chunk = (elements + n - 1n) / n;
  const chunks = collective === 'all-reduce' ? 2n * (n - 1n) : n - 1n;
  return chunks * chunk * bytesPerElement;
}

function item(
  group: CommunicationGroup,
  what: string,
  collective: Collective,
  count: bigint,
  elements: bigint,
  bytesPerElement: bigint,
  devices: number,
): CommunicationItem {
  const bytesPerStep = count * collectiveBytes(collective, elements, bytesPerElement, devices);
  return { group, what, collective, count, elements, bytesPerElement, devices, bytesPerStep };
}

export interface StageCommunicationInput {
  readonly layout: ParallelLayout;
  readonly stage: PipelineStage;
  readonly precision: Precision;
  readonly zeroStage: ZeroStage;
  readonly checkpointing: Checkpointing;
  readonly batch: number;
  readonly seq: number;
  readonly dModel: number;
  readonly microBatches: number;
  readonly tiedEmbeddings: boolean;
  /** Elements of one tensor-parallel shard of the embedding table ((V / tp) * d). */
  readonly embeddingShard: bigint;
}

/**
 * Data parallelism, per step, over the stage's parameters on each device (Ψ_dev):
 * - stage 0: one all-reduce of the gradients, after the last micro-batch;
 * - stage 1 (ZeRO P_os): a reduce-scatter of the gradients, then an all-gather of the updated
 *   16-bit (or fp32) weights, the same volume (ZeRO section 7.2.1);
 * - stage 2 (P_os+g): the gradients are partitioned, so each micro-batch's are reduce-scattered
 *   as they are formed (DeepSpeed reduces every backward pass); one all-gather of the weights;
 * - stage 3 (P_os+g+p, FSDP): per micro-batch the weights are all-gathered for the forward and
 *   again for the backward, and the gradients reduce-scattered: 3Ψ per micro-batch, 1.5 x the
 *   baseline at one micro-batch (ZeRO section 7.2.2). FSDP's root module, kept gathered between
 *   forward and backward, is gathered once: a difference not modelled.
 * Gradients move in the precision's gradient dtype, weights in its working dtype.
 */
function dataParallel(input: StageCommunicationInput): CommunicationItem[] {
  const { layout, stage, precision, zeroStage, microBatches } = input;
  const dp = layout.dataParallel;
  if (dp === 1) return [];
  const m = BigInt(microBatches);
  const psi = stage.parameters;
  const { gradientBytes: g, weightBytes: w } = precision;
  switch (zeroStage) {
    case 0:
      return [item('data', 'gradient all-reduce', 'all-reduce', 1n, psi, g, dp)];
    case 1:
      return [
        item('data', 'gradient reduce-scatter', 'reduce-scatter', 1n, psi, g, dp),
        item('data', 'updated-weight all-gather', 'all-gather', 1n, psi, w, dp),
      ];
    case 2:
      return [
        item('data', 'gradient reduce-scatter, each micro-batch', 'reduce-scatter', m, psi, g, dp),
        item('data', 'updated-weight all-gather', 'all-gather', 1n, psi, w, dp),
      ];
    case 3:
      return [
        item('data', 'weight all-gather for forward and backward, each micro-batch', 'all-gather', 2n * m, psi, w, dp),
        item('data', 'gradient reduce-scatter, each micro-batch', 'reduce-scatter', m, psi, g, dp),
      ];
  }
}

/**
 * Tensor parallelism, per micro-batch, on buffers of B T d elements in the activation dtype
 * (Shoeybi et al. 2019, section 3: the f and g operators; Korthikanti et al. 2022, section 4.2).
 * Without sequence parallelism each block all-reduces twice forward (after output_proj and w2)
 * and twice backward (the input gradients of the q/k/v and w1(/w3) groups). With it each
 * all-reduce becomes an all-gather before a column-parallel group and a reduce-scatter after a
 * row-parallel one, and the backward pass adds one all-gather per column-parallel group to
 * rebuild the input it saved as a shard (Megatron-LM,
 * LinearWithGradAccumulationAndAsyncCommunication.backward). Full checkpointing reruns each
 * block's forward, collectives included. The vocab-parallel embedding reduces its output, lm_head
 * reduces its input gradient, and the vocab-parallel cross-entropy all-reduces three [B, T] fp32
 * tensors (the max logit, the target's logit and the sum of exponentials).
 */
function tensorParallel(input: StageCommunicationInput): CommunicationItem[] {
  const { layout, stage, checkpointing, batch, seq, dModel, microBatches, precision } = input;
  const tp = layout.tensorParallel;
  if (tp === 1) return [];
  const m = BigInt(microBatches);
  const perBlock = 2n * BigInt(stage.layerCount) * m; // two column/row pairs per block, each micro-batch
  const hidden = BigInt(batch) * BigInt(seq) * BigInt(dModel);
  const a = precision.activationBytes;
  const tensor = (what: string, collective: 'all-reduce' | 'all-gather' | 'reduce-scatter', count: bigint) =>
    item('tensor', what, collective, count, hidden, a, tp);
  const items: CommunicationItem[] = [];
  const recompute = checkpointing === 'full';
  if (!layout.sequenceParallel) {
    items.push(
      tensor('block forward all-reduces (after output_proj and w2)', 'all-reduce', perBlock),
      tensor('block backward all-reduces (input gradients of q/k/v and w1)', 'all-reduce', perBlock),
    );
    if (recompute) items.push(tensor('recomputed block forward all-reduces', 'all-reduce', perBlock));
    if (stage.hasEmbeddings) items.push(tensor('vocab-parallel embedding output all-reduce', 'all-reduce', m));
    if (stage.hasHead) items.push(tensor('lm_head input-gradient all-reduce', 'all-reduce', m));
  } else {
    items.push(
      tensor('block forward all-gathers (before q/k/v and w1)', 'all-gather', perBlock),
      tensor('block forward reduce-scatters (after output_proj and w2)', 'reduce-scatter', perBlock),
      tensor('block backward all-gathers (gradients through the reduce-scatters)', 'all-gather', perBlock),
      tensor('block backward reduce-scatters (input gradients of q/k/v and w1)', 'reduce-scatter', perBlock),
      tensor('block backward all-gathers of the saved input shards', 'all-gather', perBlock),
    );
    if (recompute) {
      items.push(
        tensor('recomputed block forward all-gathers', 'all-gather', perBlock),
        tensor('recomputed block forward reduce-scatters', 'reduce-scatter', perBlock),
      );
    }
    if (stage.hasEmbeddings) {
      items.push(
        tensor('embedding output reduce-scatter', 'reduce-scatter', m),
        tensor('embedding backward all-gather', 'all-gather', m),
      );
    }
    if (stage.hasHead) {
      items.push(
        tensor('lm_head input all-gather', 'all-gather', m),
        tensor('lm_head backward all-gather of the saved input shard', 'all-gather', m),
        tensor('lm_head input-gradient reduce-scatter', 'reduce-scatter', m),
      );
    }
  }
  if (stage.hasHead) {
    const tokens = BigInt(batch) * BigInt(seq);
    items.push(
      item(
        'tensor',
        'cross-entropy all-reduces (max, target logit, sum of exponentials)',
        'all-reduce',
        3n * m,
        tokens,
        precision.lossBytes,
        tp,
      ),
    );
  }
  return items;
}

/**
 * Pipeline parallelism, per micro-batch: a stage sends its output activations [B, T, d] to the
 * next stage and the gradient of its input to the previous one, in the activation dtype. With
 * sequence parallelism each rank sends its 1/tp sequence shard; without it each rank sends the
 * whole tensor (the scatter/gather optimisation of Narayanan et al. 2021, section 4.1, which
 * splits it over the tp ranks, is not assumed).
 */
function pipelineParallel(input: StageCommunicationInput): CommunicationItem[] {
  const { layout, stage, batch, seq, dModel, microBatches, precision } = input;
  const pp = layout.pipelineParallel;
  if (pp === 1) return [];
  const m = BigInt(microBatches);
  const divisor = layout.sequenceParallel ? BigInt(layout.tensorParallel) : 1n;
  const elements = (BigInt(batch) * BigInt(seq) * BigInt(dModel)) / divisor;
  const items: CommunicationItem[] = [];
  if (!stage.hasHead)
    items.push(item('pipeline', 'activations to the next stage', 'send', m, elements, precision.activationBytes, 2));
  if (!stage.hasEmbeddings) {
    items.push(
      item('pipeline', 'input gradients to the previous stage', 'send', m, elements, precision.activationBytes, 2),
    );
  }
  return items;
}

/**
 * A tied embedding split over pipeline stages lives on the first and the last stage; their two
 * copies' gradients are all-reduced once per step (Megatron's embedding group).
 */
function tiedEmbedding(input: StageCommunicationInput): CommunicationItem[] {
  const { layout, stage, tiedEmbeddings, embeddingShard, precision } = input;
  if (!tiedEmbeddings || layout.pipelineParallel === 1 || !(stage.hasEmbeddings || stage.hasHead)) return [];
  return [
    item(
      'embedding',
      'tied embedding gradient all-reduce, first and last stage',
      'all-reduce',
      1n,
      embeddingShard,
      precision.gradientBytes,
      2,
    ),
  ];
}

/** Everything one device of `input.stage` sends in one step. */
export function stageCommunication(input: StageCommunicationInput): CommunicationItem[] {
  return [...dataParallel(input), ...tensorParallel(input), ...pipelineParallel(input), ...tiedEmbedding(input)];
}
