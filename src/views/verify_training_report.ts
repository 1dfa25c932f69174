import { modelLabel } from '../config/model_config.js';
/**
 * The training-step verification report: backward matmuls against the analytic backward
 * inventory (every mismatch on one line), the bytes of every backward matmul and forward kernel
 * against the analytic lists (each mismatch on one line, totals in the JSON), the traced
 * backward/forward ratio per component, layer and module, 6N against the traced matmul FLOPs, the
 * optimizer's FLOPs beside the AdamW count, non-matmul work by phase, and the measured peak memory
 * beside the analytic estimate with the reasons they differ.
 */
import { rational, type Rational } from '../core/exact.js';
import { path, rollUp } from '../core/module_paths.js';
import { TRAINING_MEMORY_CONVENTION } from '../analytic/training/training_memory.js';
import { describeMaskMismatch } from '../verify/mask_check.js';
import { describeWorkMismatch } from '../verify/work_check.js';
import { bytesData, bytesProblem, routingProblem, workProblem } from './verify_report.js';
import { describeBytesMismatch } from '../verify/bytes_check.js';
import { describeRoutingMismatch } from '../verify/routing_check.js';
import { describeMismatch, type MatmulComparison } from '../verify/matmul_check.js';
import type {
  BackwardToForwardFlops,
  CheckpointVerification,
  TrainingVerification,
} from '../verify/verify_training.js';
import { formatBytesSi, formatFlops, groupDigits } from '../core/format.js';
import { displayText } from '../render/cell_text.js';
import { ratioCell } from './cells.js';
import { configJson, dimensionsLabel, matmulComponentLabels, runJson, runLabel } from './labels.js';
import { matmulCheckTable, mismatchSummary } from './matmul_check_table.js';
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

/** "2 exactly" for a whole ratio, else four decimals: "0.9652". */
function exactRatioCell(ratio: Rational | undefined): Cell {
  if (ratio === undefined) return 'n/a';
  if (ratio.denominator === 1n) return cellText`${ratio.numerator} exactly`;
  return fixed(ratio.numerator, ratio.denominator, 4);
}

const ratioText = (ratio: Rational | undefined): string => displayText(exactRatioCell(ratio));

/**
 * The last line:
 *   training step verified: 866 of 866 backward matmuls and 433 of 433 forward matmuls match exactly; traced backward/forward = 2 exactly, on meta
 *   training step NOT verified: backward 37 of 38 match (1 shape); forward 19 of 19 match; on cpu
 */
export function trainingVerdictLine(verification: TrainingVerification): string {
  const { backward, forward, backend } = verification;
  if (verification.ok) {
    return (
      `training step verified: ${backward.matchedCount} of ${backward.expectedCount} backward matmuls and ` +
      `${forward.matchedCount} of ${forward.expectedCount} forward matmuls match exactly; ` +
      `traced backward/forward = ${ratioText(verification.total.ratio)}, on ${backend.name}`
    );
  }
  const side = (name: string, matmuls: MatmulComparison): string =>
    matmuls.ok
      ? `${name} ${matmuls.matchedCount} of ${matmuls.expectedCount} match`
      : `${name} ${matmuls.matchedCount} of ${matmuls.expectedCount} match (${mismatchSummary(matmuls)}); ` +
        `traced ${groupDigits(matmuls.tracedTotal)} FLOPs, expected ${groupDigits(matmuls.expectedTotal)}`;
  const { masks } = verification;
  const maskSide = masks.ok
    ? ''
    : `; attention masks: ${masks.mismatches.length} of ${masks.expectedCount} differ ` +
      `(${[...new Set(masks.mismatches.map((check) => check.mismatch))].join(', ')})`;
  return (
    `training step NOT verified: ${side('backward', backward)}; ${side('forward', forward)}${maskSide}` +
    `${workProblem(verification.work)}${routingProblem(verification.routing)}${bytesProblem(verification.backwardBytes, 'backward matmuls')}` +
    `${bytesProblem(verification.forwardBytes, 'forward kernels')}${checkpointProblem(verification.checkpointCheck)}` +
    `${keptProblem(verification.memory.saved)}${peakProblems(verification.memory.saved)}; on ${backend.name}`
  );
}

