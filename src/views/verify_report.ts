import { architectureOf, modelLabel, type ModelConfig } from '../config/model_config.js';
/**
 * The verification report: expected (analytic) against traced FLOPs side by side, per component,
 * per layer and per matmul; every mismatch on one line; the traced non-matmul work beside its
 * estimate; and a verdict line that names what was checked and where.
 */
import { matmulsPerLayer } from '../analytic/forward_matmuls.js';
import type { MatmulComponent } from '../analytic/types.js';
import { rollUp } from '../core/module_paths.js';
import { describeMaskMismatch } from '../verify/mask_check.js';
import { describeWorkMismatch, type WorkComparison } from '../verify/work_check.js';
import { describeBytesMismatch, type BytesComparison } from '../verify/bytes_check.js';
import { describeMismatch, type MatmulCheck, type MatmulComparison } from '../verify/matmul_check.js';
import { describeRoutingMismatch, type RoutingComparison } from '../verify/routing_check.js';
import type { VerifyReport } from '../verify/verify_model.js';
import { formatFlops, groupDigits } from '../core/format.js';
import { configJson, dimensionsLabel, matmulComponentLabels, runJson, runLabel } from './labels.js';
import { signedCell } from './cells.js';
import { displayText } from '../render/cell_text.js';
import { MATCH_MARK, matmulCheckTable, mismatchSummary } from './matmul_check_table.js';
import {
  heading,
  list,
  paragraph,
  tableBlock,
  type Block,
  type Depth,
  type Report,
  type Table,
} from '../render/table.js';

const DIFFER_MARK = '✗ differs';

/** What the non-matmul estimate is made of, for this architecture. */
function nonMatmulNote(config: ModelConfig): string {
  const architecture = architectureOf(config);
  const parts = [
    architecture.norm === 'rmsnorm' ? 'RMSNorm' : 'LayerNorm',
    ...(architecture.zero_centered_gain ? ['1 + gain'] : []),
    ...(architecture.scale_embeddings ? ['embedding scale'] : []),
    ...(architecture.any_bias ? ['bias adds'] : []),
    ...(architecture.qk_norm ? ['q/k norms'] : []),
    architecture.positions === 'rope' ? 'RoPE' : 'position add',
    'scale and causal mask',
    ...(architecture.attn_softcap !== undefined ? ['attention soft-cap'] : []),
    'softmax',
    ...(architecture.post_norms ? ['post-norms'] : []),
    // SwiGLU gates with SiLU, GeGLU with GELU; the GELU MLP has no gate.
    ...(architecture.ffn === 'swiglu' ? ['SiLU', 'gate'] : architecture.ffn === 'gelu' ? ['GELU'] : ['GELU', 'gate']),
    ...(architecture.moe !== undefined
      ? ['router softmax, top-k and routing weights, each expert on its gathered rows, the weighted scatter back']
      : []),
    'residual adds',
    ...(architecture.final_softcap !== undefined ? ['output soft-cap'] : []),
  ];
  return (
    `The estimate lists the non-matmul kernels the math needs (${parts.join(', ')}), costed by the same rule ` +
    'table as the trace. Every module outside the attention core must do exactly its work (the verdict ' +
    "checks each module's kernels and FLOPs); the core's totals are set beside it."
  );
}

function mark(same: boolean): string {
  return same ? MATCH_MARK : DIFFER_MARK;
}

/** A signed count in a sentence: "+1,234", "-56", "0". */
const signed = (value: bigint): string => displayText(signedCell(value));

/** "19 expected (9 per layer + lm_head)"; a blocked run has two per computed block in place of a layer's two core matmuls. */
function expectedKernelsText(verification: VerifyReport): string {
  const blocked = verification.run.attention?.kind === 'blocked' ? '; the core 2 per computed block' : '';
  if (verification.config.num_experts !== undefined) {
    return `${verification.expectedMatmulKernelCount} expected (per layer as its routing ran, + lm_head${blocked})`;
  }
  return `${verification.expectedMatmulKernelCount} expected (${matmulsPerLayer(verification.config)} per layer + lm_head${blocked})`;
}

