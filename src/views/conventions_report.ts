import { modelLabel } from '../config/model_config.js';
/**
 * One model counted under every convention, and the published approximations next to the
 * exact count: the tables behind `flops --conventions` and the report's conventions section.
 */
import type { CountingConventions, PublishedApproximation, Rational } from '../analytic/conventions/index.js';
import { formatCountSi, formatFlops, formatMacs, formatSi, groupDigits } from '../core/format.js';
import { ratioCell } from './cells.js';
import { configJson, dimensionsLabel, runLabel } from './labels.js';
import { FORMULA_ONLY, verificationMark } from './verification_marks.js';
import {
  fixed,
  heading,
  paragraph,
  tableBlock,
  type Block,
  type Cell,
  type Report,
  type Table,
} from '../render/table.js';

const FORMULA_MARK = verificationMark(FORMULA_ONLY);

/** A per-token count: exact digits when whole, else six decimals (it is a fraction of B*T). */
function rationalCell(value: Rational): Cell {
  return value.denominator === 1n ? value.numerator : fixed(value.numerator, value.denominator, 6);
}

/** "0.9644x": value / reference to four decimals. */
const ratioText = (value: Rational): Cell => ratioCell(value.numerator, value.denominator, 4);

function siOf(unit: 'FLOP' | 'MAC' | 'parameters', value: bigint): string {
  if (unit === 'FLOP') return formatFlops(value);
  if (unit === 'MAC') return formatMacs(value);
  return formatCountSi(value);
}

function conventionsTable(conventions: CountingConventions, verifiedAs?: string): Table {
  return {
    title: `The same model counted under each convention (${runLabel(conventions.run)})`,
    columns: [
      { header: 'convention' },
      { header: 'count', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'vs default', align: 'right' },
      { header: 'what it counts' },
      ...(verifiedAs === undefined ? [] : [{ header: 'verified' }]),
    ],
    rows: conventions.counts.map((count): Cell[] => [
      count.label,
      count.value,
      siOf(count.unit, count.value),
      count.ratioToDefault === undefined ? '' : ratioText(count.ratioToDefault),
      count.note,
      // Only the default count is what the trace checks; the others are derived from it by formula.
      ...(verifiedAs === undefined ? [] : [count.key === 'flops' || count.key === 'macs' ? verifiedAs : FORMULA_MARK]),
    ]),
    notes: [
      'Default: forward matmuls at 2 FLOPs per multiply-add, the attention core as the run computes it ' +
        (conventions.attentionCore.counted === 'dense'
          ? '(dense: every T x T score, then the mask)'
          : '(blocked: the blocks the mask empties are skipped)') +
        ', the embedding as a lookup (no matmul), logits (lm_head) included.',
    ],
  };
}

/**
 * The attention core alone, each way of counting it side by side: dense and blocked (what
 * kernels compute), the exact useful count (what the model needs), the shorthand half; with
 * each one's ratio to dense and to the useful count.
 */
