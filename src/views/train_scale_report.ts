/**
 * One training step per device, at scale: how the devices are arranged, what each device of each
 * pipeline stage holds (weights, gradients, optimizer states, gathered weights, activations), the
 * largest micro-batch that fits a named device, and the bytes each device sends per step. Every
 * figure is formatted here from an exact value computed by trainingAtScale.
 */
import type { Device } from '../analytic/devices.js';
import {
  evaluatePolynomial,
  formatPolynomial,
  type CommunicationItem,
  type LargestMicroBatch,
  type SavedTensor,
  type StageDevice,
  type TrainingAtScale,
} from '../analytic/training/index.js';
import { modelLabel, type ModelConfig } from '../config/model_config.js';
import { formatBytesSi, formatGigabytes, groupDigits } from '../core/format.js';
import {
  cellText,
  heading,
  list,
  paragraph,
  tableBlock,
  type Block,
  type Cell,
  type Depth,
  type Report,
  type Table,
} from '../render/table.js';
import { gibibytesCell, gigabytesCell } from './cells.js';
import { configJson, dimensionsLabel, runLabel } from './labels.js';

export interface TrainScaleReportInput {
  readonly config: ModelConfig;
  readonly depth: Depth;
  readonly scale: TrainingAtScale;
  readonly largest: LargestMicroBatch;
  /** The device the largest micro-batch is fitted to; undefined when --memory gave the size. */
  readonly device: Device | undefined;
  readonly memoryBytes: bigint;
  /** Which of the at-scale settings were left at their defaults. */
  readonly defaults: readonly string[];
}

const n = (value: number | bigint) => groupDigits(BigInt(value));

const CHECKPOINTING_WORDS = {
  none: 'no activation checkpointing',
  selective: 'selective checkpointing (attention core recomputed)',
  full: 'full checkpointing (each block recomputed)',
} as const;

function layoutLabel({ layout }: TrainingAtScale): string {
  const sequence = layout.sequenceParallel ? ' with sequence parallelism' : '';
  return (
    `${n(layout.devices)} device${layout.devices === 1 ? '' : 's'} = ${n(layout.dataParallel)} data x ${n(layout.tensorParallel)} tensor x ` +
    `${n(layout.pipelineParallel)} pipeline parallel${sequence}`
  );
}

export function trainScaleReport(input: TrainScaleReportInput): Report<TrainScaleData> {
  const { config, scale, depth } = input;
  const blocks: Block[] = [
    heading(`Training ${modelLabel(config)} at scale, per device: ${layoutLabel(scale)}`),
    paragraph(
      `${dimensionsLabel(config)}; from ${config.source}. Micro-batches of ${runLabel(scale.run)}, ` +
        `${n(scale.microBatches)} per step per data-parallel replica (global batch ${n(scale.globalBatch)} sequences); ` +
        `ZeRO stage ${scale.zeroStage}${scale.zeroStage === 3 ? ' (FSDP)' : ''}, ${scale.precision.name} ` +
        `(${scale.precision.description}), ${CHECKPOINTING_WORDS[scale.checkpointing]}. Analytic: no model is run.`,
    ),
    tableBlock(memoryTable(input)),
    paragraph(largestSentence(input)),
    tableBlock(communicationSummary(input)),
  ];
  if (input.defaults.length > 0) blocks.push(list(input.defaults.map((line) => `assumed (default): ${line}`)));
  const peak = scale.stages[scale.peakStage];
  if (depth >= 1 && peak !== undefined) {
    blocks.push(
      tableBlock(modelStateTable(peak)),
      tableBlock(activationTable(input, peak)),
      tableBlock(communicationTable(peak)),
    );
    if (scale.parameters.replicas.length > 0) {
      blocks.push(
        paragraph(
          `A group of tp x pp devices holds ${n(sum(scale.parameters.stages.map((stage) => stage.parameters)) * BigInt(scale.layout.tensorParallel))} ` +
            `parameters, the model's ${n(scale.parameters.total)} plus: ` +
            scale.parameters.replicas.map((replica) => `${replica.what} (${n(replica.parameters)})`).join('; ') +
            '.',
        ),
      );
    }
  }
  if (depth >= 2) blocks.push(...scale.stages.map((stage) => tableBlock(shardTable(stage))));
  if (depth >= 3) blocks.push(tableBlock(savedTensorTable(input)));
  blocks.push(paragraph(CONVENTIONS));
  return { blocks, json: trainScaleData(input) };
}

const CONVENTIONS =
  'Per device, at the peak of one step: model states under the ZeRO stage, the weights ZeRO-3 gathers ' +
  "(the stage's non-block parameters and one block), and the activations the stage holds for its in-flight " +
  'micro-batches under 1F1B (min(pp - stage, micro-batches)), plus the larger transient of the logits and ' +
  'a recomputed block. Not counted: communication buffers, framework workspace, fragmentation, the gradient ' +
  'of the activations in flight. Communication is bytes each device sends per step with ring collectives; ' +
  'no time is implied.';

function sum(values: readonly bigint[]): bigint {
  return values.reduce((total, value) => total + value, 0n);
}

