/**
 * The report document: the seed's answers (a)-(e) with a verification mark for every run they
 * rest on, the two FLOP-share charts, the counting conventions with the published
 * approximations, the model's states per device under each ZeRO stage (chart and exact table),
 * its forward pass and a decode step on a named accelerator's roofline (chart and exact table),
 * and time against FLOPs when measurements are given. Built once as a list of
 * parts; document_markdown.ts and document_html.ts decide how it looks.
 */
import { MATMUL_COMPONENTS, type SweepPoint } from '../analytic/index.js';
import type { CountingConventions } from '../analytic/conventions/index.js';
import { type ModelConfig, type RunShape, modelLabel } from '../config/model_config.js';
import { answersReport, type AnswersInput } from './answers_report.js';
import { conventionsBlocks } from './conventions_report.js';
import { formatFlops, formatGigabytes, groupDigits } from '../core/format.js';
import { flopConventions, matmulComponentLabels } from './labels.js';
import { shareColumns, shareCells } from './shares.js';
import { fixed, heading, paragraph, tableBlock, type Block, type Cell } from '../render/table.js';
import type { DocumentPart, ReportDocument } from '../render/document.js';
import type { TimingData } from './timing_input.js';
import {
  rooflinePoints,
  rooflineSpec,
  sharesByContextSpec,
  sharesBySizeSpec,
  timeVsFlopsSpec,
  ZERO_STAGE_LABELS,
  zeroStatesData,
  zeroStatesSpec,
} from './charts.js';
import { summarizeParameters } from '../analytic/parameters.js';
import { ZERO_STAGES, zeroModelStates, precisionOf } from '../analytic/training/index.js';
import { deviceById, forwardKernelCosts, predictRoofline, type RooflinePrediction } from '../analytic/index.js';
import { decodeGenerationKernelCosts } from '../analytic/inference/index.js';
import { rational, rationalToNumber, type Rational } from '../core/exact.js';
import { moduleKindOf } from '../core/module_paths.js';
import {
  runName,
  verificationMark,
  verificationOf,
  type RunVerification,
  type Verification,
} from './verification_marks.js';

export interface ReportDocumentInput {
  readonly answers: AnswersInput;
  /** One model at growing sequence lengths, for the line chart and its table. */
  readonly contextSweep: readonly SweepPoint[];
  readonly conventions: CountingConventions;
  readonly verifications: readonly RunVerification[];
  readonly timing?: TimingData;
}

/** How to produce timing data, shown when there is none. */
const TIMING_HINT =
  'Time a series of forward passes and pass the JSON to the report: ' +
  '`flopledger time tiny --sweep seq=16,32,64 --format json > timing.json`, then ' +
  '`flopledger report --timing timing.json`.';

export const FIGURE_FILES = {
  sharesBySize: 'flop-shares-by-size.svg',
  sharesByContext: 'flop-shares-by-context.svg',
  timeVsFlops: 'time-vs-flops.svg',
  zeroStates: 'zero-model-states.svg',
  roofline: 'roofline.svg',
} as const;

const figureId = (file: string) => file.replace(/\.svg$/, '');

interface MarkedRun {
  readonly config: ModelConfig;
  readonly run: RunShape;
}

