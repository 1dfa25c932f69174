import { refuseBeforeStart } from '../../runtime/memory_guard.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  addModelRunOptions,
  addAttentionOptions,
  addRunShapeOptions,
  depthOf,
  loadModelRun,
  MODEL_ARGUMENT_HELP,
  modelRunOptionsOf,
  writeReport,
  type ModelReportOptions,
  type ModelRunFlags,
} from '../options.js';

type TraceOptions = ModelReportOptions & ModelRunFlags;

export const registerTrace: RegisterCommand = (program, context) => {
  const command = program
    .command('trace')
    .description('run one forward pass under the tracer: every kernel with its module path, shapes and FLOPs')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger trace tiny',
        'flopledger trace gpt2-small --seq 128 --depth 2',
        'flopledger trace gpt2-xl --backend meta --format json > trace.json',
      ),
    );
  addRunShapeOptions(command);
  addAttentionOptions(command);
  addModelRunOptions(command);
  addDepthOption(command, '0 total, 1 top-level modules, 2 per layer, 3 every kernel', 3);
  addModelOverrideOptions(command);
  addFormatOption(command).action(async (model: string | undefined, options: TraceOptions) => {
    const { config, run } = loadModelRun(model, options, context);
    const runOptions = modelRunOptionsOf(options, context);
    // A real run that cannot fit is refused before TensorFlow.js loads.
    refuseBeforeStart(runOptions, 'forward', [{ config, run }]);
    // TensorFlow.js loads only once a model is to run, so the counting commands start fast.
    const [{ traceForward }, { traceReport }] = await Promise.all([
      import('../../runtime/traced_run.js'),
      import('../../views/trace_report.js'),
    ]);
    const traced = await traceForward({ config, run, ...runOptions });
    writeReport(context, traceReport(traced, depthOf(options)), options.format);
  });
};