/** "; kept for the backward pass: 2,048 bytes more than the formula and its named buffers", or ''. */
function keptProblem(saved: TrainingVerification['memory']['saved']): string {
  if (saved.keptMatchesFormula !== false) return '';
  const named = (saved.beyondFormula ?? []).reduce((total, entry) => total + entry.bytes, 0n);
  const over = saved.keptForBackward - saved.formula - named;
  return `; kept for the backward pass: ${groupDigits(over < 0n ? -over : over)} bytes ${over < 0n ? 'less' : 'more'} than the formula and its named buffers`;
}

/** "; the update's peak: 4 bytes more than its formula", for each moment whose measured storage differs, or ''. */
function peakProblems(saved: TrainingVerification['memory']['saved']): string {
  const moments: [string, { measured: bigint | undefined; formula: bigint; matches: boolean | undefined }][] = [
    ["the loss gradient's peak", saved.lossGradientPeak],
    ["the update's peak", saved.updatePeak],
  ];
  const offEmbeddings = saved.embeddingPeaks.filter((peak) => peak.matches === false).length;
  const embeddings =
    offEmbeddings === 0
      ? ''
      : `; the embeddings' backward pass: ${offEmbeddings} of ${saved.embeddingPeaks.length} moments off their formula`;
  const off = saved.boundaries.filter((boundary) => boundary.matches === false);
  const boundaries =
    off.length === 0
      ? ''
      : `; between blocks: ${off.length} of ${saved.boundaries.length} boundaries off their formula`;
  return (
    moments
      .filter(([, moment]) => moment.matches === false)
      .map(([name, moment]) => {
        const over = moment.measured! - moment.formula;
        return `; ${name}: ${groupDigits(over < 0n ? -over : over)} bytes ${over < 0n ? 'less' : 'more'} than its formula`;
      })
      .join('') +
    boundaries +
    embeddings
  );
}

/** "; selective checkpointing: 1 of 4 recomputed modules' work differs", or '' when the rerun and the kept storage match. */
function checkpointProblem(check: CheckpointVerification | undefined): string {
  if (check === undefined || check.ok) return '';
  const problems = [
    ...(check.recompute.ok ? [] : [`recomputed matmuls ${mismatchSummary(check.recompute)}`]),
    ...(check.recomputeWork === undefined || check.recomputeWork.ok
      ? []
      : [`${check.recomputeWork.mismatches.length} recomputed modules' non-matmul work differs`]),
    ...(check.keptOk
      ? []
      : [
          `${check.kept.filter((entry) => entry.traced !== entry.formula).length} modules keep other bytes than the formula`,
        ]),
  ];
  return `; ${check.checkpoint} checkpointing: ${problems.join(', ')}`;
}

/** Every difference the checkpoint check found, one line each. */
function checkpointMismatchLines(check: CheckpointVerification | undefined): string[] {
  if (check === undefined) return [];
  return [
    ...check.recompute.mismatches.map((entry) => `recompute ${describeMismatch(entry)}`),
    ...(check.recomputeWork?.mismatches ?? []).map((entry) => `recompute ${describeWorkMismatch(entry)}`),
    ...check.kept
      .filter((entry) => entry.traced !== entry.formula)
      .map(
        (entry) =>
          `kept for the backward pass at ${entry.module}: traced ${groupDigits(entry.traced)} bytes, formula ${groupDigits(entry.formula)}`,
      ),
  ];
}

const CHECKPOINT_WORDS = {
  selective: 'selective checkpointing: each attention core keeps only q, k and v and reruns in its backward pass',
  full: 'full checkpointing: each block keeps only its input and reruns in its backward pass',
} as const;