/** Every mismatch, matmuls, attention masks, then modules' non-matmul work, one line each. */
function mismatchLines(verification: VerifyReport): string[] {
  return [
    ...verification.matmuls.mismatches.map(describeMismatch),
    ...verification.masks.mismatches.map(describeMaskMismatch),
    ...verification.work.mismatches.map(describeWorkMismatch),
    ...verification.bytes.mismatches.map(describeBytesMismatch),
    ...(verification.routing?.mismatches ?? []).map(describeRoutingMismatch),
  ];
}

/** "; the routing of 1 of 2 MoE layers is wrong", or nothing when every layer routed k experts per token. */
export function routingProblem(routing: RoutingComparison | undefined): string {
  if (routing === undefined || routing.ok) return '';
  return `; the routing of ${routing.mismatches.length} of ${routing.layers.length} MoE layers is wrong`;
}

/** The rows each routed expert received in each MoE layer: the routing the run took, which its matmuls follow. */
function routingTable(routing: RoutingComparison): Table {
  return {
    title: 'Routing: rows per routed expert (the tokens each got), as the run took it',
    columns: [
      { header: 'module' },
      { header: 'rows per expert (expert 0, 1, ...)' },
      { header: 'rows', align: 'right' },
      { header: 'expected (k N)', align: 'right' },
      { header: 'match' },
    ],
    rows: routing.layers.map((check) => [
      check.path,
      check.expertRows.join(', '),
      BigInt(check.tracedRows),
      BigInt(check.expectedRows),
      check.ok ? MATCH_MARK : DIFFER_MARK,
    ]),
  };
}

/** "; the bytes of 2 of 40 modules' kernels differ", or nothing when every kernel's bytes match. */
export function bytesProblem(bytes: BytesComparison, kernels = 'kernels'): string {
  return bytes.ok
    ? ''
    : `; the bytes of ${bytes.mismatches.length} of ${bytes.checks.length} modules' ${kernels} differ`;
}

/** What `--format json` says of a bytes comparison: the traced totals and every mismatch. */
export function bytesData(bytes: BytesComparison) {
  return {
    kernels: bytes.kernels,
    modules: bytes.checks.length,
    readWeights: bytes.tracedTotals.readWeights,
    readActivations: bytes.tracedTotals.readActivations,
    written: bytes.tracedTotals.written,
    byDtype: bytes.byDtype,
    mismatches: bytes.mismatches.map(describeBytesMismatch),
  };
}

/** "; 1 of 41 modules' non-matmul work differs (work)", or nothing when every module matches. */
export function workProblem(work: WorkComparison): string {
  if (work.ok) return '';
  const kinds = [...new Set(work.mismatches.map((check) => check.mismatch))].join(', ');
  return `; ${work.mismatches.length} of ${work.expectedCount} modules' non-matmul work differs (${kinds})`;
}

/**
 * The last line of a verification:
 *   verified: 433 of 433 matmuls match exactly (4,513,336,524,800 FLOPs) on meta
 *   NOT verified: 8 of 9 expected matmuls match exactly; 2 mismatches (1 missing, 1 extra); traced 1,000 FLOPs, expected 900, on cpu
 */
export function verdictLine(verification: VerifyReport): string {
  const { matmuls, backend } = verification;
  if (verification.ok) {
    return (
      `verified: ${matmuls.matchedCount} of ${matmuls.expectedCount} matmuls match exactly ` +
      `(${groupDigits(matmuls.expectedTotal)} FLOPs) on ${backend.name}`
    );
  }
  const kinds = mismatchSummary(matmuls);
  const countProblem =
    verification.matmulKernelCount === verification.expectedMatmulKernelCount
      ? ''
      : `; ${verification.matmulKernelCount} matmul kernels traced, ${expectedKernelsText(verification)}`;
  const { masks } = verification;
  const maskProblem = masks.ok
    ? ''
    : `; ${masks.mismatches.length} of ${masks.expectedCount} expected attention masks differ ` +
      `(${[...new Set(masks.mismatches.map((check) => check.mismatch))].join(', ')})`;
  return (
    `NOT verified: ${matmuls.matchedCount} of ${matmuls.expectedCount} expected matmuls match exactly; ` +
    `${matmuls.mismatches.length} mismatches${matmuls.ok ? '' : ` (${kinds})`}${countProblem}${maskProblem}` +
    `${workProblem(verification.work)}${bytesProblem(verification.bytes)}${routingProblem(verification.routing)}; ` +
    `traced ${groupDigits(matmuls.tracedTotal)} FLOPs, expected ${groupDigits(matmuls.expectedTotal)}, on ${verification.backend.name}`
  );
}

