import { describeShift, ratio, type SweepPoint } from '../analytic/index.js';
import { type ModelConfig, modelLabel } from '../config/model_config.js';
import { formatFlops, groupDigits } from '../core/format.js';
import { ratioCell } from './cells.js';
import { configJson, flopConventions, matmulComponentLabels } from './labels.js';
import { componentShares, shareColumns, shareCells } from './shares.js';
import { shiftSentence } from './shift_sentences.js';
import { heading, list, paragraph, tableBlock, type Block, type Report } from '../render/table.js';

const n = (value: number | bigint) => groupDigits(BigInt(value));

/** One model at several sequence lengths: totals, growth against the first point, shares. */
export function sweepReport(config: ModelConfig, points: readonly SweepPoint[]): Report<SweepData> {
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined) throw new Error('sweep: no sequence lengths');
  const raised = points.filter((point) => point.run.seq > config.context_length);
  const blocks: Block[] = [
    heading(`Forward matmul FLOPs of ${modelLabel(config)} by sequence length (batch ${first.run.batch})`),
    tableBlock({
      columns: [
        { header: 'seq', align: 'right' },
        { header: 'forward FLOPs', align: 'right' },
        { header: 'approx', align: 'right' },
        { header: `vs seq ${first.run.seq}`, align: 'right' },
        ...shareColumns(points.map((point) => point.breakdown)),
      ],
      rows: points.map((point) => [
        BigInt(point.run.seq),
        point.breakdown.total,
        formatFlops(point.breakdown.total),
        ratioCell(point.breakdown.total, first.breakdown.total),
        ...shareCells(
          point.breakdown,
          points.map((p) => p.breakdown),
        ),
      ]),
    }),
  ];
  if (points.length > 1) {
    blocks.push(
      paragraph(`From seq ${n(first.run.seq)} to seq ${n(last.run.seq)}:`),
      list(describeShift(first, last).map((shift) => shiftSentence(shift, matmulComponentLabels([config])))),
    );
  }
  if (raised.length > 0) {
    const sameParameters = points.every((point) => point.parameters === first.parameters);
    blocks.push(
      paragraph(
        `context_length (${n(config.context_length)}) is raised to the sequence length for ` +
          `seq ${raised.map((point) => n(point.run.seq)).join(', ')}; ` +
          (sameParameters
            ? `the parameter count stays ${n(first.parameters)}.`
            : `parameters: ${points.map((point) => n(point.parameters)).join(', ')}.`),
      ),
    );
  }
  blocks.push(paragraph(flopConventions([config])));
  return { blocks, json: sweepData(config, points, first, last) };
}

/** What `sweep --format json` writes: each length's counts and how the shares moved end to end. */
function sweepData(config: ModelConfig, points: readonly SweepPoint[], first: SweepPoint, last: SweepPoint) {
  return {
    model: configJson(config),
    batch: first.run.batch,
    points: points.map((point) => ({
      seq: point.run.seq,
      contextLength: point.config.context_length,
      total: point.breakdown.total,
      ratioToFirst: ratio(point.breakdown.total, first.breakdown.total),
      components: componentShares(point.breakdown),
    })),
    shifts: points.length > 1 ? describeShift(first, last) : [],
  };
}

export type SweepData = ReturnType<typeof sweepData>;