/** The recompute and the kept storage of a checkpointed step, traced beside the formulas. */
function checkpointTable(check: CheckpointVerification): Table {
  const match = (ok: boolean): Cell => (ok ? 'yes' : 'NO');
  const work = check.recomputeWork;
  const keptTraced = check.kept.reduce((total, entry) => total + entry.traced, 0n);
  const keptFormula = check.kept.reduce((total, entry) => total + entry.formula, 0n);
  return {
    title: `Activation checkpointing, traced: ${CHECKPOINT_WORDS[check.checkpoint]}`,
    columns: [
      { header: 'check' },
      { header: 'traced', align: 'right' },
      { header: 'formula', align: 'right' },
      { header: 'match' },
    ],
    rows: [
      [
        `recomputed matmuls (${check.recompute.matchedCount} of ${check.recompute.expectedCount} match), FLOPs`,
        check.recompute.tracedTotal,
        check.recompute.expectedTotal,
        match(check.recompute.ok),
      ],
      [
        `recomputed matmul FLOPs against checkpointing.ts (${check.checkpoint}, the dense core)`,
        check.recomputeFlops.traced,
        check.recomputeFlops.analytic,
        check.recomputeFlops.traced === check.recomputeFlops.analytic ? 'yes' : 'n/a: blocked',
      ],
      ...(work === undefined
        ? []
        : [
            [
              `recomputed non-matmul work of the core (${work.checks.length - work.mismatches.length} of ${work.checks.length} modules match), FLOPs`,
              work.checks.reduce((total, entry) => total + (entry.traced?.flops ?? 0n), 0n),
              work.checks.reduce((total, entry) => total + (entry.expected?.flops ?? 0n), 0n),
              match(work.ok),
            ] satisfies Cell[],
          ]),
      [
        check.checkpoint === 'selective'
          ? "kept for the backward pass by the cores' modules, bytes (formula: its T^2 term)"
          : `kept for the backward pass, bytes (${check.kept.length} modules)`,
        keptTraced,
        keptFormula,
        match(check.keptOk),
      ],
    ],
    notes: [
      'The rerun runs in the recompute phase, each kernel at the path of the module it recomputes; its gradients run in the backward phase.',
      ...(check.checkpoint === 'selective'
        ? [
            "Kept storage is named by the kernel that made it: q, k and v, which the core keeps for its rerun, are held by their makers outside the core (on wasm the core's own copies, at attn).",
          ]
        : []),
    ],
  };
}

/** Every mismatch of the step, backward first, each prefixed with its phase. */
export function trainingMismatchLines(verification: TrainingVerification): string[] {
  return [
    ...verification.backward.mismatches.map((check) => `backward ${describeMismatch(check)}`),
    ...verification.forward.mismatches.map((check) => `forward ${describeMismatch(check)}`),
    ...verification.masks.mismatches.map((check) => `forward ${describeMaskMismatch(check)}`),
    ...verification.work.mismatches.map((check) => `forward ${describeWorkMismatch(check)}`),
    ...(verification.routing?.mismatches ?? []).map((check) => `forward ${describeRoutingMismatch(check)}`),
    ...verification.backwardBytes.mismatches.map((check) => `backward ${describeBytesMismatch(check)}`),
    ...verification.forwardBytes.mismatches.map((check) => `forward ${describeBytesMismatch(check)}`),
    ...checkpointMismatchLines(verification.checkpointCheck),
  ];
}

function componentTable(verification: TrainingVerification): Table {
  const { backward, components, total } = verification;
  const labels = matmulComponentLabels([verification.config]);
  return {
    title:
      'Backward matmul FLOPs against the forward ones, by component (both traced; backward checked against the formulas)',
    columns: [
      { header: 'component' },
      { header: 'forward traced', align: 'right' },
      { header: 'backward expected', align: 'right' },
      { header: 'backward traced', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'backward / forward', align: 'right' },
    ],
    rows: components.map((entry) => [
      labels[entry.component],
      entry.forward,
      backward.byComponent.find((component) => component.component === entry.component)?.expected ?? 0n,
      entry.backward,
      formatFlops(entry.backward),
      exactRatioCell(entry.ratio),
    ]),
    totals: [
      [
        `total (${backward.expectedCount} expected, ${backward.tracedCount} traced backward matmuls)`,
        total.forward,
        backward.expectedTotal,
        total.backward,
        formatFlops(total.backward),
        exactRatioCell(total.ratio),
      ],
    ],
  };
}