export function buildReportDocument(input: ReportDocumentInput): ReportDocument {
  const { answers, verifications } = input;
  const markOf = (config: ModelConfig, run: RunShape) => verificationMark(verificationOf(verifications, config, run));
  const verifiedLine = (runs: readonly MarkedRun[], scope = '') =>
    paragraph(
      `Verified: ${runs.map(({ config, run }) => `${runName(config, run)}: ${markOf(config, run)}`).join('; ')}.${scope}`,
    );

  const sections = answerSections(answersReport(answers).blocks);
  const main: MarkedRun = { config: answers.model.config, run: answers.model.breakdown.run };
  const sizeRuns = answers.sizes.map((point) => ({ config: point.config, run: point.run }));
  const longRuns = answers.longContext.map((point) => ({ config: point.config, run: point.run }));
  const title = `flopledger report: what ${modelLabel(answers.model.config)} costs`;

  const parts: DocumentPart[] = [
    heading(title, 1),
    paragraph(
      'Answers to the transformer accounting problem, every number computed from exact integer counts and ' +
        'checked, where marked, against a traced forward pass of the real TensorFlow.js model. ' +
        'Marks: "✓ trace (backend)" means the traced kernels matched the formulas exactly on that backend; ' +
        '"formula only" means the number comes from the analytic formulas without a trace.',
    ),
    paragraph(flopConventions([...sizeRuns, ...longRuns, main, ...input.contextSweep].map(({ config }) => config))),
    ...verificationSummary(verifications),
    ...sections.a,
    // A forward trace sees every weight that enters a matmul, but not the size of a gathered table or a gain.
    verifiedLine(
      [main],
      ' A trace checks the shape of every matmul weight (attention, ffn, lm_head); the token-embedding table and ' +
        'the norm gains are counted by formula.',
    ),
    ...sections.b,
    verifiedLine([main]),
    ...sections.c,
    verifiedLine([main]),
    ...sections.d,
    verifiedLine(sizeRuns),
    {
      kind: 'figure',
      id: figureId(FIGURE_FILES.sharesBySize),
      file: FIGURE_FILES.sharesBySize,
      title: 'Forward FLOP shares by component across model sizes',
      caption: `Stacked shares of forward matmul FLOPs for ${answers.sizes.map((p) => p.config.name).join(', ')}.`,
      spec: sharesBySizeSpec(answers.sizes),
    },
    ...sections.e,
    verifiedLine(longRuns),
    ...contextSweepBlocks(input.contextSweep, markOf),
    {
      kind: 'figure',
      id: figureId(FIGURE_FILES.sharesByContext),
      file: FIGURE_FILES.sharesByContext,
      title: 'Forward FLOP shares by component against context length',
      caption: `${modelLabel(input.contextSweep[0]?.config ?? answers.model.config)} from ${seqRange(input.contextSweep)} tokens (log2 axis).`,
      spec: sharesByContextSpec(input.contextSweep),
    },
    ...conventionsBlocks(input.conventions, markOf(input.conventions.config, input.conventions.run)),
    ...zeroParts(answers.model.config),
    ...rooflineParts(answers.model.config, answers.model.breakdown.run),
    ...timingParts(input),
  ];
  return { title, parts };
}

interface AnswerSections {
  a: Block[];
  b: Block[];
  c: Block[];
  d: Block[];
  e: Block[];
}

/** The answers' five level-2 sections in order, each from its heading up to the next. */
function answerSections(blocks: readonly Block[]): AnswerSections {
  const sections: Block[][] = [];
  for (const block of blocks) {
    if (block.kind === 'heading' && block.level === 2) sections.push([block]);
    else if (block.kind !== 'heading' || block.level !== 1) sections.at(-1)?.push(block);
  }
  const [a, b, c, d, e] = sections;
  if (
    sections.length !== 5 ||
    a === undefined ||
    b === undefined ||
    c === undefined ||
    d === undefined ||
    e === undefined
  ) {
    throw new Error(`report: expected the answers' five sections (a)-(e), found ${sections.length}`);
  }
  return { a, b, c, d, e };
}

function verificationSummary(verifications: readonly RunVerification[]): Block[] {
  if (verifications.length === 0) return [];
  return [
    heading('How the numbers were verified'),
    tableBlock({
      columns: [{ header: 'model and run' }, { header: 'verified' }, { header: 'detail' }],
      rows: verifications.map((entry): Cell[] => [
        runName(entry.config, entry.run),
        verificationMark(entry.verification),
        detailOf(entry.verification),
      ]),
    }),
  ];
}

function detailOf(verification: Verification): string {
  if (verification.method === 'formula') return verification.reason ?? '';
  return verification.detail ?? '';
}

function seqRange(points: readonly SweepPoint[]): string {
  const seqs = points.map((point) => point.run.seq);
  return seqs.length === 0
    ? ''
    : `${groupDigits(BigInt(Math.min(...seqs)))} to ${groupDigits(BigInt(Math.max(...seqs)))}`;
}