function componentTable(verification: VerifyReport): Table {
  const { matmuls } = verification;
  const labels = matmulComponentLabels([verification.config]);
  return {
    title: 'Matmul FLOPs by component: formulas against the trace',
    columns: [
      { header: 'component' },
      { header: 'expected FLOPs', align: 'right' },
      { header: 'traced FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'match' },
    ],
    rows: matmuls.byComponent.map((entry) => [
      labels[entry.component],
      entry.expected,
      entry.traced,
      formatFlops(entry.traced),
      mark(entry.expected === entry.traced && componentChecksMatch(matmuls.checks, entry.component)),
    ]),
    totals: [
      [
        `total (${matmuls.expectedCount} expected, ${matmuls.tracedCount} traced matmuls)`,
        matmuls.expectedTotal,
        matmuls.tracedTotal,
        formatFlops(matmuls.tracedTotal),
        mark(matmuls.ok),
      ],
    ],
  };
}

/** Equal totals can hide a shape mismatch: a component matches only if each of its checks does. */
function componentChecksMatch(checks: readonly MatmulCheck[], component: MatmulComponent): boolean {
  return checks.every((check) => check.component !== component || check.mismatch === undefined);
}

interface ModuleComparison {
  module: string;
  expected: bigint;
  traced: bigint;
  ok: boolean;
}

function moduleComparisons(checks: readonly MatmulCheck[]): ModuleComparison[] {
  const modules = new Map<string, ModuleComparison>();
  for (const check of checks) {
    const module = rollUp(check.path, 2);
    let entry = modules.get(module);
    if (entry === undefined) {
      entry = { module, expected: 0n, traced: 0n, ok: true };
      modules.set(module, entry);
    }
    entry.expected += check.expected?.flops ?? 0n;
    entry.traced += check.traced?.flops ?? 0n;
    entry.ok &&= check.mismatch === undefined;
  }
  return [...modules.values()];
}

function layerTable(verification: VerifyReport): Table {
  return {
    title: 'Matmul FLOPs by layer',
    columns: [
      { header: 'module' },
      { header: 'expected FLOPs', align: 'right' },
      { header: 'traced FLOPs', align: 'right' },
      { header: 'match' },
    ],
    rows: moduleComparisons(verification.matmuls.checks).map((entry) => [
      entry.module,
      entry.expected,
      entry.traced,
      mark(entry.ok),
    ]),
  };
}

function matmulTable(verification: VerifyReport): Table {
  return matmulCheckTable(
    'Every matmul: inventory row against traced kernel (compared with batch dims folded into rows)',
    verification.matmuls.checks,
  );
}

function nonMatmulTable(verification: VerifyReport): Table {
  const { nonMatmul } = verification;
  return {
    title: 'Non-matmul FLOPs: traced against the analytic estimate',
    columns: [
      { header: 'kernel' },
      { header: 'traced kernels', align: 'right' },
      { header: 'traced FLOPs', align: 'right' },
      { header: 'estimated kernels', align: 'right' },
      { header: 'estimated FLOPs', align: 'right' },
      { header: 'difference', align: 'right' },
    ],
    rows: nonMatmul.byKernel.map((entry) => [
      entry.kernel,
      entry.tracedKernels,
      entry.traced,
      entry.estimatedKernels,
      entry.estimate,
      signedCell(entry.difference),
    ]),
    totals: [['total', '', nonMatmul.traced, '', nonMatmul.estimate, signedCell(nonMatmul.difference)]],
    notes: [nonMatmulNote(verification.config)],
  };
}

/** "traced 1,234 non-matmul FLOPs, estimate 1,234: no difference" or what the difference is made of. */
function nonMatmulSentence(verification: VerifyReport): string {
  const { nonMatmul } = verification;
  const head = `non-matmul FLOPs: traced ${groupDigits(nonMatmul.traced)}, estimate ${groupDigits(nonMatmul.estimate)}`;
  if (nonMatmul.difference === 0n && nonMatmul.byKernel.every((entry) => entry.difference === 0n)) {
    return `${head}: no difference`;
  }
  const parts = nonMatmul.byKernel
    .filter((entry) => entry.difference !== 0n)
    .map((entry) => `${entry.kernel} ${signed(entry.difference)}`);
  if (nonMatmul.difference === 0n) return `${head}: the same total, spent on other kernels: ${parts.join(', ')}`;
  return `${head}: difference ${signed(nonMatmul.difference)}, made of ${parts.join(', ')}`;
}

/** "uncounted kernels (no FLOP rule): none" or "..., Erf x 12, Cumsum x 1". */
function uncountedSentence(verification: VerifyReport): string {
  const uncounted = verification.nonMatmul.uncounted;
  const names =
    uncounted.length === 0 ? 'none' : uncounted.map((entry) => `${entry.kernel} x ${entry.count}`).join(', ');
  return `uncounted kernels (no FLOP rule): ${names}`;
}

function checkData(check: MatmulCheck) {
  return {
    path: check.path,
    component: check.component ?? null,
    status: check.mismatch ?? 'match',
    expected:
      check.expected === undefined
        ? null
        : {
            shapes: check.expected.display,
            symbolicShapes: check.expected.symbolic,
            rows: check.expected.shape.rows,
            k: check.expected.shape.k,
            n: check.expected.shape.n,
            flops: check.expected.flops,
          },
    traced:
      check.traced === undefined
        ? null
        : {
            kernel: check.traced.kernel,
            index: check.traced.index,
            shapes: check.traced.display,
            rows: check.traced.shape.rows,
            k: check.traced.shape.k,
            n: check.traced.shape.n,
            flops: check.traced.flops,
            kernels: check.traced.kernels ?? 1,
          },
  };
}

/** What `verify --format json` writes: the verdict, and every comparison behind it. */
function verificationData(verification: VerifyReport) {
  const { matmuls, nonMatmul } = verification;
  return {
    model: configJson(verification.config),
    run: runJson(verification.run),
    backend: { name: verification.backend.name, description: verification.backend.description },
    ok: verification.ok,
    verdict: verdictLine(verification),
    kernelCount: verification.kernelCount,
    matmulKernelCount: verification.matmulKernelCount,
    expectedMatmulKernelCount: verification.expectedMatmulKernelCount,
    matmuls: {
      expectedCount: matmuls.expectedCount,
      tracedCount: matmuls.tracedCount,
      matchedCount: matmuls.matchedCount,
      expectedTotal: matmuls.expectedTotal,
      tracedTotal: matmuls.tracedTotal,
      byComponent: matmuls.byComponent.map((entry) => ({
        component: entry.component,
        expected: entry.expected,
        traced: entry.traced,
        match: entry.expected === entry.traced && componentChecksMatch(matmuls.checks, entry.component),
      })),
      byModule: moduleComparisons(matmuls.checks),
      checks: matmuls.checks.map(checkData),
      mismatches: matmuls.mismatches.map(describeMismatch),
    },
    masks: {
      expectedCount: verification.masks.expectedCount,
      tracedCount: verification.masks.tracedCount,
      mismatches: verification.masks.mismatches.map(describeMaskMismatch),
    },
    work: {
      expectedCount: verification.work.expectedCount,
      mismatches: verification.work.mismatches.map(describeWorkMismatch),
    },
    routing:
      verification.routing === undefined
        ? undefined
        : {
            layers: verification.routing.layers.map((check) => ({
              path: check.path,
              expertRows: check.expertRows,
              rows: check.tracedRows,
              expectedRows: check.expectedRows,
              match: check.ok,
            })),
            mismatches: verification.routing.mismatches.map((check) => describeRoutingMismatch(check)),
          },
    bytes: bytesData(verification.bytes),
    nonMatmul: {
      traced: nonMatmul.traced,
      estimate: nonMatmul.estimate,
      difference: nonMatmul.difference,
      byKernel: nonMatmul.byKernel.map((entry) => ({
        kernel: entry.kernel,
        tracedRuns: entry.tracedKernels,
        traced: entry.traced,
        estimatedRuns: entry.estimatedKernels,
        estimate: entry.estimate,
        difference: entry.difference,
      })),
      uncounted: nonMatmul.uncounted,
    },
  };
}

export type VerificationData = ReturnType<typeof verificationData>;

/** How many kernels ran the matmuls when some were computed per head: ", run as 31 kernels (scores and weighted sums per head)". */
function dispatchText(matmuls: MatmulComparison): string {
  if (matmuls.tracedCount === matmuls.dispatchCount) return '';
  return `, run as ${matmuls.tracedCount} kernels (the attention core per head)`;
}

/** The side-by-side report of one verification, from the total (depth 0) down to every matmul (depth 3). */
export function verificationReport(verification: VerifyReport, depth: Depth): Report<VerificationData> {
  const { config, run, backend } = verification;
  const blocks: Block[] = [
    heading(`Verification of ${modelLabel(config)}, ${runLabel(run)}, on ${backend.name}`),
    paragraph(
      `${dimensionsLabel(config)}; ${backend.description}. ` +
        `${groupDigits(BigInt(verification.kernelCount))} kernels traced, ${verification.matmulKernelCount} matmuls ` +
        `(${expectedKernelsText(verification)})${dispatchText(verification.matmuls)}.`,
    ),
  ];
  if (depth >= 1) blocks.push(tableBlock(componentTable(verification)));
  if (depth >= 2) blocks.push(tableBlock(layerTable(verification)));
  if (depth >= 3) blocks.push(tableBlock(matmulTable(verification)));
  if (depth >= 2 && verification.routing !== undefined) blocks.push(tableBlock(routingTable(verification.routing)));
  const mismatches = mismatchLines(verification);
  if (mismatches.length > 0) blocks.push(heading('Mismatches', 3), list(mismatches));
  if (depth >= 1) blocks.push(tableBlock(nonMatmulTable(verification)));
  blocks.push(paragraph(nonMatmulSentence(verification)));
  blocks.push(paragraph(uncountedSentence(verification)));
  blocks.push(paragraph(verdictLine(verification)));
  return { blocks, json: verificationData(verification) };
}

/** One verification in the summary of several, with how long it took. */
export interface TimedVerification {
  readonly verification: VerifyReport;
  readonly seconds: number;
}

/**
 * A compact table of several verifications, one row each, and one verdict line per run.
 * @public (loaded by the CLI through a dynamic import)
 */
export function verificationSummaryReport(
  entries: readonly TimedVerification[],
): Report<(VerificationData & { seconds: number })[]> {
  const table: Table = {
    title: 'Verification: formulas against traced forward passes',
    columns: [
      { header: 'model' },
      { header: 'run' },
      { header: 'backend' },
      { header: 'matmuls matched', align: 'right' },
      { header: 'matmul FLOPs', align: 'right' },
      { header: 'approx', align: 'right' },
      { header: 'non-matmul traced', align: 'right' },
      { header: 'result' },
      { header: 'time', align: 'right' },
    ],
    rows: entries.map(({ verification, seconds }) => [
      modelLabel(verification.config),
      runLabel(verification.run),
      verification.backend.name,
      `${verification.matmuls.matchedCount} of ${verification.matmuls.expectedCount}`,
      verification.matmuls.tracedTotal,
      formatFlops(verification.matmuls.tracedTotal),
      verification.nonMatmul.traced,
      verification.ok ? '✓ verified' : '✗ NOT verified',
      `${seconds.toFixed(2)} s`,
    ]),
    notes: [
      'meta traces shapes without data (weights are constants); the other backends compute with seeded random weights.',
    ],
  };
  return {
    blocks: [
      tableBlock(table),
      list(entries.map(({ verification }) => `${modelLabel(verification.config)}: ${verdictLine(verification)}`)),
    ],
    json: entries.map(({ verification, seconds }) => ({ ...verificationData(verification), seconds })),
  };
}