/** One row per module: its traced forward and backward matmul FLOPs and their ratio. */
function ratioTable(title: string, rows: readonly (readonly [module: string, entry: BackwardToForwardFlops])[]): Table {
  return {
    title,
    columns: [
      { header: 'module' },
      { header: 'forward FLOPs', align: 'right' },
      { header: 'backward FLOPs', align: 'right' },
      { header: 'backward / forward', align: 'right' },
    ],
    rows: rows.map(([module, entry]) => [module, entry.forward, entry.backward, exactRatioCell(entry.ratio)]),
  };
}

function layerTable(verification: TrainingVerification): Table {
  const layers = new Map<string, { forward: bigint; backward: bigint }>();
  for (const module of verification.modules) {
    const key = rollUp(module.path, 2);
    const entry = layers.get(key) ?? { forward: 0n, backward: 0n };
    entry.forward += module.forward;
    entry.backward += module.backward;
    layers.set(key, entry);
  }
  return ratioTable(
    'Traced backward / forward matmul FLOPs by layer',
    [...layers].map(([module, { forward, backward }]) => [
      module,
      { forward, backward, ratio: forward === 0n ? undefined : rational(backward, forward) },
    ]),
  );
}

function moduleTable(verification: TrainingVerification): Table {
  return ratioTable(
    'Traced backward / forward matmul FLOPs by module',
    verification.modules.map((module) => [module.path, module]),
  );
}

function backwardCheckTable(verification: TrainingVerification): Table {
  return matmulCheckTable(
    'Every backward matmul: inventory row against traced kernel (batch dims folded into rows)',
    verification.backward.checks,
  );
}

const SIX_N_NOTE =
  '6N counts 2N forward and 4N backward FLOPs per token for N parameters; it leaves out the attention core ' +
  '(q k^T and P v, which grow with T) and counts the norm gains, which do no matmul work. The optimizer is outside both sides.';

function sixNTable(verification: TrainingVerification): Table {
  return {
    title: 'The 6N rule against the traced forward + backward matmul FLOPs',
    columns: [
      { header: 'N counts' },
      { header: 'N', align: 'right' },
      { header: '6 N B T', align: 'right' },
      { header: 'traced', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: '6N / traced', align: 'right' },
    ],
    rows: verification.sixN.map((entry) => [
      entry.note,
      entry.parameters,
      entry.estimate,
      entry.traced,
      formatFlops(entry.traced),
      exactRatioCell(entry.ratio),
    ]),
    notes: [SIX_N_NOTE],
  };
}

/** "none", or "Erf x 12, Cumsum x 1": kernels by name and how many ran. */
function kernelCountsText(counts: ReadonlyMap<string, number>): string {
  return counts.size === 0 ? 'none' : [...counts].map(([kernel, count]) => `${kernel} x ${count}`).join(', ');
}

