import { parameterMemory, summarizeParameters } from '../../analytic/index.js';
import { memoryReport } from '../../views/memory_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import {
  addFormatOption,
  addModelOverrideOptions,
  loadModel,
  MODEL_ARGUMENT_HELP,
  writeReport,
  type FormatOptions,
  type ModelOverrideOptions,
} from '../options.js';

export const registerMemory: RegisterCommand = (program, context) => {
  const command = program
    .command('memory')
    .description('bytes to hold the weights in fp32, fp16, bf16 and int8')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText('after', exampleHelp('flopledger memory gpt2-xl', 'flopledger memory gpt2-xl --d-ff-rule swiglu'));
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: ModelOverrideOptions & FormatOptions) => {
    const config = loadModel(model, options, context);
    const report = memoryReport({
      config,
      parameters: summarizeParameters(config).total,
      memory: parameterMemory(config),
    });
    writeReport(context, report, options.format);
  });
};
