// The modules themselves, not the analytic barrel: a count should load only what it uses (start-up, README).
import { parameterMemory } from '../../analytic/memory.js';
import { summarizeParameters } from '../../analytic/parameters.js';
import { paramsReport } from '../../views/params_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  depthOf,
  loadModel,
  MODEL_ARGUMENT_HELP,
  writeReport,
  type DepthOptions,
  type FormatOptions,
  type ModelOverrideOptions,
} from '../options.js';

type ParamsOptions = ModelOverrideOptions & FormatOptions & DepthOptions;

export const registerParams: RegisterCommand = (program, context) => {
  const command = program
    .command('params')
    .description('count trainable parameters by component, per layer and in total')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp('flopledger params gpt2-xl', 'flopledger params gpt2-small --depth 3 --format csv'),
    );
  addDepthOption(command, '0 total, 1 components, 2 per layer x component, 3 every weight with its shape');
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: ParamsOptions) => {
    const config = loadModel(model, options, context);
    const report = paramsReport({
      config,
      summary: summarizeParameters(config),
      memory: parameterMemory(config),
      depth: depthOf(options),
    });
    writeReport(context, report, options.format);
  });
};
