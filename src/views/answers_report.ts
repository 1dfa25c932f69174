/**
 * The seed problem's deliverables (a)-(e), written from computed results only: every number is
 * formatted from an exact count, and every comparative word ("most", "grows", "faster than") is
 * chosen by comparing exact counts, so the prose cannot drift from the arithmetic.
 */
import {
  componentsIn,
  describeShift,
  ratio,
  share,
  type ComponentShift,
  type FlopBreakdown,
  type MatmulComponent,
  type MemoryRow,
  type ParameterSummary,
  type SweepPoint,
} from '../analytic/index.js';
import { type ModelConfig, modelLabel } from '../config/model_config.js';
import { layerIndexOf, withinLayer } from '../core/module_paths.js';
import {
  formatCountSi,
  formatFlops,
  formatGibibytes,
  formatGigabytes,
  formatRatioOf,
  formatShare,
  groupDigits,
} from '../core/format.js';
import { numericShapes } from './flops_report.js';
import { configJson, dimensionsLabel, flopConventions, matmulComponentLabels } from './labels.js';
import { componentShares, shareColumns, shareCells } from './shares.js';
import { shiftSentence } from './shift_sentences.js';
import { heading, list, paragraph, tableBlock, type Cell, type Report } from '../render/table.js';

export interface AnswersInput {
  /** (a)-(c): the model, its parameters and weight memory, and one forward pass at its context length. */
  readonly model: {
    readonly config: ModelConfig;
    readonly summary: ParameterSummary;
    readonly memory: readonly MemoryRow[];
    readonly breakdown: FlopBreakdown;
  };
  /** (d): models of increasing size, each at its own context length. */
  readonly sizes: readonly SweepPoint[];
  /** (e): the same model at its context length, then at a longer one. */
  readonly longContext: readonly [SweepPoint, SweepPoint];
}