function contextSweepBlocks(
  points: readonly SweepPoint[],
  markOf: (config: ModelConfig, run: RunShape) => string,
): Block[] {
  const first = points[0];
  if (first === undefined) return [];
  return [
    heading(`${modelLabel(first.config)} from ${seqRange(points)} tokens`, 3),
    paragraph(
      `${largestFromSentence(points)} Each run longer than the context raises the context length to fit; ` +
        'the parameters do not change (RoPE has none).',
    ),
    tableBlock({
      columns: [
        { header: 'T', align: 'right' },
        { header: 'forward FLOPs', align: 'right' },
        { header: 'approx', align: 'right' },
        ...shareColumns(points.map((point) => point.breakdown)),
        { header: 'verified' },
      ],
      rows: points.map((point): Cell[] => [
        BigInt(point.run.seq),
        point.breakdown.total,
        formatFlops(point.breakdown.total),
        ...shareCells(
          point.breakdown,
          points.map((p) => p.breakdown),
        ),
        markOf(point.config, point.run),
      ]),
    }),
  ];
}

/** Which component is largest at the first and last point, and from which T a new one leads, decided exactly. */
function largestFromSentence(points: readonly SweepPoint[]): string {
  const largest = (point: SweepPoint) =>
    MATMUL_COMPONENTS.reduce((best, component) =>
      point.breakdown.byComponent[component] > point.breakdown.byComponent[best] ? component : best,
    );
  const leaders = points.map(largest);
  const labels = matmulComponentLabels(points.map((point) => point.config));
  const changes = points.flatMap((point, index) =>
    index > 0 && leaders[index] !== leaders[index - 1]
      ? [`${labels[leaders[index]!]} from T = ${groupDigits(BigInt(point.run.seq))}`]
      : [],
  );
  const start = `${labels[leaders[0]!]} takes the most FLOPs at T = ${groupDigits(BigInt(points[0]!.run.seq))}`;
  return changes.length === 0 ? `${start}, at every length shown.` : `${start}; then ${changes.join(', then ')}.`;
}

function timingParts(input: ReportDocumentInput): DocumentPart[] {
  const { timing } = input;
  const lead = heading('Time against FLOPs');
  if (timing === undefined) return [lead, paragraph(`No timing data was given. ${TIMING_HINT}`)];
  return [
    lead,
    paragraph(
      `Median forward time of each measured run on the ${timing.backend} backend (from ${timing.source}) against its ` +
        'exact forward matmul FLOPs. The dashed line is a least-squares fit; its slope is the marginal cost per FLOP.',
    ),
    {
      kind: 'figure',
      id: figureId(FIGURE_FILES.timeVsFlops),
      file: FIGURE_FILES.timeVsFlops,
      title: 'Measured time against FLOPs',
      caption: `${timing.points.length} measured runs on ${timing.backend}.`,
      spec: timeVsFlopsSpec(timing.points, timing.backend),
    },
    tableBlock({
      columns: [
        { header: 'run' },
        { header: 'forward FLOPs', align: 'right' },
        { header: 'median ms', align: 'right' },
        { header: 'GFLOP/s', align: 'right' },
      ],
      rows: timing.points.map((point): Cell[] => [
        point.label,
        point.flops,
        point.medianMs.toFixed(3),
        throughputCell(point.flops, point.medianMs),
      ]),
    }),
  ];
}

/** FLOPs over milliseconds as GFLOP/s: flops / (ms * 1e6), the time taken as exact microseconds. */
function throughputCell(flops: bigint, medianMs: number): Cell {
  const microseconds = BigInt(Math.max(1, Math.round(medianMs * 1000)));
  return fixed(flops, microseconds * 1000n, 2);
}

