import { forwardFlopBreakdown } from '../../analytic/index.js';
import { countingConventions } from '../../analytic/conventions/index.js';
import { conventionsReport } from '../../views/conventions_report.js';
import { flopsReport } from '../../views/flops_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { applyOverrides, parsePositiveInteger } from '../../config/index.js';
import type { ModelConfig } from '../../config/model_config.js';
import type { CommandContext } from '../command_context.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  addRunShapeOptions,
  depthOf,
  loadModel,
  MODEL_ARGUMENT_HELP,
  runShapeOf,
  writeReport,
  type ModelReportOptions,
} from '../options.js';

type FlopsOptions = ModelReportOptions & { macs?: boolean; conventions?: boolean };

/**
 * Counting asks "what if": a --seq past the model's context raises the context to fit (as
 * `sweep` does) instead of refusing, with a note saying so. Only the count is affected: a RoPE
 * model has no parameter that depends on the context, and a learned position table grows with
 * it, which `params --ctx` shows. Commands that run the model (trace, verify) still refuse.
 */
function contextForSeq(config: ModelConfig, options: FlopsOptions, context: CommandContext): ModelConfig {
  if (options.seq === undefined || options.ctx !== undefined) return config;
  const seq = parsePositiveInteger(options.seq, '--seq');
  if (seq <= config.context_length) return config;
  context.io.stderr(
    `flopledger: note: --seq ${seq} is past ${config.name}'s context_length ${config.context_length}; ` +
      `counted with the context raised to ${seq} (as --ctx ${seq})\n`,
  );
  return applyOverrides(config, { context_length: seq });
}

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
  addDepthOption(command, '0 total, 1 components, 2 per layer x component, 3 every matmul');
  command.option('--macs', 'also show multiply-accumulates (half the FLOPs)');
  command.option(
    '--conventions',
    'count under each convention (MACs, causal attention, embedding, logits, N) beside Kaplan, PaLM and 6N',
  );
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: FlopsOptions) => {
    const config = contextForSeq(loadModel(model, options, context), options, context);
    const run = runShapeOf(config, options);
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