function memoryTable({ scale }: TrainScaleReportInput): Table {
  const bytes = (value: bigint): Cell => value;
  return {
    title: 'Memory per device, by pipeline stage (bytes)',
    columns: [
      { header: 'stage' },
      { header: 'layers' },
      { header: 'parameters', align: 'right' },
      { header: 'weights', align: 'right' },
      { header: 'gradients', align: 'right' },
      { header: 'optimizer states', align: 'right' },
      { header: 'gathered weights', align: 'right' },
      { header: 'activations', align: 'right' },
      { header: 'total', align: 'right' },
      { header: 'GB (10^9)', align: 'right' },
      { header: 'GiB (2^30)', align: 'right' },
    ],
    rows: scale.stages.map((device) => [
      device.stage.stage === scale.peakStage ? cellText`${device.stage.stage} (peak)` : device.stage.stage,
      layerRange(device),
      device.parameters,
      bytes(device.modelStates.byKind.parameters),
      bytes(device.modelStates.byKind.gradients),
      bytes(device.modelStates.byKind.optimizer),
      bytes(device.gatheredParameters),
      bytes(device.activations.bytes),
      bytes(device.total),
      gigabytesCell(device.total),
      gibibytesCell(device.total),
    ]),
  };
}

function layerRange({ stage }: StageDevice): string {
  const last = stage.firstLayer + stage.layerCount - 1;
  const parts = [`${stage.firstLayer}-${last}`];
  if (stage.hasEmbeddings) parts.unshift('embeddings');
  if (stage.hasHead) parts.push('head');
  return parts.join(', ');
}

function largestSentence({ largest, device, memoryBytes, scale }: TrainScaleReportInput): string {
  const budget =
    device === undefined
      ? `${formatBytesSi(memoryBytes)} (${n(memoryBytes)} bytes)`
      : `${device.name}: ${n(memoryBytes)} bytes (${device.memory.printed}, ${device.memory.unit})`;
  if (!largest.fits) return `No micro-batch fits ${budget}: ${largest.reason}.`;
  return (
    `Largest micro-batch that fits ${budget}, at ${n(scale.run.seq)} tokens: ${n(largest.batch)} sequences ` +
    `(stage ${largest.bindingStage} binds: ${formatGigabytes(largest.bytesAtBatch)} per device; ` +
    `${n(largest.batch + 1)} would need ${formatGigabytes(largest.bytesAtNext)}).`
  );
}

function communicationSummary({ scale }: TrainScaleReportInput): Table {
  const groups = ['data', 'tensor', 'pipeline', 'embedding'] as const;
  const byGroup = (device: StageDevice, group: (typeof groups)[number]) =>
    sum(device.communication.filter((entry) => entry.group === group).map((entry) => entry.bytesPerStep));
  return {
    title: 'Bytes each device sends per step, by pipeline stage',
    columns: [
      { header: 'stage' },
      { header: 'data parallel', align: 'right' },
      { header: 'tensor parallel', align: 'right' },
      { header: 'pipeline', align: 'right' },
      { header: 'tied embedding', align: 'right' },
      { header: 'total', align: 'right' },
      { header: 'GB (10^9)', align: 'right' },
    ],
    rows: scale.stages.map((device) => [
      device.stage.stage,
      ...groups.map((group) => byGroup(device, group)),
      device.communicationBytes,
      gigabytesCell(device.communicationBytes),
    ]),
  };
}

function modelStateTable(device: StageDevice): Table {
  const states = device.modelStates;
  return {
    title: `Model states on each device of stage ${device.stage.stage} (ZeRO stage ${states.stage} over ${n(states.dataParallel)} data-parallel devices)`,
    columns: [
      { header: 'state' },
      { header: 'kind' },
      { header: 'partitioned' },
      { header: 'bytes', align: 'right' },
      { header: 'GB (10^9)', align: 'right' },
    ],
    rows: [
      ...states.items.map((item): Cell[] => [
        item.name,
        item.kind,
        item.partitioned ? 'yes' : 'no',
        item.bytes,
        gigabytesCell(item.bytes),
      ]),
      ...(device.gatheredParameters > 0n
        ? [
            [
              'gathered weights (ZeRO-3)',
              'parameters',
              'no',
              device.gatheredParameters,
              gigabytesCell(device.gatheredParameters),
            ] as Cell[],
          ]
        : []),
    ],
    totals: [['total', '', '', device.constant, gigabytesCell(device.constant)]],
    notes: [
      `Partition of ${n(states.partition)} elements per device (${n(states.padding)} padding elements across the group).`,
    ],
  };
}

