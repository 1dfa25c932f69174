import { sweepModels } from '../../analytic/index.js';
import { compareReport } from '../../views/compare_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import {
  addFormatOption,
  addModelOverrideOptions,
  addRunShapeOptions,
  fitRunShape,
  loadModels,
  writeReport,
  type FormatOptions,
  type ModelOverrideOptions,
  type RunShapeOptions,
} from '../options.js';

export const registerCompare: RegisterCommand = (program, context) => {
  const command = program
    .command('compare')
    .description('several models side by side: parameters, forward FLOPs and component shares')
    .argument(
      '[models...]',
      'preset names or JSON config paths (after the --config file, if given); override flags apply to each',
    )
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger compare gpt2-small gpt2-medium gpt2-large gpt2-xl',
        'flopledger compare gpt2-small gpt2-xl --seq 512',
      ),
    );
  addRunShapeOptions(command);
  addModelOverrideOptions(command);
  addFormatOption(command).action(
    (models: string[], options: ModelOverrideOptions & RunShapeOptions & FormatOptions) => {
      const fitted = loadModels(models, options, context).map((config) => fitRunShape(config, options, context));
      const runs = new Map(fitted.map(({ config, run }) => [config, run]));
      const points = sweepModels(
        fitted.map(({ config }) => config),
        (config) => runs.get(config)!,
      );
      writeReport(context, compareReport(points), options.format);
    },
  );
};
