/**
 * One training step, analytically: backward matmuls beside the forward ones, the 6N rule against
 * the exact count, AdamW, fp32 memory and its expression in B, the largest batch for a memory
 * size, and the wall-clock time of a run. Every figure is formatted here from an exact value.
 */
import { type SixNComparison } from '../analytic/conventions/index.js';
import { ratio, share } from '../analytic/index.js';
import { type ModelConfig, type RunShape, modelLabel } from '../config/model_config.js';
import type { Rational } from '../core/exact.js';
import {
  ADAMW_CONVENTION,
  TRAINING_MEMORY_CONVENTION,
  type ActivationRow,
  type AdamwFlops,
  type BackwardFlopBreakdown,
  type BackwardToForwardRatios,
  type LargestBatch,
  type RunTime,
  type StepBoundary,
  type TracedStepPeaks,
  type TrainingMemory,
  type TrainingMemoryPolynomial,
  type TrainingStepFlops,
} from '../analytic/training/index.js';
import { numericShapes } from './flops_report.js';
import {
  formatBytesBinary,
  formatBytesSi,
  formatFlops,
  formatGibibytes,
  formatGigabytes,
  formatShare,
  formatSi,
  groupDigits,
} from '../core/format.js';
import { configJson, dimensionsLabel, matmulComponentLabels, runLabel } from './labels.js';
import { layerComponentTable } from './layer_component_table.js';
import { displayText } from '../render/cell_text.js';
import { gibibytesCell, gigabytesCell, ratioCell } from './cells.js';
import {
  cellText,
  fixed,
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

/** A run-time flag's value and whether the user gave it or the default (the course's question) stands. */
export interface Assumption<T> {
  readonly value: T;
  readonly isDefault: boolean;
}

export interface TrainReportInput {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly depth: Depth;
  readonly backward: BackwardFlopBreakdown;
  readonly ratios: BackwardToForwardRatios;
  readonly sixN: readonly SixNComparison[];
  readonly adamw: AdamwFlops;
  readonly step: TrainingStepFlops;
  readonly memory: TrainingMemory;
  /** The moments of a traced step whose storage is exact (verify --train checks them). */
  readonly stepPeaks: TracedStepPeaks;
  readonly polynomial: TrainingMemoryPolynomial;
  readonly memoryBudget: Assumption<bigint>;
  readonly largest: LargestBatch;
  readonly steps: Assumption<bigint>;
  readonly peakFlopsPerSecond: Assumption<Rational>;
  readonly mfu: Assumption<Rational>;
  readonly time: RunTime;
}

const GIGABYTE = 10n ** 9n;
const GIBIBYTE = 2n ** 30n;
const n = (value: number | bigint) => groupDigits(BigInt(value));

const BACKWARD_CONVENTIONS =
  'Backward matmuls from calculus, writing each weight W as [d_in, d_out] whatever layout stores it: y = x W gives dx = dy W^T and dW = x^T dy (activations flattened to B*T rows); ' +
  'q k^T gives dq = dS k and dk = dS^T q; P v gives dP = dO v^T and dv = P^T dO. ' +
  'Each has the m*k*n of its forward matmul, so backward matmuls cost 2x forward. ' +
  'None is skipped: every activation depends on a trained weight (token_embeddings and the norm gains train). ' +
  "The embedding's gradient is a scatter-add, not a matmul; the ids get none.";

const STEP_CONVENTIONS =
  'Step FLOPs = forward matmuls + backward matmuls + one AdamW update. Non-matmul work (norms, softmax, RoPE, SiLU, ' +
  "residual adds, cross-entropy, the embedding's scatter-add) is not in these totals; it is counted from a trace.";

/** "19.50 TFLOP/s"; a rate that is not whole shows three decimals. */
function rateCell(rate: Rational): Cell {
  return rate.denominator === 1n
    ? formatSi(rate.numerator, 'FLOP/s')
    : cellText`${fixed(rate.numerator, rate.denominator, 3)} FLOP/s`;
}

/** The largest unit that makes the value at least 1: "6,583.57 days", "2.50 h", "0.240 s". */
function durationCell(seconds: Rational): Cell {
  const units: readonly [string, bigint][] = [
    ['days', 86_400n],
    ['h', 3_600n],
    ['min', 60n],
  ];
  for (const [unit, size] of units) {
    if (seconds.numerator >= size * seconds.denominator)
      return cellText`${fixed(seconds.numerator, seconds.denominator * size, 2)} ${unit}`;
  }
  return cellText`${fixed(seconds.numerator, seconds.denominator, 3)} s`;
}

const formatMfu = (mfu: Rational) => formatShare(mfu.numerator, mfu.denominator);
const bytesCells = (bytes: bigint): Cell[] => [bytes, gigabytesCell(bytes), gibibytesCell(bytes)];
/** An exact fraction with its nearest double beside it, for readers that want a number. */
const withValue = (value: Rational) => ({ ...value, value: ratio(value.numerator, value.denominator) });
const ratioText = (value: Rational, decimals = 4) => ratioCell(value.numerator, value.denominator, decimals);

export function trainReport(input: TrainReportInput): Report<TrainData> {
  const { config, run, depth } = input;
  const blocks: Block[] = [
    heading(`Training step of ${modelLabel(config)}: ${runLabel(run)}, AdamW, fp32`),
    paragraph(`${dimensionsLabel(config)}; from ${config.source}.`),
    tableBlock(summaryTable(input)),
    list(assumptionLines(input)),
  ];
  if (depth >= 1) {
    blocks.push(
      tableBlock(stepTable(input)),
      tableBlock(backwardComponentTable(input)),
      tableBlock(sixNTable(input)),
      tableBlock(memoryTable(input)),
      paragraph(memoryExpression(input)),
      paragraph(largestBatchSentence(input)),
      tableBlock(stepPeaksTable(input)),
      tableBlock(runTimeTable(input)),
    );
  }
  if (depth >= 2) blocks.push(tableBlock(backwardLayerTable(input.backward)));
  if (depth >= 3) {
    blocks.push(
      tableBlock(backwardRowTable(input.backward)),
      tableBlock(
        activationTable(
          `Activations saved per block (x ${n(config.num_layers)} blocks)`,
          input.memory.activations.perLayer,
        ),
      ),
      tableBlock(activationTable('Activations after the last block', input.memory.activations.final)),
    );
  }
  blocks.push(
    paragraph(BACKWARD_CONVENTIONS),
    paragraph(STEP_CONVENTIONS),
    paragraph(ADAMW_CONVENTION),
    paragraph(TRAINING_MEMORY_CONVENTION),
  );
  return { blocks, json: trainData(input) };
}

function summaryTable(input: TrainReportInput): Table {
  const { step, memory, polynomial, largest, time, steps, memoryBudget } = input;
  const largestCell = largest.batch === 0 ? 'none fits' : BigInt(largest.batch);
  return {
    columns: [{ header: 'quantity' }, { header: 'exact', align: 'right' }, { header: 'approx', align: 'right' }],
    rows: [
      ['FLOPs of one training step', step.total, formatFlops(step.total)],
      [
        cellText`peak memory at batch ${input.run.batch}`,
        memory.total,
        `${formatBytesSi(memory.total)} (${formatBytesBinary(memory.total)})` +
          (memory.total > memoryBudget.value ? `, over ${formatBytesSi(memoryBudget.value)}` : ''),
      ],
      ['peak memory in bytes, B sequences', cellText`${polynomial.constant} + ${polynomial.perBatch} B`, ''],
      [cellText`largest batch in ${formatBytesSi(memoryBudget.value)} at ${polynomial.seq} tokens`, largestCell, ''],
      [
        cellText`run time of ${steps.value} steps at batch ${input.run.batch}`,
        durationCell(time.seconds),
        cellText`${fixed(time.seconds.numerator, time.seconds.denominator, 1)} s`,
      ],
    ],
  };
}

function assumptionLines(input: TrainReportInput): string[] {
  const tag = (assumption: Assumption<unknown>) => (assumption.isDefault ? 'assumed (default)' : 'given');
  return [
    `memory ${formatBytesSi(input.memoryBudget.value)} = ${n(input.memoryBudget.value)} bytes (GB = 10^9 bytes, GiB = 2^30): ${tag(input.memoryBudget)}`,
    `steps ${n(input.steps.value)}: ${tag(input.steps)}`,
    `peak ${displayText(rateCell(input.peakFlopsPerSecond.value))}${input.peakFlopsPerSecond.isDefault ? ' (an A100 in fp32, as the course asks)' : ''}: ${tag(input.peakFlopsPerSecond)}`,
    `MFU ${formatMfu(input.mfu.value)} of peak: ${tag(input.mfu)}`,
  ];
}

function stepTable({ step }: TrainReportInput): Table {
  const row = (label: string, flops: bigint): Cell[] => [
    label,
    flops,
    formatFlops(flops),
    formatShare(flops, step.total),
  ];
  return {
    title: 'FLOPs of one training step',
    columns: [
      { header: 'part' },
      { header: 'FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: [
      row('forward matmuls', step.forward),
      row('backward matmuls', step.backward),
      row('AdamW update', step.optimizer),
    ],
    totals: [row('total', step.total)],
  };
}

function backwardComponentTable({ config, ratios, backward }: TrainReportInput): Table {
  const labels = matmulComponentLabels([config]);
  const matmulCount = (component: string) =>
    BigInt(backward.rows.filter((row) => row.component === component && row.skipped === undefined).length);
  return {
    title: 'Backward matmuls by component',
    columns: [
      { header: 'component' },
      { header: 'forward FLOPs', align: 'right' },
      { header: 'backward FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'backward / forward', align: 'right' },
      { header: 'gradient matmuls', align: 'right' },
    ],
    rows: ratios.components.map((entry) => {
      const component = entry.component;
      return [
        labels[component],
        entry.forward,
        entry.backward,
        formatFlops(entry.backward),
        ratioText(entry.ratio),
        matmulCount(component),
      ];
    }),
    totals: [
      [
        'total',
        ratios.total.forward,
        ratios.total.backward,
        formatFlops(ratios.total.backward),
        ratioText(ratios.total.ratio),
        BigInt(backward.rows.filter((row) => row.skipped === undefined).length),
      ],
    ],
  };
}

function sixNTable({ sixN }: TrainReportInput): Table {
  return {
    title: '6N rule against the exact forward + backward matmul FLOPs',
    columns: [
      { header: 'N counts' },
      { header: 'N', align: 'right' },
      { header: 'tokens', align: 'right' },
      { header: '6 N tokens', align: 'right' },
      { header: 'exact', align: 'right' },
      { header: '6N / exact', align: 'right' },
    ],
    rows: sixN.map((row) => [row.note, row.parameters, row.tokens, row.estimate, row.exact, ratioText(row.ratio)]),
    notes: [
      '6N (2N forward + 4N backward per token) leaves out the attention core (q k^T and P v), which grows with T.',
    ],
  };
}

function memoryTable({ memory }: TrainReportInput): Table {
  const row = (label: string, perParameter: Cell, bytes: bigint): Cell[] => [
    label,
    perParameter,
    ...bytesCells(bytes),
    formatShare(bytes, memory.total),
  ];
  const activations = memory.activations;
  return {
    title: `Peak training memory at ${runLabel(memory.run)}`,
    columns: [
      { header: 'part' },
      { header: 'what' },
      { header: 'bytes', align: 'right' },
      { header: 'GB (10^9)', align: 'right' },
      { header: 'GiB (2^30)', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: [
      row('parameters', '4 bytes x P', memory.parameters),
      row('gradients', '4 bytes x P', memory.gradients),
      row('AdamW moments', '8 bytes x P (m and v)', memory.adamMoments),
      row(
        'activations',
        cellText`${activations.layers} blocks x ${activations.perLayerBytes} + ${activations.finalBytes} after the last block`,
        activations.total,
      ),
    ],
    totals: [row('total', cellText`P = ${memory.parameterCount}`, memory.total)],
  };
}

/** The largest boundary between blocks, its parts named. */
function boundaryRow(boundary: StepBoundary, row: (label: string, what: Cell, bytes: bigint) => Cell[]): Cell[] {
  const where =
    boundary.module !== undefined
      ? `before ${boundary.module}'s backward pass`
      : boundary.layer === undefined
        ? "before the embeddings' backward pass"
        : `before layers.${boundary.layer}'s ${boundary.kind === 'rerun' ? 'rerun' : `${boundary.kind} pass`}`;
  const stream = boundary.kind === 'forward' ? 'the stream [B, T, d]' : 'dy [B, T, d]';
  const held = cellText`held before ${boundary.heldBefore} + kept ${boundary.kept} + gradients so far ${boundary.gradients} + ${stream} ${boundary.residual}`;
  const what =
    boundary.kind === 'forward'
      ? boundary.embeddings === 0n
        ? held
        : cellText`${held} + what the embeddings made ${boundary.embeddings}`
      : boundary.rerunOutput === 0n
        ? cellText`${held} + loss ${boundary.loss}`
        : cellText`${held} + loss ${boundary.loss} + the rerun's output ${boundary.rerunOutput}`;
  return row(`between blocks, the largest: ${where}`, what, boundary.bytes);
}

function stepPeaksTable({ stepPeaks: peaks, run }: TrainReportInput): Table {
  const row = (label: string, what: Cell, bytes: bigint): Cell[] => [label, what, ...bytesCells(bytes)];
  return {
    title: `Storage of this tool's traced step at ${runLabel(run)}: exact moments (verify --train checks each)`,
    columns: [
      { header: 'moment' },
      { header: 'what is held' },
      { header: 'bytes', align: 'right' },
      { header: 'GB (10^9)', align: 'right' },
      { header: 'GiB (2^30)', align: 'right' },
    ],
    rows: [
      row(
        "the loss's gradient",
        cellText`held before ${peaks.heldBefore} + kept ${peaks.kept} + three [B, T, Vp] fp32 ${peaks.lossGradientScratch}`,
        peaks.lossGradient,
      ),
      row(
        'the AdamW update',
        cellText`held before ${peaks.heldBefore} + gradients ${peaks.gradients} + loss 4 + three copies of the largest parameter ${peaks.updateScratch}`,
        peaks.update,
      ),
      boundaryRow(peaks.largestBoundary, row),
    ],
    notes: [
      'The step frees what it is done with, as autograd does: blocks free their intermediates as they end, and each ' +
        'backward node its incoming gradient, what it kept and its temporaries. Held before: weights, m and v (12 bytes ' +
        'per parameter) and the int32 ids and targets. Kept: the saved activations and the loss. Between blocks no node is ' +
        'half done, so what is held is whole tensors: the storage at every block boundary has a formula, the largest ' +
        "shown. The step peaks at least at the largest moment, and exactly at the loss's gradient where the logits " +
        'outweigh the rest, as in real language models; otherwise it may peak in the update, inside a block (above its ' +
        "boundary by the block's own buffers) or at a node of the final norm, lm_head or a final soft-cap. The estimate above adds " +
        'everything at once.',
    ],
  };
}

function memoryExpression({ polynomial, config }: TrainReportInput): string {
  return (
    `Peak memory in bytes for a batch of B sequences of ${n(polynomial.seq)} tokens: ${polynomial.symbolic} ` +
    `(P parameters, L = ${n(config.num_layers)}, T = ${n(polynomial.seq)}, d = ${n(config.d_model)}, H = ${n(config.num_heads)}, ` +
    `F = ${n(config.d_ff)}, V = ${n(config.vocab_size)}) = ${n(polynomial.constant)} + ${n(polynomial.perBatch)} B ` +
    `(${formatGigabytes(polynomial.constant)} + ${formatGigabytes(polynomial.perBatch)} per sequence).`
  );
}

function largestBatchSentence({ largest, memoryBudget, polynomial }: TrainReportInput): string {
  const budget = `${formatBytesSi(memoryBudget.value)} (${n(memoryBudget.value)} bytes, ${formatGibibytes(memoryBudget.value)})`;
  if ('reason' in largest) return `No batch fits in ${budget}: ${largest.reason}.`;
  return (
    `Largest batch in ${budget} at ${n(polynomial.seq)} tokens: ${n(largest.batch)} ` +
    `= floor((${n(memoryBudget.value)} - ${n(polynomial.constant)}) / ${n(polynomial.perBatch)}), ` +
    `using ${formatGigabytes(largest.bytesAtBatch)}; ${n(largest.batch + 1)} would need ${formatGigabytes(largest.bytesAtNext)}.`
  );
}

function runTimeTable({ time, step, steps, peakFlopsPerSecond, mfu }: TrainReportInput): Table {
  const decimal = (value: Rational, decimals: number) => fixed(value.numerator, value.denominator, decimals);
  return {
    title: `Run time of ${n(steps.value)} steps at ${formatMfu(mfu.value)} MFU of ${displayText(rateCell(peakFlopsPerSecond.value))}`,
    columns: [{ header: 'quantity' }, { header: 'value', align: 'right' }],
    rows: [
      ['FLOPs per step', cellText`${step.total} (${formatFlops(step.total)})`],
      ['achieved FLOP/s (peak x MFU)', rateCell(time.achievedFlopsPerSecond)],
      ['seconds per step', decimal(time.secondsPerStep, 3)],
      ['seconds', decimal(time.seconds, 1)],
      ['hours', decimal({ numerator: time.seconds.numerator, denominator: time.seconds.denominator * 3600n }, 1)],
      ['days', decimal(time.days, 2)],
    ],
    notes: ['seconds = steps x step FLOPs / (peak x MFU), exact until shown; a day is 86,400 s.'],
  };
}

function backwardLayerTable(backward: BackwardFlopBreakdown): Table {
  return layerComponentTable('Backward matmul FLOPs by layer and component', backward);
}

function backwardRowTable(backward: BackwardFlopBreakdown): Table {
  return {
    title: 'Every backward matmul, grouped by the forward matmul it differentiates',
    columns: [
      { header: 'path' },
      { header: 'forward' },
      { header: 'gradient' },
      { header: 'shapes' },
      { header: 'numeric shapes' },
      { header: 'FLOPs', align: 'right' },
      { header: 'runs' },
    ],
    rows: backward.rows.map((row) => [
      row.path,
      row.forwardDescription,
      row.description,
      row.symbolicShapes,
      numericShapes(row),
      row.flops,
      row.skipped === undefined ? 'yes' : `skipped: ${row.skipped}`,
    ]),
    totals: [['total', '', '', '', '', backward.total, '']],
  };
}

function activationTable(title: string, rows: readonly ActivationRow[]): Table {
  const total = rows.reduce((sum, row) => sum + row.elements, 0n);
  return {
    title,
    columns: [
      { header: 'activation' },
      { header: 'module' },
      { header: 'what' },
      { header: 'shape' },
      { header: 'numeric shape' },
      { header: 'elements', align: 'right' },
      { header: 'bytes (fp32)', align: 'right' },
    ],
    rows: rows.map((row) => [
      row.name,
      row.module,
      row.description,
      `[${row.shape.symbolic.join(',')}]`,
      `[${row.shape.numeric.join(',')}]`,
      row.elements,
      4n * row.elements,
    ]),
    totals: [['total', '', '', '', '', total, 4n * total]],
  };
}

function activationData(row: ActivationRow) {
  return {
    name: row.name,
    module: row.module,
    description: row.description,
    shape: row.shape.symbolic,
    numericShape: row.shape.numeric,
    elements: row.elements,
  };
}

/** A flag's value and whether it was the default, as `train --format json` writes an assumption. */
const assumptionData = <T>({ value, isDefault }: Assumption<T>) => ({ value, default: isDefault });

/** What `train --format json` writes: the step's counts, memory, largest batch and run time. */
function trainData(input: TrainReportInput) {
  const { config, run, depth, backward, ratios, memory, polynomial, largest, time } = input;
  return {
    tracedStepPeaks: input.stepPeaks,
    model: configJson(config),
    run: { batch: run.batch, seq: run.seq },
    assumptions: {
      memoryBytes: assumptionData(input.memoryBudget),
      steps: assumptionData(input.steps),
      peakFlopsPerSecond: { ...withValue(input.peakFlopsPerSecond.value), default: input.peakFlopsPerSecond.isDefault },
      mfu: { ...withValue(input.mfu.value), default: input.mfu.isDefault },
    },
    stepFlops: {
      forward: input.step.forward,
      backward: input.step.backward,
      optimizer: input.step.optimizer,
      total: input.step.total,
    },
    backward: {
      total: backward.total,
      skippedFlops: backward.skippedFlops,
      ratioToForward: withValue(ratios.total.ratio),
      components:
        depth >= 1
          ? ratios.components.map((entry) => ({
              component: entry.component,
              forward: entry.forward,
              backward: entry.backward,
              ratio: withValue(entry.ratio),
              share: share(entry.backward, backward.total),
            }))
          : undefined,
      layers: depth >= 2 ? backward.perLayer : undefined,
      matmuls:
        depth >= 3
          ? backward.rows.map((row) => ({
              path: row.path,
              component: row.component,
              gradient: row.gradient,
              operand: row.operand,
              forwardDescription: row.forwardDescription,
              description: row.description,
              symbolicShapes: row.symbolicShapes,
              batch: row.batch,
              m: row.m,
              k: row.k,
              n: row.n,
              flops: row.flops,
              skipped: row.skipped,
            }))
          : undefined,
    },
    sixN: input.sixN.map((row) => ({
      convention: row.convention,
      parameters: row.parameters,
      tokens: row.tokens,
      estimate: row.estimate,
      exact: row.exact,
      ratio: withValue(row.ratio),
    })),
    adamw: { perParameter: input.adamw.perParameter, total: input.adamw.total, convention: input.adamw.convention },
    memory: {
      parameterCount: memory.parameterCount,
      parameters: memory.parameters,
      gradients: memory.gradients,
      adamMoments: memory.adamMoments,
      activations: memory.activations.total,
      activationsPerLayer: memory.activations.perLayerBytes,
      activationsFinal: memory.activations.finalBytes,
      total: memory.total,
      gigabytes: ratio(memory.total, GIGABYTE),
      gibibytes: ratio(memory.total, GIBIBYTE),
      perLayer: depth >= 3 ? memory.activations.perLayer.map(activationData) : undefined,
      final: depth >= 3 ? memory.activations.final.map(activationData) : undefined,
    },
    memoryPolynomial: {
      seq: polynomial.seq,
      constant: polynomial.constant,
      perBatch: polynomial.perBatch,
      symbolic: polynomial.symbolic,
    },
    largestBatch: {
      memoryBytes: input.memoryBudget.value,
      batch: largest.batch,
      ...('reason' in largest
        ? { reason: largest.reason }
        : { bytesAtBatch: largest.bytesAtBatch, bytesAtNext: largest.bytesAtNext }),
    },
    runTime: {
      steps: input.steps.value,
      achievedFlopsPerSecond: withValue(time.achievedFlopsPerSecond),
      secondsPerStep: withValue(time.secondsPerStep),
      seconds: withValue(time.seconds),
      days: withValue(time.days),
    },
  };
}

export type TrainData = ReturnType<typeof trainData>;
