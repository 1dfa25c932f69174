import { forwardFlopBreakdown } from '../../analytic/index.js';
import { countingConventions } from '../../analytic/conventions/index.js';
import { conventionsReport } from '../../views/conventions_report.js';
import { flopsReport } from '../../views/flops_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  addAttentionOptions,
  addRunShapeOptions,
  depthOf,
  loadModelRun,
  MODEL_ARGUMENT_HELP,
  writeReport,
  type ModelReportOptions,
} from '../options.js';

type FlopsOptions = ModelReportOptions & { macs?: boolean; conventions?: boolean };

export const registerFlops: RegisterCommand = (program, context) => {
  const command = program
    .command('flops')
    .description('forward-pass matmul FLOPs, from the total down to every matmul')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp('flopledger flops gpt2-xl --depth 1', 'flopledger flops gpt2-xl --seq 16384 --depth 2 --macs'),
    );
  addRunShapeOptions(command);
  addAttentionOptions(command);
  addDepthOption(command, '0 total, 1 components, 2 per layer x component, 3 every matmul');
  command.option('--macs', 'also show multiply-accumulates (half the FLOPs)');
  command.option(
    '--conventions',
    'count under each convention (MACs, causal attention, embedding, logits, N) beside Kaplan, PaLM and 6N',
  );
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: FlopsOptions) => {
    const { config, run } = loadModelRun(model, options, context);
    if (options.conventions === true) {
      return writeReport(context, conventionsReport(countingConventions(config, run)), options.format);
    }
    const report = flopsReport({
      config,
      breakdown: forwardFlopBreakdown(config, run),
      depth: depthOf(options),
      showMacs: options.macs === true,
    });
    writeReport(context, report, options.format);
  });
};
