/**
 * The seed problem and the report about it: GPT-2 XL at its context, the four GPT-2 sizes,
 * GPT-2 XL at 16,384 tokens and GPT-2 XL from 1K to 64K tokens, every count computed here from
 * the presets (nothing is read from the seed's notebook). `answers` prints the answers,
 * `report` verifies every run they rest on and writes them with charts, and both start from
 * the one seedAnswersInput below.
 */
import {
  forwardFlopBreakdown,
  parameterMemory,
  summarizeParameters,
  sweepModels,
  sweepSequenceLengths,
  type SweepPoint,
} from '../analytic/index.js';
import { countingConventions, type CountingConventions } from '../analytic/conventions/index.js';
import { loadModelConfig, resolveRunShape } from '../config/index.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { InputError, UnavailableError } from '../core/errors.js';
import { groupDigits } from '../core/format.js';
import type { ReportDocument } from '../render/document.js';
import type { Report } from '../render/table.js';
import type { BackendChoice } from '../runtime/backend.js';
import { describeMismatch } from '../verify/matmul_check.js';
import type { VerifyReport } from '../verify/verify_model.js';
import { answersReport, type AnswersData, type AnswersInput } from './answers_report.js';
import { buildReportDocument } from './document.js';
import type { TimingData } from './timing_input.js';
import { anyMismatch, type RunVerification, type Verification } from './verification_marks.js';

/** (a)-(c) and (e) are about GPT-2 XL; (d) compares the four GPT-2 sizes. */
const REPORT_MODEL = 'gpt2-xl';
const SIZE_SERIES = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] as const;
const LONG_CONTEXT = 16_384;
/** 1K to 64K tokens, doubling. */
const CONTEXT_SERIES = [1024, 2048, 4096, 8192, 16_384, 32_768, 65_536] as const;

/** What the answers (a)-(e) are computed from. */
function seedAnswersInput(): AnswersInput {
  const config = loadModelConfig(REPORT_MODEL);
  const [atContext, atLongContext] = sweepSequenceLengths(config, [config.context_length, LONG_CONTEXT]);
  return {
    model: {
      config,
      summary: summarizeParameters(config),
      memory: parameterMemory(config),
      breakdown: forwardFlopBreakdown(config, resolveRunShape(config)),
    },
    sizes: sweepModels(SIZE_SERIES.map((name) => loadModelConfig(name))),
    longContext: [atContext!, atLongContext!],
  };
}

/** The seed problem's deliverables (a)-(e): what `answers` prints, and the bare command after its verifications. */
export function seedAnswers(): Report<AnswersData> {
  return answersReport(seedAnswersInput());
}

export interface ReportData {
  readonly answers: AnswersInput;
  readonly contextSweep: readonly SweepPoint[];
  readonly conventions: CountingConventions;
}

export function collectReportData(): ReportData {
  const answers = seedAnswersInput();
  const { config, breakdown } = answers.model;
  return {
    answers,
    contextSweep: sweepSequenceLengths(config, [...CONTEXT_SERIES]),
    conventions: countingConventions(config, breakdown.run),
  };
}

/** Every distinct model and run whose counts the report shows, in the order the report first uses them. */
export function reportRuns(data: ReportData): { config: ModelConfig; run: RunShape }[] {
  const candidates = [
    { config: data.answers.model.config, run: data.answers.model.breakdown.run },
    ...data.answers.sizes,
    ...data.answers.longContext,
    ...data.contextSweep,
  ].map((point) => ({ config: point.config, run: point.run }));
  const seen = new Set<string>();
  return candidates.filter(({ config, run }) => {
    const key = `${config.name}|${config.num_layers}|${config.d_model}|${config.num_heads}|${config.d_ff}|${config.vocab_size}|${run.batch}|${run.seq}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Trace each run on `backend` and compare every matmul with the formulas. A run the backend
 * cannot hold (a real backend refuses what would not fit in memory) is marked formula only, with
 * the reason; a backend that is not installed stops the report.
 */
async function verifyReportRuns(data: ReportData, backend: BackendChoice): Promise<RunVerification[]> {
  // Loaded here: the verifier brings TensorFlow.js, which only a traced run needs.
  const { verifyModel } = await import('../verify/verify_model.js');
  const verifications: RunVerification[] = [];
  for (const { config, run } of reportRuns(data)) {
    let verification: Verification;
    try {
      verification = traceVerification(await verifyModel({ config, run, backend }));
    } catch (error) {
      if (!(error instanceof InputError) || error instanceof UnavailableError) throw error;
      verification = { method: 'formula', reason: `not traced: ${error.problems[0] ?? error.message}` };
    }
    verifications.push({ config, run, verification });
  }
  return verifications;
}

function traceVerification(report: VerifyReport): Verification {
  const { matmuls } = report;
  const detail = report.ok
    ? `${matmuls.matchedCount} of ${matmuls.expectedCount} matmuls match exactly, ${groupDigits(matmuls.tracedTotal)} FLOPs`
    : mismatchDetail(report);
  return { method: 'trace', backend: report.backend.name, ok: report.ok, detail };
}

function mismatchDetail(report: VerifyReport): string {
  const first = report.matmuls.mismatches[0];
  const kernels =
    report.matmulKernelCount === report.expectedMatmulKernelCount
      ? ''
      : `${report.matmulKernelCount} matmul kernels ran, ${report.expectedMatmulKernelCount} expected; `;
  const mismatches = `${report.matmuls.mismatches.length} of ${report.matmuls.expectedCount} matmuls differ`;
  return `${kernels}${mismatches}${first === undefined ? '' : `, first ${describeMismatch(first)}`}`;
}

/** The seed report, verified on `backend`: its document, and whether any traced run differed from the formulas. */
export async function seedReport(options: {
  readonly backend: BackendChoice;
  readonly timing?: TimingData;
}): Promise<{ document: ReportDocument; mismatch: boolean }> {
  const data = collectReportData();
  const verifications = await verifyReportRuns(data, options.backend);
  return {
    document: buildReportDocument({ ...data, verifications, timing: options.timing }),
    mismatch: anyMismatch(verifications),
  };
}
