import { resolve } from 'node:path';
import { parseBackendChoice, type BackendChoice } from '../../runtime/backend.js';
import type { ModelConfig, RunShape } from '../../config/model_config.js';
import { ExitCode, InputError, UnavailableError } from '../../core/errors.js';
import { groupDigits } from '../../core/format.js';
import { renderChartSvg, timeVsFlopsSpec } from '../../views/charts.js';
import { buildReportDocument, type ReportCharts } from '../../views/document.js';
import { documentFigures } from '../../render/document.js';
import { renderDocumentHtml } from '../../render/document_html.js';
import { renderDocumentMarkdown } from '../../render/document_markdown.js';
import { collectReportData, renderShareCharts, reportRuns } from '../../views/report_data.js';
import { readTimingData, type TimingData } from '../../views/timing_input.js';
import { anyMismatch, type RunVerification, type Verification } from '../../views/verification_marks.js';
import { checkOutputDirectory, writeFilesAtomically, type OutputFile } from '../../render/write_report_files.js';
import { describeMismatch, verifyModel, type VerifyReport } from '../../verify/index.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';

interface ReportOptions {
  out: string;
  timing?: string;
  backend: string;
}

const DEFAULT_OUT = 'report';

const TIMING_HINT =
  'Time a series of forward passes and pass the JSON to the report: ' +
  '`flopledger time tiny --sweep seq=16,32,64 --format json > timing.json`, then ' +
  '`flopledger report --timing timing.json`.';

/** How a run's counts are checked. */
type RunVerifier = (config: ModelConfig, run: RunShape) => Promise<Verification>;

/**
 * Trace each run on `backend` and compare every matmul with the formulas. A run the backend
 * cannot hold (a real backend refuses what would not fit in memory) is reported as formula
 * only, with the reason; a backend that is not installed stops the command.
 */
function traceVerifier(backend: BackendChoice): RunVerifier {
  return async (config, run) => {
    try {
      const report = await verifyModel({ config, run, backend });
      const { matmuls } = report;
      const detail = report.ok
        ? `${matmuls.matchedCount} of ${matmuls.expectedCount} matmuls match exactly, ${groupDigits(matmuls.tracedTotal)} FLOPs`
        : mismatchDetail(report);
      return { method: 'trace', backend: report.backend.name, ok: report.ok, detail };
    } catch (error) {
      if (error instanceof InputError && !(error instanceof UnavailableError)) {
        return { method: 'formula', reason: `not traced: ${error.problems[0] ?? error.message}` };
      }
      throw error;
    }
  };
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

export const registerReport: RegisterCommand = (program, context) => {
  program
    .command('report')
    .description(
      'write report.md and report.html: answers (a)-(e) with verification marks, charts, counting conventions',
    )
    .option('--out <dir>', 'directory to write the report into (created if absent)', DEFAULT_OUT)
    .option('--timing <file>', "the timing command's JSON output, for a time-against-FLOPs chart")
    .option(
      '--backend <name>',
      'backend to trace every run on: meta (shapes only, full-size models in moments), or a real one ' +
        '(auto, wasm, cpu, tensorflow: computes, slow for large models; a run that cannot fit is marked formula only)',
      'meta',
    )
    .addHelpText(
      'after',
      exampleHelp('flopledger report --out report', 'flopledger report --out report --timing timing.json'),
    )
    .action(async (options: ReportOptions) => {
      // Bad input is refused before any counting or drawing, and nothing is written.
      checkOutputDirectory(options.out, '--out');
      const backend = parseBackendChoice(options.backend);
      const timing = options.timing === undefined ? undefined : readTimingData(options.timing);

      const data = collectReportData();
      const verifications = await verifyRuns(reportRuns(data), traceVerifier(backend));
      const charts: ReportCharts = {
        ...(await renderShareCharts(data)),
        ...(timing === undefined ? {} : { timeVsFlops: await renderTimingChart(timing) }),
      };
      const document = buildReportDocument({ ...data, verifications, charts, timing, timingHint: TIMING_HINT });
      const files: OutputFile[] = [
        { name: 'report.md', content: renderDocumentMarkdown(document) },
        { name: 'report.html', content: renderDocumentHtml(document) },
        ...documentFigures(document).map((figure) => ({ name: figure.file, content: figure.svg })),
      ];
      const written = writeFilesAtomically(options.out, files, '--out');
      context.io.stdout(`wrote ${written.length} files to ${resolve(options.out)}:\n`);
      for (const path of written) context.io.stdout(`  ${path}\n`);
      if (anyMismatch(verifications)) context.setExitCode(ExitCode.mismatch);
    });
};

async function verifyRuns(
  runs: readonly { config: ModelConfig; run: RunShape }[],
  verify: RunVerifier,
): Promise<RunVerification[]> {
  const verifications: RunVerification[] = [];
  for (const { config, run } of runs) verifications.push({ config, run, verification: await verify(config, run) });
  return verifications;
}

function renderTimingChart(timing: TimingData): Promise<string> {
  return renderChartSvg(timeVsFlopsSpec(timing.points, timing.backend), 'timing-');
}