function attentionCoreTable(conventions: CountingConventions, verifiedAs?: string): Table {
  const core = conventions.attentionCore;
  const { block } = core.blocked;
  const windowed = core.useful !== core.causalTriangle;
  const rows: { label: string; value: bigint; counts: string; computed: boolean }[] = [
    {
      label: 'dense',
      value: core.full,
      counts: 'every T x T score, then the mask',
      computed: core.counted === 'dense',
    },
    {
      label: `blocked, ${block} x ${block} blocks`,
      value: core.blocked.flops,
      counts: 'every score of the blocks the mask does not empty, partly masked blocks in full',
      computed: core.counted === 'blocked',
    },
    {
      label: windowed ? 'useful: the window band' : 'useful: the causal triangle',
      value: core.useful,
      counts: windowed ? 'min(q + 1, w) keys for query q on a layer with window w' : 'q + 1 keys for query q: T(T+1)/2',
      computed: false,
    },
    ...(windowed
      ? [
          {
            label: 'causal triangle (no window)',
            value: core.causalTriangle,
            counts: 'T(T+1)/2 scores',
            computed: false,
          },
        ]
      : []),
    { label: 'half', value: core.half, counts: 'T^2/2 scores, the shorthand', computed: false },
  ];
  const ratio = (value: bigint, reference: bigint): Cell =>
    reference === 0n ? '' : ratioText({ numerator: value, denominator: reference });
  return {
    title: 'Attention core (q @ k^T and P @ v), counted each way',
    columns: [
      { header: 'counted as' },
      { header: 'FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'vs dense', align: 'right' },
      { header: 'vs useful', align: 'right' },
      { header: 'what it counts' },
      ...(verifiedAs === undefined ? [] : [{ header: 'verified' }]),
    ],
    rows: rows.map((row): Cell[] => [
      row.computed ? `${row.label} (this run)` : row.label,
      row.value,
      formatFlops(row.value),
      ratio(row.value, core.full),
      ratio(row.value, core.useful),
      row.counts,
      ...(verifiedAs === undefined ? [] : [row.computed ? verifiedAs : FORMULA_MARK]),
    ]),
    notes: [
      'Kernels compute dense or blocked; the useful count is what the mask keeps, a labelled alternative, never the default.',
    ],
  };
}

function perTokenSi(value: Rational): string {
  return formatSi(value.numerator / value.denominator, 'FLOP');
}

function publishedTable(conventions: CountingConventions, verifiedAs?: string): Table {
  return {
    title: `Published approximations per token against flopledger's exact count (T = ${groupDigits(BigInt(conventions.run.seq))})`,
    columns: [
      { header: 'approximation' },
      { header: 'formula' },
      { header: 'estimates' },
      { header: 'N counts' },
      { header: 'estimate', align: 'right' },
      { header: 'exact', align: 'right' },
      { header: 'exact is' },
      { header: 'estimate / exact', align: 'right' },
      ...(verifiedAs === undefined ? [] : [{ header: 'exact verified' }]),
    ],
    rows: conventions.published.map((approximation): Cell[] => [
      approximation.name,
      approximation.formula,
      approximation.quantity,
      approximation.parameters,
      approximation.value,
      rationalCell(approximation.exact),
      approximation.exactLabel,
      ratioText(approximation.ratio),
      ...(verifiedAs === undefined ? [] : [exactVerification(approximation, verifiedAs)]),
    ]),
    notes: [...new Set(conventions.published.map((approximation) => approximation.source))].map(
      (source) => `Source: ${source}.`,
    ),
  };
}

/** The training count is 3 x the forward count: a trace can back the forward part only; the 3x is a rule. */
function exactVerification(approximation: PublishedApproximation, verifiedAs: string): string {
  if (approximation.quantity !== 'training FLOPs per token' || verifiedAs === FORMULA_MARK) return verifiedAs;
  return `${verifiedAs} forward; x3 by rule`;
}

export function conventionsBlocks(conventions: CountingConventions, verifiedAs?: string): Block[] {
  const { config, run } = conventions;
  const perToken = conventions.published.find((approximation) => approximation.key === 'kaplan_forward')?.exact;
  return [
    heading(`Counting conventions for ${modelLabel(config)}, ${runLabel(run)}`),
    paragraph(
      `${dimensionsLabel(config)}. flopledger's forward count is ${groupDigits(conventions.forwardFlops)} FLOPs ` +
        `(${formatFlops(conventions.forwardFlops)})` +
        (perToken === undefined ? '' : `, ${perTokenSi(perToken)} per token`) +
        '. Every other count below changes one convention at a time.',
    ),
    tableBlock(conventionsTable(conventions, verifiedAs)),
    tableBlock(attentionCoreTable(conventions, verifiedAs)),
    tableBlock(publishedTable(conventions, verifiedAs)),
  ];
}

/** What `flops --conventions --format json` writes: every count, its parts, and the published approximations. */
export function conventionsData(conventions: CountingConventions) {
  return {
    model: configJson(conventions.config),
    run: conventions.run,
    counts: conventions.counts.map(({ key, ...count }) => ({ convention: key, ...count })),
    attentionCore: conventions.attentionCore,
    embedding: conventions.embedding,
    lmHeadFlops: conventions.lmHeadFlops,
    parameters: conventions.parameters,
    published: conventions.published.map((approximation) => ({
      approximation: approximation.key,
      name: approximation.name,
      source: approximation.source,
      formula: approximation.formula,
      quantity: approximation.quantity,
      parameters: approximation.parameters,
      valuePerToken: approximation.value,
      exactPerToken: approximation.exact,
      exactIs: approximation.exactLabel,
      ratio: approximation.ratio,
    })),
  };
}

export type ConventionsData = ReturnType<typeof conventionsData>;

/** What `flops <model> --conventions` prints. */
export function conventionsReport(conventions: CountingConventions): Report<ConventionsData> {
  return { blocks: conventionsBlocks(conventions), json: conventionsData(conventions) };
}