function optimizerTable(verification: TrainingVerification): Table {
  const { optimizer } = verification;
  const perParameter = (total: bigint): Cell => exactRatioCell(rational(total, optimizer.parameterCount));
  return {
    title: `AdamW update FLOPs over ${groupDigits(optimizer.parameterCount)} parameters`,
    columns: [
      { header: 'count' },
      { header: 'FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'per parameter', align: 'right' },
    ],
    rows: [
      [
        'traced (the rule table over the optimizer kernels)',
        optimizer.traced,
        formatFlops(optimizer.traced),
        exactRatioCell(optimizer.tracedPerParameter),
      ],
      [
        'analytic (bias corrections folded into the step size, as the update runs)',
        optimizer.analytic.total,
        formatFlops(optimizer.analytic.total),
        perParameter(optimizer.analytic.total),
      ],
      [
        'alternative: m_hat and v_hat divided out per parameter',
        optimizer.unfoldedAnalytic,
        formatFlops(optimizer.unfoldedAnalytic),
        perParameter(optimizer.unfoldedAnalytic),
      ],
    ],
    notes: [
      optimizer.traced === optimizer.analytic.total
        ? 'The traced update matches the analytic count exactly.'
        : `The traced update differs from the analytic count by ${groupDigits(optimizer.traced - optimizer.analytic.total)} FLOPs.`,
      `Uncounted optimizer kernels: ${kernelCountsText(optimizer.uncounted)}; matmul kernels: ${optimizer.matmulKernels}.`,
      optimizer.analytic.convention,
    ],
  };
}

function nonMatmulTable(verification: TrainingVerification): Table {
  return {
    title: 'Non-matmul work by phase (the rule table over every kernel)',
    columns: [
      { header: 'phase' },
      { header: 'kernels', align: 'right' },
      { header: 'FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'uncounted (no FLOP rule)' },
    ],
    rows: verification.nonMatmul.map((entry) => [
      entry.phase,
      BigInt(entry.kernels),
      entry.flops,
      formatFlops(entry.flops),
      kernelCountsText(entry.uncounted),
    ]),
    notes: [
      `Of the backward work, ${groupDigits(BigInt(verification.gradientAccumulation.kernels))} Add kernels ` +
        `(${groupDigits(verification.gradientAccumulation.flops)} FLOPs) are the engine summing the gradients of tensors used ` +
        "more than once (the residual stream, the input of q, k and v); they run outside every op's gradient and carry no module path.",
    ],
  };
}

/** Whether the kept storage is the formula plus its named buffers, in a few words. */
function keptVerdict(saved: TrainingVerification['memory']['saved']): string {
  if (saved.keptMatchesFormula === undefined) return 'no named list for this model or backend';
  return saved.keptMatchesFormula ? 'equal to the formula + named buffers' : 'MORE than the formula + named buffers';
}

/** Whether a moment's measured peak equals its formula, in a few words. */
function momentVerdict(moment: { measured: bigint | undefined; matches: boolean | undefined }): string {
  if (moment.measured === undefined) return 'not reached in this step';
  if (moment.matches === undefined) return `measured ${formatBytesSi(moment.measured)}; no formula for this backend`;
  return moment.matches ? 'equal to the measured peak there' : `DIFFERS: measured ${groupDigits(moment.measured)}`;
}

/** The largest storage between two blocks, and whether every boundary equals its formula. */
function boundariesRow(boundaries: TrainingVerification['memory']['saved']['boundaries']): Cell[] {
  const largest = boundaries.reduce<bigint>(
    (most, boundary) => (boundary.formula.bytes > most ? boundary.formula.bytes : most),
    0n,
  );
  const off = boundaries.filter((boundary) => boundary.matches === false).length;
  const verdict = boundaries.some((boundary) => boundary.matches === undefined)
    ? 'no formula for this backend'
    : off === 0
      ? `equal to the measured storage at all ${boundaries.length}`
      : `${off} of ${boundaries.length} DIFFER`;
  return [
    'between blocks (largest): held before + kept + gradients so far + the stream or its dy (+ loss, rerun output)',
    largest,
    formatBytesSi(largest),
    '',
    verdict,
  ];
}

/** Each boundary between blocks, in the order the step reaches it: the formula's parts beside the measured storage. */
function boundariesTable(verification: TrainingVerification): Table {
  const boundaries = verification.memory.saved.boundaries;
  const where = ({ layer, kind, module }: (typeof boundaries)[number]['formula']): string =>
    module !== undefined
      ? `${module} backward`
      : layer === undefined
        ? "embeddings' backward"
        : `${path.layer(layer)} ${kind === 'rerun' ? 'rerun' : kind}`;
  const verdict = (boundary: (typeof boundaries)[number]): string => {
    if (boundary.matches === undefined) return 'no formula for this backend';
    if (boundary.measured === undefined) return 'DIFFERS: no kernel found there';
    return boundary.matches ? 'equal' : `DIFFERS: measured ${groupDigits(boundary.measured)}`;
  };
  return {
    title: "Storage between blocks: just before each block's first kernel, by formula, beside the trace",
    columns: [
      { header: 'before' },
      { header: 'kept', align: 'right' },
      { header: 'gradients', align: 'right' },
      { header: 'stream or dy', align: 'right' },
      { header: 'loss, rerun output, embeddings', align: 'right' },
      { header: 'total (+ held before)', align: 'right' },
      { header: 'measured' },
    ],
    rows: boundaries.map((boundary) => {
      const { formula } = boundary;
      return [
        where(formula),
        formula.kept,
        formula.gradients,
        formula.residual,
        formula.loss + formula.rerunOutput + formula.embeddings,
        formula.bytes,
        verdict(boundary),
      ];
    }),
    notes: [
      `Held before the step at every boundary: ${groupDigits(boundaries[0]?.formula.heldBefore ?? 0n)} bytes ` +
        "(weights, AdamW's m and v, the ids and targets). Kept: what the blocks run so far (forward) or not yet " +
        'reached (backward) keep, and the RoPE tables while a block reads them. Gradients: those made so far; a ' +
        'parameter the loss does not reach (an unchosen expert, a score bias) gets zeros after the pass.',
    ],
  };
}

function memoryTable(verification: TrainingVerification): Table {
  const { measured, analytic, tensorRatio, bufferRatio, heldBeforeAnalytic, reasons, saved } = verification.memory;
  const beyondBytes = (saved.beyondFormula ?? []).reduce((total, entry) => total + entry.bytes, 0n);
  const bytes = (value: number | bigint): Cell => BigInt(value);
  const where = (moment: { kernel: string; path: string; phase: string | undefined }): string =>
    `${moment.phase ?? '-'}: ${moment.kernel} at ${moment.path === '' ? '(no module)' : moment.path}`;
  return {
    title: 'Peak memory of the step: measured after every kernel, beside the analytic estimate',
    columns: [
      { header: 'quantity' },
      { header: 'bytes', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'over the estimate', align: 'right' },
      { header: 'where' },
    ],
    rows: [
      [
        'held before the step, measured (weights, m, v, ids, targets)',
        bytes(measured.tensorBytesBefore),
        formatBytesSi(BigInt(measured.tensorBytesBefore)),
        '',
        '',
      ],
      [
        'held before the step, estimate (parameters, m, v)',
        heldBeforeAnalytic,
        formatBytesSi(heldBeforeAnalytic),
        '',
        '',
      ],
      [
        'peak, tf.memory().numBytes (tensors; views count again)',
        bytes(measured.tensorPeak.bytes),
        formatBytesSi(BigInt(measured.tensorPeak.bytes)),
        ratioCell(tensorRatio.numerator, tensorRatio.denominator),
        where(measured.tensorPeak),
      ],
      [
        'peak, storage held (each buffer once)',
        bytes(measured.bufferPeak.bytes),
        formatBytesSi(BigInt(measured.bufferPeak.bytes)),
        ratioCell(bufferRatio.numerator, bufferRatio.denominator),
        where(measured.bufferPeak),
      ],
      [
        'kept for the backward pass, measured (storage the forward pass still holds)',
        saved.keptForBackward,
        formatBytesSi(saved.keptForBackward),
        '',
        keptVerdict(saved),
      ],
      [
        'kept, saved-activation formula + named buffers',
        saved.formula + beyondBytes,
        formatBytesSi(saved.formula + beyondBytes),
        '',
        (saved.beyondFormula ?? []).map((entry) => `${entry.module}: ${entry.tensor}`).join('; '),
      ],
      [
        "peak, the formula's (held before + formula + named buffers)",
        saved.formulaPeak,
        formatBytesSi(saved.formulaPeak),
        '',
        `measured storage peak is ${formatBytesSi(saved.peak - saved.formulaPeak)} above, in the ${saved.peakPhase ?? 'forward'} phase`,
      ],
      [
        "peak in the loss's gradient: the formula's + its three [B, T, Vp] fp32 buffers",
        saved.lossGradientPeak.formula,
        formatBytesSi(saved.lossGradientPeak.formula),
        '',
        momentVerdict(saved.lossGradientPeak),
      ],
      [
        'peak in the update: held before + gradients + loss + 3 x largest parameter',
        saved.updatePeak.formula,
        formatBytesSi(saved.updatePeak.formula),
        '',
        momentVerdict(saved.updatePeak),
      ],
      boundariesRow(saved.boundaries),
      [
        'estimate: parameters + gradients + m, v + activations',
        analytic.total,
        formatBytesSi(analytic.total),
        '',
        'just before the backward pass',
      ],
    ],
    notes: [...reasons, `The estimate: ${TRAINING_MEMORY_CONVENTION}`],
  };
}

function comparisonData(matmuls: MatmulComparison, withChecks: boolean) {
  return {
    ok: matmuls.ok,
    expectedCount: matmuls.expectedCount,
    tracedCount: matmuls.tracedCount,
    matchedCount: matmuls.matchedCount,
    expectedTotal: matmuls.expectedTotal,
    tracedTotal: matmuls.tracedTotal,
    byComponent: matmuls.byComponent,
    mismatches: matmuls.mismatches.map(describeMismatch),
    checks: withChecks
      ? matmuls.checks.map((check) => ({
          path: check.path,
          status: check.mismatch ?? 'match',
          expected:
            check.expected === undefined ? null : { shapes: check.expected.display, flops: check.expected.flops },
          traced:
            check.traced === undefined
              ? null
              : {
                  kernel: check.traced.kernel,
                  index: check.traced.index,
                  shapes: check.traced.display,
                  flops: check.traced.flops,
                },
        }))
      : undefined,
  };
}

/** A ratio that may have no value (a module with no forward matmul), written as null. */
const ratioOrNull = (ratio: Rational | undefined): Rational | null => ratio ?? null;

/** What `verify --train --format json` adds under "training": the step's verdict and every comparison behind it. */
function trainingData(verification: TrainingVerification, depth: Depth) {
  const { memory, optimizer } = verification;
  const moment = (peak: typeof memory.measured.tensorPeak) => ({
    bytes: BigInt(peak.bytes),
    kernel: peak.kernel,
    path: peak.path,
    phase: peak.phase ?? null,
  });
  const ratioEntry = (entry: BackwardToForwardFlops) => ({
    forward: entry.forward,
    backward: entry.backward,
    ratio: ratioOrNull(entry.ratio),
  });
  return {
    model: configJson(verification.config),
    run: runJson(verification.run),
    backend: { name: verification.backend.name, description: verification.backend.description },
    ok: verification.ok,
    verdict: trainingVerdictLine(verification),
    loss: verification.loss ?? null,
    backward: comparisonData(verification.backward, depth >= 3),
    forward: comparisonData(verification.forward, depth >= 3),
    bytes: { backward: bytesData(verification.backwardBytes), forward: bytesData(verification.forwardBytes) },
    skippedBackwardRows: verification.skippedBackwardRows.map((row) => ({
      path: row.path,
      description: row.description,
      reason: row.skipped,
    })),
    backwardToForward: {
      total: ratioEntry(verification.total),
      byComponent: verification.components.map((entry) => ({ component: entry.component, ...ratioEntry(entry) })),
      byModule: verification.modules.map((entry) => ({
        path: entry.path,
        component: entry.component,
        ...ratioEntry(entry),
      })),
    },
    sixN: verification.sixN.map((entry) => ({
      convention: entry.convention,
      parameters: entry.parameters,
      tokens: entry.tokens,
      estimate: entry.estimate,
      traced: entry.traced,
      ratio: entry.ratio,
    })),
    optimizer: {
      parameters: optimizer.parameterCount,
      traced: optimizer.traced,
      tracedPerParameter: optimizer.tracedPerParameter,
      analytic: optimizer.analytic.total,
      analyticPerParameter: optimizer.analytic.perParameter,
      analyticUnfolded: optimizer.unfoldedAnalytic,
      uncounted: optimizer.uncounted,
    },
    nonMatmul: verification.nonMatmul.map((entry) => ({
      phase: entry.phase,
      kernels: entry.kernels,
      flops: entry.flops,
      uncounted: entry.uncounted,
    })),
    gradientAccumulation: verification.gradientAccumulation,
    checkpoint: checkpointData(verification),
    memory: {
      heldBefore: BigInt(memory.measured.tensorBytesBefore),
      heldBeforeEstimate: memory.heldBeforeAnalytic,
      tensorPeak: moment(memory.measured.tensorPeak),
      storagePeak: moment(memory.measured.bufferPeak),
      estimate: memory.analytic.total,
      estimateParts: {
        parameters: memory.analytic.parameters,
        gradients: memory.analytic.gradients,
        adamMoments: memory.analytic.adamMoments,
        activations: memory.analytic.activations.total,
      },
      tensorPeakOverEstimate: memory.tensorRatio,
      storagePeakOverEstimate: memory.bufferRatio,
      reasons: memory.reasons,
      storageByWhoMadeIt: memory.saved,
    },
  };
}

/** What `--format json` says of the checkpointing: the policy, and for a checkpointed step its checks. */
function checkpointData(verification: TrainingVerification) {
  const check = verification.checkpointCheck;
  if (check === undefined) return { policy: verification.checkpoint };
  return {
    policy: verification.checkpoint,
    ok: check.ok,
    recompute: comparisonData(check.recompute, false),
    recomputeFlops: check.recomputeFlops,
    recomputeWork:
      check.recomputeWork === undefined
        ? null
        : { ok: check.recomputeWork.ok, mismatches: check.recomputeWork.mismatches.map(describeWorkMismatch) },
    kept: check.kept,
    keptOk: check.keptOk,
  };
}

export type TrainingVerificationData = ReturnType<typeof trainingData>;

/**
 * The training-step report, from the verdict and components (depth 0-1) down to every backward matmul (depth 3).
 * @public (loaded by the CLI through a dynamic import)
 */
export function trainingVerificationReport(
  verification: TrainingVerification,
  depth: Depth,
): Report<TrainingVerificationData> {
  const { config, run, backend, records } = verification;
  const phaseCount = (phase: string) => records.filter((record) => record.phase === phase && !record.nested).length;
  const lossText = verification.loss === undefined ? '' : ` Loss before the update: ${verification.loss.toFixed(4)}.`;
  const blocks: Block[] = [
    heading(`Training step of ${modelLabel(config)}, ${runLabel(run)}, on ${backend.name}`),
    paragraph(
      `${dimensionsLabel(config)}; ${backend.description}. One step: forward pass, mean cross-entropy, gradients of every ` +
        `weight, AdamW in place. ${groupDigits(BigInt(records.length))} kernels traced: ` +
        `${groupDigits(BigInt(phaseCount('forward')))} forward, ` +
        (phaseCount('recompute') > 0 ? `${groupDigits(BigInt(phaseCount('recompute')))} recompute, ` : '') +
        `${groupDigits(BigInt(phaseCount('backward')))} backward, ` +
        `${groupDigits(BigInt(phaseCount('optimizer')))} optimizer; backward kernels carry the path of the forward op they differentiate.` +
        lossText,
    ),
    tableBlock(componentTable(verification)),
  ];
  if (depth >= 2) blocks.push(tableBlock(layerTable(verification)));
  if (depth >= 3) blocks.push(tableBlock(moduleTable(verification)), tableBlock(backwardCheckTable(verification)));
  const mismatches = trainingMismatchLines(verification);
  if (mismatches.length > 0) blocks.push(heading('Training-step mismatches', 3), list(mismatches));
  blocks.push(tableBlock(sixNTable(verification)));
  if (depth >= 1) blocks.push(tableBlock(optimizerTable(verification)), tableBlock(nonMatmulTable(verification)));
  if (verification.checkpointCheck !== undefined)
    blocks.push(tableBlock(checkpointTable(verification.checkpointCheck)));
  blocks.push(tableBlock(memoryTable(verification)));
  if (depth >= 2) blocks.push(tableBlock(boundariesTable(verification)));
  blocks.push(paragraph(trainingVerdictLine(verification)));
  return { blocks, json: trainingData(verification, depth) };
}
