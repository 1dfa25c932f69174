/**
 * The decode verification report (`verify --decode`): one row per traced pass, the prefill and
 * every decode step, with its matmuls against the formulas and the bytes its cache holds beside
 * the KV-cache formula's; every mismatch on one line naming its pass; and a verdict line.
 */
import { modelLabel } from '../config/model_config.js';
import { groupDigits } from '../core/format.js';
import { describeMaskMismatch } from '../verify/mask_check.js';
import { describeMismatch } from '../verify/matmul_check.js';
import type { DecodeVerifyReport, PassCheck } from '../verify/verify_decode.js';
import { describeWorkMismatch } from '../verify/work_check.js';
import { describeRoutingMismatch } from '../verify/routing_check.js';
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
import { configJson, dimensionsLabel } from './labels.js';
import { MATCH_MARK, matmulCheckTable } from './matmul_check_table.js';

/** "prefill" or "step 3". */
function passLabel(pass: PassCheck): string {
  return pass.step === 0 ? 'prefill' : `step ${pass.step}`;
}

/** Every mismatch of a pass, one line each, named by the pass. */
function passMismatches(pass: PassCheck): string[] {
  const label = passLabel(pass);
  const lines = [
    ...pass.matmuls.mismatches.map(describeMismatch),
    ...(pass.masks?.mismatches.map(describeMaskMismatch) ?? []),
    ...pass.work.mismatches.map(describeWorkMismatch),
    ...(pass.routing?.mismatches ?? []).map(describeRoutingMismatch),
  ];
  if (pass.matmulKernelCount !== pass.expectedMatmulKernelCount) {
    lines.push(`${pass.matmulKernelCount} matmul kernels traced, ${pass.expectedMatmulKernelCount} expected`);
  }
  if (pass.cache.measured !== pass.cache.formula) {
    lines.push(
      `kv cache: expected ${groupDigits(pass.cache.formula)} bytes (the formula at context ${pass.cache.context}); ` +
        `the cache's tensors hold ${groupDigits(pass.cache.measured)}`,
    );
  }
  return lines.map((line) => `${label}: ${line}`);
}

function passes(report: DecodeVerifyReport): PassCheck[] {
  return [report.prefill, ...report.steps];
}

/**
 * The last line:
 *   verified: prefill and 16 decode steps, 3,617 of 3,617 matmuls match exactly (... FLOPs), the cache as the formula after every pass, on meta
 */
function decodeVerdictLine(report: DecodeVerifyReport): string {
  const all = passes(report);
  const expected = all.reduce((total, pass) => total + pass.matmuls.expectedCount, 0);
  const matched = all.reduce((total, pass) => total + pass.matmuls.matchedCount, 0);
  const expectedFlops = all.reduce((total, pass) => total + pass.matmuls.expectedTotal, 0n);
  const tracedFlops = all.reduce((total, pass) => total + pass.matmuls.tracedTotal, 0n);
  const what = `prefill and ${report.steps.length} decode step${report.steps.length === 1 ? '' : 's'}`;
  if (report.ok) {
    return (
      `verified: ${what}, ${groupDigits(BigInt(matched))} of ${groupDigits(BigInt(expected))} matmuls match exactly ` +
      `(${groupDigits(expectedFlops)} FLOPs), the KV cache as the formula after every pass, on ${report.backend.name}`
    );
  }
  const failed = all.filter((pass) => !pass.ok).map(passLabel);
  const cacheFailures = all.filter((pass) => pass.cache.measured !== pass.cache.formula).length;
  return (
    `NOT verified: ${what}, ${groupDigits(BigInt(matched))} of ${groupDigits(BigInt(expected))} expected matmuls match exactly; ` +
    `${failed.length} pass${failed.length === 1 ? '' : 'es'} differ (${failed.join(', ')})` +
    `${cacheFailures === 0 ? '' : `; the KV cache differs from the formula after ${cacheFailures}`}; ` +
    `traced ${groupDigits(tracedFlops)} FLOPs, expected ${groupDigits(expectedFlops)}, on ${report.backend.name}`
  );
}