/** The data-parallel sizes the ZeRO chart and table show: 1 to 1,024 devices, doubling. */
const ZERO_DEVICES: readonly number[] = Array.from({ length: 11 }, (_, i) => 2 ** i);
/** Mixed-precision AdamW as the ZeRO paper counts it: 2 + 2 + K bytes per parameter, K = 12. */
const ZERO_PRECISION = 'bf16-mixed';
/** The ZeRO paper's Figure 1 case: Ψ = 7.5B parameters over N_d = 64 devices. */
const ZERO_FIGURE_1 = { parameters: 7_500_000_000n, devices: 64 } as const;

/** Model states per device by ZeRO stage for the report's model (chart and exact table), and the paper's Figure 1. */
function zeroParts(config: ModelConfig): DocumentPart[] {
  const parameters = summarizeParameters(config).total;
  const data = zeroStatesData(parameters, ZERO_PRECISION, ZERO_DEVICES);
  const bytesAt = (stage: number, devices: number) =>
    BigInt(data.find((datum) => datum.order === stage && datum.devices === devices)!.bytes);
  const figure1 = ZERO_STAGES.map((stage) =>
    formatGigabytes(
      zeroModelStates(precisionOf(ZERO_PRECISION), stage, ZERO_FIGURE_1.devices, [ZERO_FIGURE_1.parameters]).total,
      1,
    ),
  );
  return [
    heading('Model states per device under ZeRO'),
    paragraph(
      `${modelLabel(config)} has ${groupDigits(parameters)} parameters. Trained with mixed-precision AdamW ` +
        '(16-bit weights and gradients, fp32 master weights, m and v: 2 + 2 + 12 bytes per parameter), every ' +
        'device of a data-parallel group keeps all of it (baseline); ZeRO stage 1 partitions the optimizer ' +
        'states over the N_d devices, stage 2 the gradients too, stage 3 (FSDP) the weights too. Model states ' +
        "only: activations, buffers and fragmentation come on top. The same function gives the ZeRO paper's " +
        `Figure 1 (Ψ = 7.5B, N_d = 64): ${figure1.join(', ')} (published: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB).`,
    ),
    {
      kind: 'figure',
      id: figureId(FIGURE_FILES.zeroStates),
      file: FIGURE_FILES.zeroStates,
      title: 'Model states per device by ZeRO stage',
      caption: `${modelLabel(config)}, ${ZERO_PRECISION}, 1 to ${groupDigits(BigInt(ZERO_DEVICES.at(-1)!))} devices (log axes).`,
      spec: zeroStatesSpec(data, modelLabel(config), ZERO_PRECISION),
    },
    tableBlock({
      columns: [
        { header: 'N_d', align: 'right' },
        ...ZERO_STAGES.map((stage) => ({ header: `${ZERO_STAGE_LABELS[stage]}, bytes`, align: 'right' as const })),
      ],
      rows: ZERO_DEVICES.map((devices): Cell[] => [
        BigInt(devices),
        ...ZERO_STAGES.map((stage) => bytesAt(stage, devices)),
      ]),
    }),
  ];
}

/**
 * The accelerator the report's roofline is drawn for: the A100 80 GB, whose 80 GB and fp32 peak
 * (19.5 TFLOP/s) are the course question's defaults in `train`; bf16 is how such a model runs on it.
 */
const ROOFLINE_DEVICE = 'a100-80gb-sxm';
const ROOFLINE_DTYPE = 'bf16';

const teraflops = (value: Rational): Cell => fixed(value.numerator, value.denominator * 10n ** 12n, 3);
const flopsPerByte = (value: Rational): Cell => fixed(value.numerator, value.denominator, 2);

/**
 * The report's model on a named accelerator's roofline: its forward pass over the report's run,
 * and the step that decodes the last position after a prompt filling the rest of the context,
 * one point per module kind, with the exact table beside the chart.
 */
