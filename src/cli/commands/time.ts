import { refuseBeforeStart } from '../../runtime/memory_guard.js';
import { sweepPoints } from '../../timing/sweep.js';
import { exampleHelp, type RegisterCommand } from '../command_context.js';
import { parsePositiveInteger, parseSweep } from '../flags.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  addModelRunOptions,
  addRunShapeOptions,
  depthOf,
  fitRunShape,
  loadModel,
  loadModelRun,
  MODEL_ARGUMENT_HELP,
  modelRunOptionsOf,
  writeReport,
  type ModelReportOptions,
  type ModelRunFlags,
} from '../options.js';

type TimeOptions = ModelReportOptions &
  ModelRunFlags & { runs?: string; warmup?: string; sweep?: string; calibrate: boolean };

export const registerTime: RegisterCommand = (program, context) => {
  const command = program
    .command('time')
    .description(
      'time forward passes: wall time, tokens/s, GFLOP/s against a calibrated matmul, time shares against FLOP shares',
    )
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger time tiny',
        'flopledger time gpt2-small --layers 2 --seq 128 --depth 2',
        'flopledger time tiny --sweep seq=16,32,64 --format json',
        'flopledger time tiny --sweep model=tiny,gpt2-small --seq 32',
      ),
    );
  addRunShapeOptions(command);
  addModelRunOptions(command, 'meta computes nothing, so it cannot be timed')
    .option('--runs <n>', 'timed runs (default: as many as fill about 3 s, at least 3)')
    .option('--warmup <n>', 'untimed runs first (default: at least 2, and more until 0.5 s has passed)')
    .option(
      '--sweep <axis=values>',
      'time a series and fit time against FLOPs: seq=64,128,256 | batch=1,2,4 | model=tiny,gpt2-small (<model> is the first point)',
    )
    .option('--no-calibrate', 'skip the bare-matmul calibration');
  addDepthOption(command, '0 wall time and rates, 1 time shares per component, 2 per layer, 3 per module');
  addModelOverrideOptions(command);
  addFormatOption(command).action(async (model: string | undefined, options: TimeOptions) => {
    const count = (raw: string | undefined, flag: string) =>
      raw === undefined ? undefined : parsePositiveInteger(raw, flag);
    const timingOptions = {
      ...modelRunOptionsOf(options, context),
      runs: count(options.runs, '--runs'),
      warmup: count(options.warmup, '--warmup'),
      calibrate: options.calibrate,
    };
    if (options.sweep !== undefined) {
      const points = sweepPoints(
        parseSweep(options.sweep),
        model,
        (nameOrPath) => loadModel(nameOrPath, options, context),
        (config, axis, value) =>
          fitRunShape(config, axis === undefined ? options : { ...options, [axis]: String(value) }, context),
      );
      refuseBeforeStart(timingOptions, 'timing', points);
      const { timeSweep, sweepTimingReport } = await timingModules();
      writeReport(context, sweepTimingReport(await timeSweep(points, timingOptions)), options.format);
      return;
    }
    const shape = loadModelRun(model, options, context);
    refuseBeforeStart(timingOptions, 'timing', [shape]);
    const { timeModel, timeReport } = await timingModules();
    const timed = await timeModel({ ...shape, ...timingOptions });
    writeReport(context, timeReport(timed, depthOf(options)), options.format);
  });
};

/**
 * The timing runs and their reports, imported once a model is to run: they load TensorFlow.js,
 * which a run the guard refuses never needs.
 */
async function timingModules() {
  const [{ timeModel, timeSweep }, { timeReport, sweepTimingReport }] = await Promise.all([
    import('../../timing/time_model.js'),
    import('../../views/time_report.js'),
  ]);
  return { timeModel, timeSweep, timeReport, sweepTimingReport };
}