/** "a", "a and b", "a, b and c". */
function joinWords(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

const n = (value: number | bigint) => groupDigits(BigInt(value));
const exactAndSi = (flops: bigint) => `${groupDigits(flops)} FLOPs (${formatFlops(flops)})`;

export function answersReport(input: AnswersInput): Report<AnswersData> {
  const a = answerA(input.model);
  const b = answerB(input.model);
  const c = answerC(input.model);
  const d = answerD(input.sizes);
  const e = answerE(input.longContext);
  return {
    blocks: [
      heading('Transformer LM resource accounting', 1),
      paragraph(flopConventions(answerConfigs(input))),
      ...a.blocks,
      ...b.blocks,
      ...c.blocks,
      ...d.blocks,
      ...e.blocks,
    ],
    json: { a: a.json, b: b.json, c: c.json, d: d.json, e: e.json },
  };
}

/** What `answers --format json` writes: the data behind each of (a)-(e). */
export interface AnswersData {
  readonly a: ReturnType<typeof answerA>['json'];
  readonly b: ReturnType<typeof answerB>['json'];
  readonly c: ReturnType<typeof answerC>['json'];
  readonly d: ReturnType<typeof answerD>['json'];
  readonly e: ReturnType<typeof answerE>['json'];
}

function answerA({ config, summary, memory }: AnswersInput['model']) {
  const fp32 = memory.find((row) => row.dtype === 'fp32');
  if (fp32 === undefined) throw new Error('answers: parameterMemory returned no fp32 row');
  return {
    blocks: [
      heading(`(a) Parameters and memory of ${modelLabel(config)}`),
      paragraph(
        `${modelLabel(config)} (${dimensionsLabel(config)}) has ${n(summary.total)} trainable parameters ` +
          `(${formatCountSi(summary.total)}). In fp32, at ${fp32.bytesPerParameter} bytes each, just loading them takes ` +
          `${n(fp32.bytes)} bytes = ${formatGigabytes(fp32.bytes)} = ${formatGibibytes(fp32.bytes)}.`,
      ),
    ],
    json: {
      model: configJson(config),
      parameters: summary.total,
      byComponent: summary.byComponent,
      fp32Bytes: fp32.bytes,
      fp32Gigabytes: ratio(fp32.bytes, 10n ** 9n),
      fp32Gibibytes: ratio(fp32.bytes, 2n ** 30n),
    },
  };
}

interface MatmulGroup {
  /** "layers.*.attn.q_proj" for a per-layer matmul, the path itself otherwise. */
  readonly name: string;
  readonly component: MatmulComponent;
  readonly description: string;
  readonly symbolicShapes: string;
  readonly numericShapes: string;
  readonly flopsEach: bigint;
  count: number;
  flopsTotal: bigint;
}

/** The forward matmuls with the layers folded: one group per distinct matmul of a block, then lm_head. */
function matmulGroups(breakdown: FlopBreakdown): MatmulGroup[] {
  const groups = new Map<string, MatmulGroup>();
  for (const row of breakdown.rows) {
    const name = layerIndexOf(row.path) === undefined ? row.path : `layers.*.${withinLayer(row.path)}`;
    const group = groups.get(name);
    if (group === undefined) {
      groups.set(name, {
        name,
        component: row.component,
        description: row.description,
        symbolicShapes: row.symbolicShapes,
        numericShapes: numericShapes(row),
        flopsEach: row.flops,
        count: 1,
        flopsTotal: row.flops,
      });
    } else {
      if (row.flops !== group.flopsEach) throw new Error(`answers: ${row.path} differs from the other ${name} matmuls`);
      group.count += 1;
      group.flopsTotal += row.flops;
    }
  }
  return [...groups.values()];
}

function answerB({ config, breakdown }: AnswersInput['model']) {
  const groups = matmulGroups(breakdown);
  const perLayer = groups.filter((group) => group.name.startsWith('layers.*.'));
  const once = groups.filter((group) => !group.name.startsWith('layers.*.'));
  const { batch, seq } = breakdown.run;
  return {
    blocks: [
      heading('(b) Forward-pass matmuls'),
      paragraph(
        `One forward pass of ${modelLabel(config)} over batch ${n(batch)} x ${n(seq)} tokens runs ${perLayer.length} matmuls ` +
          `in each of its ${n(config.num_layers)} layers plus ${once.map((group) => group.name).join(', ')}: ` +
          `${n(breakdown.rows.length)} matmuls in all, totalling ${exactAndSi(breakdown.total)}. ` +
          `Shapes use B=${n(batch)}, T=${n(seq)}, d=${n(config.d_model)}, H=${n(config.num_heads)}, ` +
          `dk=d/H, F=${n(config.d_ff)}, V=${n(config.vocab_size)}; a weight W[in, out] is applied as x @ W.`,
      ),
      tableBlock({
        columns: [
          { header: 'matmul' },
          { header: 'computes' },
          { header: 'shapes' },
          { header: 'numeric shapes' },
          { header: 'FLOPs each', align: 'right' },
          { header: 'count', align: 'right' },
          { header: 'FLOPs', align: 'right' },
          { header: 'share', align: 'right' },
        ],
        rows: groups.map((group): Cell[] => [
          group.name,
          group.description,
          group.symbolicShapes,
          group.numericShapes,
          group.flopsEach,
          BigInt(group.count),
          group.flopsTotal,
          formatShare(group.flopsTotal, breakdown.total),
        ]),
        totals: [
          [
            'total',
            '',
            '',
            '',
            '',
            BigInt(breakdown.rows.length),
            breakdown.total,
            formatShare(breakdown.total, breakdown.total),
          ],
        ],
      }),
    ],
    json: {
      model: configJson(config),
      run: breakdown.run,
      matmuls: groups.map((group) => ({
        matmul: group.name,
        component: group.component,
        description: group.description,
        symbolicShapes: group.symbolicShapes,
        flopsEach: group.flopsEach,
        count: group.count,
        flops: group.flopsTotal,
      })),
      total: breakdown.total,
    },
  };
}

/** Components from most FLOPs to fewest (ties keep component order). */
function rankComponents(breakdown: FlopBreakdown): MatmulComponent[] {
  return componentsIn(breakdown.byComponent).sort((x, y) => {
    const fx = breakdown.byComponent[x];
    const fy = breakdown.byComponent[y];
    return fx > fy ? -1 : fx < fy ? 1 : 0;
  });
}

type ComponentLabels = Readonly<Record<MatmulComponent, string>>;

/** Every model the answers count, for the words that depend on the architecture. */
function answerConfigs(input: AnswersInput): ModelConfig[] {
  return [input.model.config, ...input.sizes.map((point) => point.config), ...input.longContext.map((p) => p.config)];
}

function componentWithShare(component: MatmulComponent, breakdown: FlopBreakdown, labels: ComponentLabels): string {
  return `${labels[component]} ${formatShare(breakdown.byComponent[component], breakdown.total)}`;
}

function answerC({ config, breakdown }: AnswersInput['model']) {
  const labels = matmulComponentLabels([config]);
  const ranking = rankComponents(breakdown);
  const [top, ...rest] = ranking;
  if (top === undefined) throw new Error('answers: no components');
  const tied = rest.filter((component) => breakdown.byComponent[component] === breakdown.byComponent[top]);
  const topShare = formatShare(breakdown.byComponent[top], breakdown.total);
  const lead =
    tied.length === 0
      ? `${labels[top]} takes the most, ${topShare} of forward FLOPs`
      : `${joinWords([top, ...tied].map((component) => labels[component]))} tie for the most, ${topShare} of forward FLOPs each`;
  const others = rest.filter((component) => !tied.includes(component));
  return {
    blocks: [
      heading('(c) Where the FLOPs go'),
      paragraph(
        `In ${modelLabel(config)} at T=${n(breakdown.run.seq)}, ${lead}` +
          (others.length > 0
            ? `; then come ${others.map((component) => componentWithShare(component, breakdown, labels)).join(', ')}.`
            : '.'),
      ),
    ],
    json: {
      ranking: ranking.map((component) => ({
        component,
        flops: breakdown.byComponent[component],
        share: share(breakdown.byComponent[component], breakdown.total),
      })),
    },
  };
}

/** Whether a component's share moves the same way at every step of a sweep, not just end to end. */
function stepPattern(
  points: readonly SweepPoint[],
  component: MatmulComponent,
  overall: ComponentShift['change'],
): string {
  const steps: ComponentShift['change'][] = [];
  for (let i = 1; i < points.length; i++) {
    const step = describeShift(points[i - 1]!, points[i]!).find((shift) => shift.component === component);
    if (step !== undefined) steps.push(step.change);
  }
  if (steps.length <= 1) return '';
  if (steps.every((step) => step === overall))
    return overall === 'unchanged' ? '' : '; it does so at every step in size';
  return `; step by step it ${steps.join(', then ')}`;
}

function answerD(points: readonly SweepPoint[]) {
  const first = points[0];
  const last = points.at(-1);
  if (first === undefined || last === undefined) throw new Error('answers: part (d) needs at least one model');
  const labels = matmulComponentLabels(points.map((point) => point.config));
  const shifts = describeShift(first, last);
  const names = (change: ComponentShift['change']) =>
    shifts.filter((shift) => shift.change === change).map((shift) => labels[shift.component]);
  const more = names('grows');
  const less = names('shrinks');
  const summaryParts = [
    more.length > 0 ? `${joinWords(more)} take${more.length === 1 ? 's' : ''} proportionally more of the FLOPs` : '',
    less.length > 0 ? `${joinWords(less)} take${less.length === 1 ? 's' : ''} proportionally less` : '',
  ].filter((part) => part !== '');
  const ffRule = points.every((point) => point.config.d_ff === 4 * point.config.d_model) ? ' (each with F = 4d)' : '';
  return {
    blocks: [
      heading('(d) How the breakdown changes with model size'),
      paragraph(
        `Forward matmul FLOPs of ${points.map((point) => modelLabel(point.config)).join(', ')}${ffRule}, ` +
          'each over its full context, as shares of the total:',
      ),
      tableBlock({
        columns: [
          { header: 'model' },
          { header: 'L', align: 'right' },
          { header: 'd', align: 'right' },
          { header: 'H', align: 'right' },
          { header: 'F', align: 'right' },
          { header: 'T', align: 'right' },
          { header: 'forward FLOPs', align: 'right' },
          { header: 'approx', align: 'right' },
          ...shareColumns(points.map((point) => point.breakdown)),
        ],
        rows: points.map((point): Cell[] => [
          modelLabel(point.config),
          BigInt(point.config.num_layers),
          BigInt(point.config.d_model),
          BigInt(point.config.num_heads),
          BigInt(point.config.d_ff),
          BigInt(point.run.seq),
          point.breakdown.total,
          formatFlops(point.breakdown.total),
          ...shareCells(
            point.breakdown,
            points.map((p) => p.breakdown),
          ),
        ]),
      }),
      paragraph(
        `From ${modelLabel(first.config)} to ${modelLabel(last.config)}` +
          (summaryParts.length > 0 ? `, ${summaryParts.join(', while ')}.` : ', no component changes its share.'),
      ),
      list(shifts.map((shift) => shiftSentence(shift, labels) + stepPattern(points, shift.component, shift.change))),
    ],
    json: {
      models: points.map((point) => ({
        model: configJson(point.config),
        run: point.run,
        total: point.breakdown.total,
        components: componentShares(point.breakdown),
      })),
      shifts: shifts.map(({ component, fromShare, toShare, change }) => ({ component, fromShare, toShare, change })),
    },
  };
}

/** How a component's FLOPs scale between two sequence lengths, decided exactly. */
function scalingInSeq(shift: ComponentShift, fromSeq: bigint, toSeq: bigint): 'linear' | 'quadratic' | 'other' {
  if (shift.toFlops * fromSeq === shift.fromFlops * toSeq) return 'linear';
  if (shift.toFlops * fromSeq * fromSeq === shift.fromFlops * toSeq * toSeq) return 'quadratic';
  return 'other';
}

function answerE([before, after]: readonly [SweepPoint, SweepPoint]) {
  const labels = matmulComponentLabels([before.config, after.config]);
  const fromSeq = BigInt(before.run.seq);
  const toSeq = BigInt(after.run.seq);
  const shifts = describeShift(before, after);
  const scaled = shifts.map((shift) => ({ shift, scaling: scalingInSeq(shift, fromSeq, toSeq) }));
  const totalVsTokens = after.breakdown.total * fromSeq - before.breakdown.total * toSeq;
  const pace = totalVsTokens > 0n ? 'faster than' : totalVsTokens < 0n ? 'slower than' : 'exactly in step with';
  const scalingGroups = (['quadratic', 'linear', 'other'] as const)
    .map((scaling) => ({
      scaling,
      shifts: scaled.filter((entry) => entry.scaling === scaling).map((entry) => entry.shift),
    }))
    .filter((group) => group.shifts.length > 0)
    .map(({ scaling, shifts: members }) => {
      const factor = formatRatioOf(members[0]!.toFlops, members[0]!.fromFlops);
      const who = joinWords(members.map((shift) => labels[shift.component]));
      const how = scaling === 'quadratic' ? ' (as T^2)' : scaling === 'linear' ? ' (as T)' : '';
      return scaling === 'other'
        ? `${who} change${members.length === 1 ? 's' : ''} by ${members.map((shift) => formatRatioOf(shift.toFlops, shift.fromFlops)).join(', ')}`
        : `${who} grow${members.length === 1 ? 's' : ''} ${factor}${how}`;
    });
  const leader = (point: SweepPoint) => rankComponents(point.breakdown)[0]!;
  const leaderBefore = leader(before);
  const leaderAfter = leader(after);
  const sameParameters = before.parameters === after.parameters;
  const leadSentence =
    leaderBefore === leaderAfter
      ? `${labels[leaderAfter]} stays the largest part (${formatShare(before.breakdown.byComponent[leaderBefore], before.breakdown.total)} -> ${formatShare(after.breakdown.byComponent[leaderAfter], after.breakdown.total)}).`
      : `The largest part changes from ${componentWithShare(leaderBefore, before.breakdown, labels)} at T=${n(fromSeq)} to ` +
        `${componentWithShare(leaderAfter, after.breakdown, labels)} at T=${n(toSeq)}.`;
  return {
    blocks: [
      heading(`(e) ${modelLabel(before.config)} at ${n(toSeq)} tokens`),
      paragraph(
        `With the context length raised to ${n(after.config.context_length)} ` +
          `(${sameParameters ? 'the parameter count is unchanged' : `parameters ${n(before.parameters)} -> ${n(after.parameters)}`}), ` +
          `one forward pass over ${n(toSeq)} tokens takes ${exactAndSi(after.breakdown.total)}, against ` +
          `${exactAndSi(before.breakdown.total)} at ${n(fromSeq)} tokens: ` +
          `${formatRatioOf(after.breakdown.total, before.breakdown.total)} the FLOPs for ${formatRatioOf(toSeq, fromSeq)} the tokens, ` +
          `growing ${pace} the sequence length, because ${scalingGroups.join(' while ')}. ${leadSentence}`,
      ),
      list(shifts.map((shift) => shiftSentence(shift, labels))),
    ],
    json: {
      model: configJson(before.config),
      from: { seq: before.run.seq, total: before.breakdown.total, components: componentShares(before.breakdown) },
      to: {
        seq: after.run.seq,
        contextLength: after.config.context_length,
        total: after.breakdown.total,
        components: componentShares(after.breakdown),
      },
      ratio: ratio(after.breakdown.total, before.breakdown.total),
      shifts: scaled.map(({ shift: { component, fromShare, toShare, change, factor }, scaling }) => ({
        component,
        fromShare,
        toShare,
        change,
        factor,
        scalingInSeq: scaling,
      })),
    },
  };
}
