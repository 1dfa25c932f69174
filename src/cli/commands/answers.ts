import { seedAnswers } from '../../views/report_data.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { addFormatOption, writeReport, type FormatOptions } from '../options.js';

export const registerAnswers: RegisterCommand = (program, context) => {
  const command = program
    .command('answers')
    .description("the transformer accounting problem's deliverables (a)-(e), every number computed")
    .addHelpText('after', exampleHelp('flopledger answers > answers.md', 'flopledger answers --format json'));
  addFormatOption(command, ['markdown', 'json'], 'markdown').action((options: FormatOptions) => {
    writeReport(context, seedAnswers(), options.format);
  });
};
