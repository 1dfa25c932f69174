import { sweepSequenceLengths } from '../../analytic/index.js';
import { sweepReport } from '../../views/sweep_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { parseIntegerList, parsePositiveInteger } from '../flags.js';
import {
  addFormatOption,
  addModelOverrideOptions,
  loadModel,
  MODEL_ARGUMENT_HELP,
  refuseContextBoundGrowth,
  writeReport,
  type FormatOptions,
  type ModelOverrideOptions,
} from '../options.js';

type SweepOptions = ModelOverrideOptions & FormatOptions & { seq: string; batch?: string };

export const registerSweep: RegisterCommand = (program, context) => {
  const command = program
    .command('sweep')
    .description('forward FLOPs of one model over several sequence lengths (the context is raised to fit)')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .requiredOption('--seq <list>', 'comma-separated sequence lengths, e.g. 1024,2048,4096')
    .option('--batch <n>', 'sequences per batch (default 1)')
    .addHelpText('after', exampleHelp('flopledger sweep gpt2-xl --seq 1024,2048,4096,8192,16384'));
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: SweepOptions) => {
    const seqs = parseIntegerList(options.seq, '--seq');
    const batch = options.batch === undefined ? 1 : parsePositiveInteger(options.batch, '--batch');
    const config = loadModel(model, options, context);
    // The report says how each point's context was raised; a raise that would grow the parameters is refused.
    refuseContextBoundGrowth(config, Math.max(...seqs));
    writeReport(context, sweepReport(config, sweepSequenceLengths(config, seqs, batch)), options.format);
  });
};