function passTable(report: DecodeVerifyReport): Table {
  return {
    title: 'Prefill and decode steps: formulas against the trace',
    columns: [
      { header: 'pass' },
      { header: 'cached before', align: 'right' },
      { header: 'new tokens', align: 'right' },
      { header: 'matmuls matched', align: 'right' },
      { header: 'expected FLOPs', align: 'right' },
      { header: 'traced FLOPs', align: 'right' },
      { header: 'KV cache bytes (formula)', align: 'right' },
      { header: 'KV cache bytes (measured)', align: 'right' },
      { header: 'result' },
    ],
    rows: passes(report).map((pass) => [
      passLabel(pass),
      pass.cached,
      pass.tokens,
      `${pass.matmuls.matchedCount} of ${pass.matmuls.expectedCount}`,
      pass.matmuls.expectedTotal,
      pass.matmuls.tracedTotal,
      pass.cache.formula,
      pass.cache.measured,
      pass.ok ? MATCH_MARK : '✗ differs',
    ]),
    notes: [
      'Each step feeds one new token per sequence, attending over the cache and itself; its matmuls are the forward ' +
        "pass's at one token, the core's over the keys the layer keeps (P + N, or min(P, w - 1) + N with a window w).",
      'The cache is measured as the bytes its fp32 tensors hold after the pass, all sequences, against the KV-cache ' +
        'formula at that context in fp32.',
    ],
  };
}

function passData(pass: PassCheck) {
  return {
    pass: passLabel(pass),
    cached: pass.cached,
    newTokens: pass.tokens,
    ok: pass.ok,
    matmuls: {
      expectedCount: pass.matmuls.expectedCount,
      matchedCount: pass.matmuls.matchedCount,
      expectedTotal: pass.matmuls.expectedTotal,
      tracedTotal: pass.matmuls.tracedTotal,
    },
    matmulKernelCount: pass.matmulKernelCount,
    expectedMatmulKernelCount: pass.expectedMatmulKernelCount,
    cache: { context: pass.cache.context, formulaBytes: pass.cache.formula, measuredBytes: pass.cache.measured },
    mismatches: passMismatches(pass),
  };
}

function decodeVerificationData(report: DecodeVerifyReport) {
  return {
    model: configJson(report.config),
    request: report.request,
    backend: { name: report.backend.name, description: report.backend.description },
    ok: report.ok,
    verdict: decodeVerdictLine(report),
    passes: passes(report).map(passData),
  };
}

/**
 * The report of one decode verification, from the verdict (depth 0) down to the last step's every matmul (depth 3).
 * @public (loaded by the CLI through a dynamic import)
 */
export function decodeVerificationReport(
  report: DecodeVerifyReport,
  depth: Depth,
): Report<ReturnType<typeof decodeVerificationData>> {
  const { batch, prompt, generate, newTokens } = report.request;
  const blocks: Block[] = [
    heading(
      `Decode verification of ${modelLabel(report.config)}, batch ${batch}, prompt ${prompt}, ` +
        `${generate} step${generate === 1 ? '' : 's'} of ${newTokens} token${newTokens === 1 ? '' : 's'}, on ${report.backend.name}`,
    ),
    paragraph(`${dimensionsLabel(report.config)}; ${report.backend.description}.`),
  ];
  if (depth >= 1) blocks.push(tableBlock(passTable(report)));
  const last = report.steps.at(-1);
  if (depth >= 3 && last !== undefined) {
    blocks.push(tableBlock(matmulCheckTable(`Every matmul of ${passLabel(last)}`, last.matmuls.checks)));
  }
  const mismatches = passes(report).flatMap(passMismatches);
  if (mismatches.length > 0) blocks.push(heading('Mismatches', 3), list(mismatches));
  blocks.push(paragraph(decodeVerdictLine(report)));
  return { blocks, json: decodeVerificationData(report) };
}
