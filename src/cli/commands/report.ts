import { resolve } from 'node:path';
import { ExitCode } from '../../core/errors.js';
import { reportFiles } from '../../render/report_files.js';
import { checkOutputDirectory, writeFilesAtomically } from '../../render/write_report_files.js';
import { seedReport } from '../../views/report_data.js';
import { readTimingData } from '../../views/timing_input.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { parseBackend } from '../flags.js';
import { addBackendOption } from '../options.js';

interface ReportOptions {
  out: string;
  timing?: string;
  backend: string;
}

export const registerReport: RegisterCommand = (program, context) => {
  const command = program
    .command('report')
    .description(
      'write report.md and report.html: answers (a)-(e) with verification marks, charts, counting conventions',
    )
    .option('--out <dir>', 'directory to write the report into (created if absent)', 'report')
    .option('--timing <file>', "the timing command's JSON output, for a time-against-FLOPs chart")
    .addHelpText(
      'after',
      exampleHelp('flopledger report --out report', 'flopledger report --out report --timing timing.json'),
    );
  addBackendOption(
    command,
    'meta',
    'every run is traced on it; a real one computes, slow for large models, and a run that cannot fit is marked formula only',
  ).action(async (options: ReportOptions) => {
    // Bad input is refused before any counting or drawing, and nothing is written.
    checkOutputDirectory(options.out, '--out');
    const backend = parseBackend(options.backend);
    const timing = options.timing === undefined ? undefined : readTimingData(options.timing);
    const report = await seedReport({ backend, timing });
    const written = await writeFilesAtomically(options.out, await reportFiles(report.document), '--out');
    context.io.stdout(
      `wrote ${written.length} files to ${resolve(options.out)}:\n${written.map((p) => `  ${p}\n`).join('')}`,
    );
    if (report.mismatch) context.setExitCode(ExitCode.mismatch);
  });
};