function rooflineParts(config: ModelConfig, run: RunShape): DocumentPart[] {
  const device = deviceById(ROOFLINE_DEVICE);
  const options = { dtype: ROOFLINE_DTYPE, group: moduleKindOf } as const;
  const prompt = run.seq - 1;
  const forwardName = `forward, ${run.batch} x ${groupDigits(BigInt(run.seq))} tokens`;
  const decodeName = `decode at position ${groupDigits(BigInt(run.seq))}`;
  const runs: { name: string; prediction: RooflinePrediction }[] = [
    {
      name: forwardName,
      prediction: predictRoofline(forwardKernelCosts(config, run, ROOFLINE_DTYPE), device, options),
    },
    {
      name: decodeName,
      prediction: predictRoofline(
        decodeGenerationKernelCosts(config, { batch: run.batch, prompt, generate: 1 }, ROOFLINE_DTYPE),
        device,
        options,
      ),
    },
  ];
  const placed = runs.map(({ name, prediction }) => ({ name, ...rooflinePoints(name, prediction) }));
  const points = placed.flatMap((entry) => entry.points);
  const { assumptions } = runs[0]!.prediction;
  const ridge = rational(assumptions.matmulPeak, assumptions.bandwidth);
  const notDrawn = [...new Set(placed.flatMap((entry) => entry.notDrawn))];
  const percent = (value: Rational) => `${(rationalToNumber(value) * 100).toFixed(0)}%`;
  return [
    heading(`${modelLabel(config)} on the roofline of the ${device.name}`),
    paragraph(
      `Each module kind of ${modelLabel(config)} (summed over its ${config.num_layers} layers) at its arithmetic ` +
        'intensity, the FLOPs it does per byte it reads and writes, against the FLOP/s the roofline model predicts ' +
        `for it on the ${device.name} in ${ROOFLINE_DTYPE} (\`flopledger roofline ${config.name} --device ` +
        `${device.id} --depth 1\`): every kernel takes the longer of its FLOPs at ${percent(assumptions.computeEfficiency)} ` +
        `of the peak and its bytes at ${percent(assumptions.memoryEfficiency)} of the bandwidth, plus ` +
        `${(rationalToNumber(assumptions.launchSeconds) * 1e6).toFixed(0)} us of launch (the device's defaults). ` +
        `The roofs are the table's figures: the bandwidth slope (${groupDigits(assumptions.bandwidth / 10n ** 9n)} GB/s) ` +
        `up to the dense ${ROOFLINE_DTYPE} peak of ${groupDigits(assumptions.matmulPeak / 10n ** 12n)} TFLOP/s at the ` +
        `ridge point of ${rationalToNumber(ridge).toFixed(1)} FLOPs per byte, and the fp32 peak of ` +
        `${(Number(assumptions.vectorPeak) / 1e12).toFixed(1)} TFLOP/s the other kernels run at. A module's own roof ` +
        '(the table) is its FLOPs over the longer of its compute time at the peaks and its bytes at the bandwidth. ' +
        `Not drawn, having no FLOPs: ${notDrawn.join(', ')}.`,
    ),
    {
      kind: 'figure',
      id: figureId(FIGURE_FILES.roofline),
      file: FIGURE_FILES.roofline,
      title: `Roofline of ${modelLabel(config)} on the ${device.name}`,
      caption:
        `The forward pass over ${run.batch} x ${groupDigits(BigInt(run.seq))} tokens and the decode step at position ` +
        `${groupDigits(BigInt(run.seq))} (after a prompt of ${groupDigits(BigInt(prompt))}), ${ROOFLINE_DTYPE}, log axes.`,
      spec: rooflineSpec(points, assumptions, `${modelLabel(config)} on the ${device.id} roofline (${ROOFLINE_DTYPE})`),
    },
    tableBlock({
      columns: [
        { header: 'run' },
        { header: 'module' },
        { header: 'FLOPs', align: 'right' },
        { header: 'bytes', align: 'right' },
        { header: 'FLOP/B', align: 'right' },
        { header: 'bound' },
        { header: 'predicted TFLOP/s', align: 'right' },
        { header: 'roof TFLOP/s', align: 'right' },
      ],
      rows: points.map((point): Cell[] => [
        point.series,
        point.module,
        point.flops,
        point.bytes,
        flopsPerByte(point.intensity),
        point.bound,
        teraflops(point.predicted),
        teraflops(point.attainable),
      ]),
    }),
  ];
}
