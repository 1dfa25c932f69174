import { summarizeParameters } from '../../analytic/index.js';
import { listPresets, loadModelConfig } from '../../config/index.js';
import { modelsReport } from '../../views/models_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { addFormatOption, writeReport, type FormatOptions } from '../options.js';

export const registerModels: RegisterCommand = (program, context) => {
  const command = program
    .command('models')
    .description('list the bundled model presets with their dimensions and parameter counts')
    .addHelpText('after', exampleHelp('flopledger models', 'flopledger models --format json'));
  addFormatOption(command).action((options: FormatOptions) => {
    const models = listPresets().map((name) => {
      const config = loadModelConfig(name);
      return { config, parameters: summarizeParameters(config).total };
    });
    writeReport(context, modelsReport(models), options.format);
  });
};
