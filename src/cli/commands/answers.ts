import { forwardFlopBreakdown, parameterMemory, summarizeParameters, sweepModels, sweepSequenceLengths } from '../../analytic/index.js';
import { loadModelConfig, resolveRunShape } from '../../config/index.js';
import { answersReport } from '../../report/answers_report.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { addFormatOption, writeReport, type FormatOptions } from '../options.js';

/** The seed problem's models: (a)-(c) and (e) use the largest; (d) compares all four. */
const ANSWER_MODEL = 'gpt2-xl';
const SIZE_SERIES = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
const LONG_CONTEXT = 16_384;

export const registerAnswers: RegisterCommand = (program, context) => {
  const command = program
    .command('answers')
    .description("the transformer accounting problem's deliverables (a)-(e), every number computed")
    .addHelpText('after', exampleHelp('flopledger answers > answers.md', 'flopledger answers --format json'));
  addFormatOption(command, ['markdown', 'json'], 'markdown').action((options: FormatOptions) => {
    const config = loadModelConfig(ANSWER_MODEL);
    const [atContext, atLongContext] = sweepSequenceLengths(config, [config.context_length, LONG_CONTEXT]);
    const report = answersReport({
      model: {
        config,
        summary: summarizeParameters(config),
        memory: parameterMemory(config),
        breakdown: forwardFlopBreakdown(config, resolveRunShape(config)),
      },
      sizes: sweepModels(SIZE_SERIES.map((name) => loadModelConfig(name))),
      longContext: [atContext!, atLongContext!],
    });
    writeReport(context, report, options.format);
  });
};