function activationTable({ scale }: TrainScaleReportInput, device: StageDevice): Table {
  const { activations } = device;
  return {
    title: `Activations on each device of stage ${device.stage.stage}, as polynomials in the micro-batch B and T`,
    columns: [{ header: 'part' }, { header: 'bytes as B, T' }, { header: 'bytes', align: 'right' }],
    rows: [
      [
        cellText`held per micro-batch (x ${activations.inFlight} in flight)`,
        formatPolynomial(activations.heldPerMicroBatch),
        evaluatePolynomial(activations.heldPerMicroBatch, scale.run.batch, scale.run.seq),
      ],
      [
        `transient: ${activations.transient}`,
        formatPolynomial(activations.transientBytes),
        evaluatePolynomial(activations.transientBytes, scale.run.batch, scale.run.seq),
      ],
    ],
    totals: [['total', formatPolynomial(activations.polynomial), activations.bytes]],
  };
}

function communicationTable(device: StageDevice): Table {
  return {
    title: `Communication of each device of stage ${device.stage.stage}, per step`,
    columns: [
      { header: 'group' },
      { header: 'what' },
      { header: 'collective' },
      { header: 'times', align: 'right' },
      { header: 'elements', align: 'right' },
      { header: 'bytes/element', align: 'right' },
      { header: 'devices', align: 'right' },
      { header: 'bytes sent', align: 'right' },
    ],
    rows: device.communication.map((entry: CommunicationItem) => [
      entry.group,
      entry.what,
      entry.collective,
      entry.count,
      entry.elements,
      entry.bytesPerElement,
      entry.devices,
      entry.bytesPerStep,
    ]),
    totals: [['total', '', '', '', '', '', '', device.communicationBytes]],
  };
}

function shardTable(device: StageDevice): Table {
  return {
    title: `Parameters of each device of stage ${device.stage.stage}, one row per tensor`,
    columns: [
      { header: 'path' },
      { header: 'tensor' },
      { header: 'rule' },
      { header: 'shape' },
      { header: 'shard' },
      { header: 'parameters', align: 'right' },
    ],
    rows: device.stage.rows.map((row) => [
      row.path,
      row.name,
      row.rule,
      `[${row.shape.join(',')}]`,
      `[${row.shardShape.join(',')}]`,
      row.count,
    ]),
    totals: [['total', '', '', '', '', device.parameters]],
  };
}

function savedTensorTable({ scale }: TrainScaleReportInput): Table {
  const groups: readonly [string, readonly SavedTensor[]][] = [
    ['before the first block', scale.activations.initial.tensors],
    ['each block', scale.activations.perLayer.tensors],
    ['after the last block', scale.activations.final.tensors],
    ['recomputed, one block', scale.activations.recomputed.tensors],
  ];
  return {
    title: 'Saved tensors on one device, per micro-batch',
    columns: [
      { header: 'where' },
      { header: 'tensor' },
      { header: 'module' },
      { header: 'shape' },
      { header: 'split' },
      { header: 'bytes/element', align: 'right' },
      { header: 'bytes as B, T' },
    ],
    rows: groups.flatMap(([where, tensors]) =>
      tensors.map((tensor): Cell[] => [
        where,
        tensor.name,
        tensor.module,
        `[${tensor.symbolic.join(',')}]${tensor.divisor > 1 ? ` / ${tensor.divisor}` : ''}`,
        tensor.split,
        tensor.bytesPerElement,
        formatPolynomial(tensor.bytes),
      ]),
    ),
  };
}

/** What `train --format json` writes when the at-scale flags are given. */
function trainScaleData(input: TrainScaleReportInput) {
  const { config, scale, largest, device, memoryBytes } = input;
  return {
    model: configJson(config),
    analytic: true,
    layout: scale.layout,
    microBatch: { batch: scale.run.batch, seq: scale.run.seq },
    microBatches: scale.microBatches,
    globalBatch: scale.globalBatch,
    zeroStage: scale.zeroStage,
    precision: scale.precision.name,
    checkpointing: scale.checkpointing,
    defaults: input.defaults,
    vocab: scale.parameters.vocab,
    parameters: {
      total: scale.parameters.total,
      replicas: scale.parameters.replicas,
    },
    stages: scale.stages.map((stage) => ({
      stage: stage.stage.stage,
      firstLayer: stage.stage.firstLayer,
      layers: stage.stage.layerCount,
      hasEmbeddings: stage.stage.hasEmbeddings,
      hasHead: stage.stage.hasHead,
      parameters: stage.parameters,
      memory: {
        weights: stage.modelStates.byKind.parameters,
        gradients: stage.modelStates.byKind.gradients,
        optimizerStates: stage.modelStates.byKind.optimizer,
        gatheredWeights: stage.gatheredParameters,
        activations: stage.activations.bytes,
        total: stage.total,
      },
      modelStates: stage.modelStates.items,
      activations: {
        inFlight: stage.activations.inFlight,
        transient: stage.activations.transient,
        perSequence: stage.activations.polynomial.perSequence,
        symbolic: formatPolynomial(stage.activations.polynomial),
      },
      communication: stage.communication,
      communicationBytes: stage.communicationBytes,
      recomputedFlops: stage.recomputedFlops,
    })),
    peakStage: scale.peakStage,
    peakBytes: scale.peakBytes,
    largestMicroBatch: {
      device: device?.id,
      memoryBytes,
      ...largest,
    },
  };
}

export type TrainScaleData = ReturnType<typeof trainScaleData>;
