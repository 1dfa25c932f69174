import { sixNComparison } from '../../analytic/conventions/index.js';
import { summarizeParameters } from '../../analytic/index.js';
import { trainReport, type Assumption } from '../../views/train_report.js';
import {
  adamwUpdateFlops,
  backwardFlopBreakdown,
  backwardToForwardRatio,
  largestBatch,
  runTime,
  trainingMemory,
  trainingMemoryPolynomial,
  tracedStepPeaks,
  trainingStepFlops,
} from '../../analytic/training/index.js';
import { exampleHelp, type CommandContext, type RegisterCommand } from '../command_context.js';
import {
  parseByteSize,
  parseChoice,
  parseMfu,
  parsePeakFlops,
  parsePositiveInteger,
  describeChoices,
  CHECKPOINT_CHOICES,
  type Choices,
} from '../flags.js';
import { deviceById, DEVICES } from '../../analytic/devices.js';
import {
  CHECKPOINTING,
  largestMicroBatch,
  PRECISIONS,
  trainingAtScale,
  type PrecisionName,
  type ZeroStage,
} from '../../analytic/training/index.js';
import { trainScaleReport } from '../../views/train_scale_report.js';
import type { ModelConfig, RunShape } from '../../config/model_config.js';
import { InputError } from '../../core/errors.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  addRunShapeOptions,
  depthOf,
  loadModelRun,
  MODEL_ARGUMENT_HELP,
  writeReport,
  type ModelReportOptions,
} from '../options.js';

/**
 * Defaults are the course's question: 400K steps on a device with 19.5 TFLOP/s fp32 peak (an
 * A100) at 50% MFU, in 80 GB. They are applied here rather than by commander so the report can
 * say which figures were assumed and which were given.
 */
const DEFAULTS = { memory: '80GB', steps: '400000', peakFlops: '19.5T', mfu: '0.5' } as const;

type TrainOptions = ModelReportOptions &
  ScaleOptions & { memory?: string; steps?: string; peakFlops?: string; mfu?: string };

/** The flags of the at-scale accounting; giving any of them switches `train` to it. */
interface ScaleOptions {
  devices?: string;
  zero?: string;
  tp?: string;
  pp?: string;
  sp?: boolean;
  checkpoint?: string;
  precision?: string;
  microBatches?: string;
  device?: string;
}

const SCALE_FLAGS: readonly (readonly [keyof ScaleOptions, string])[] = [
  ['devices', '--devices'],
  ['zero', '--zero'],
  ['tp', '--tp'],
  ['pp', '--pp'],
  ['sp', '--sp'],
  ['checkpoint', '--checkpoint'],
  ['precision', '--precision'],
  ['microBatches', '--micro-batches'],
  ['device', '--device'],
];

const SCALE_DEFAULT_DEVICE = 'h100-sxm';

const ZERO_CHOICES: Choices<'0' | '1' | '2' | '3'> = {
  noun: 'a ZeRO stage',
  meanings: {
    '0': 'plain data parallelism',
    '1': 'optimizer states partitioned',
    '2': 'gradients too',
    '3': 'weights too, as FSDP',
  },
};
const PRECISION_CHOICES: Choices<PrecisionName> = {
  noun: 'a training precision',
  meanings: {
    fp32: '16 bytes per parameter',
    'bf16-mixed': 'bf16 weights and gradients, fp32 master weights and AdamW moments',
    'fp16-mixed': 'as bf16-mixed in fp16',
    'fp32-adam8bit': 'fp32 weights, 8-bit AdamW moments',
    'bf16-mixed-adam8bit': 'bf16-mixed with 8-bit AdamW moments',
    'fp16-mixed-adam8bit': 'fp16-mixed with 8-bit AdamW moments',
  },
};
// The choices above must name every policy and precision the library knows, no more.
const CHOICE_LISTS_MATCH =
  Object.keys(CHECKPOINT_CHOICES.meanings).join() === CHECKPOINTING.join() &&
  Object.keys(PRECISION_CHOICES.meanings).join() === PRECISIONS.join();
if (!CHOICE_LISTS_MATCH) throw new Error('train: the --checkpoint or --precision choices differ from the library');

/** The at-scale flags the command line gave, as they were typed. */
function scaleFlagsGiven(options: ScaleOptions): string[] {
  return SCALE_FLAGS.filter(([key]) => options[key] !== undefined).map(([, flag]) => flag);
}

/**
 * Per-device accounting at scale: analytic only. The single-device flags that have no meaning
 * here (the run time's) are refused rather than ignored; --memory replaces the device's memory.
 */
function trainAtScale(config: ModelConfig, run: RunShape, options: TrainOptions, context: CommandContext): void {
  const unused = (
    [
      ['steps', '--steps'],
      ['peakFlops', '--peak-flops'],
      ['mfu', '--mfu'],
    ] as const
  ).filter(([key]) => options[key] !== undefined);
  if (unused.length > 0) {
    const flags = unused.map(([, flag]) => flag).join(' and ');
    throw new InputError(
      `${flags}: the run time is not part of the per-device accounting (asked for by ${scaleFlagsGiven(options).join(', ')}); ` +
        `leave out ${flags}, or the at-scale flags`,
    );
  }
  if (options.memory !== undefined && options.device !== undefined) {
    throw new InputError(
      `--memory ${options.memory} and --device ${options.device} both give the device's memory; give only one`,
    );
  }
  const defaults: string[] = [];
  const integer = (raw: string | undefined, flag: string, fallback: number, why: string): number => {
    if (raw !== undefined) return parsePositiveInteger(raw, flag);
    defaults.push(`${flag} ${fallback} (${why})`);
    return fallback;
  };
  const choice = <T extends string>(raw: string | undefined, flag: string, choices: Choices<T>, fallback: T): T => {
    if (raw !== undefined) return parseChoice(raw, flag, choices);
    defaults.push(`${flag} ${fallback} (${choices.meanings[fallback]})`);
    return fallback;
  };
  const tp = integer(options.tp, '--tp', 1, 'no tensor parallelism');
  const pp = integer(options.pp, '--pp', 1, 'no pipeline parallelism');
  const devices = integer(options.devices, '--devices', tp * pp, 'tp x pp: one data-parallel replica');
  const zeroStage = Number(choice(options.zero, '--zero', ZERO_CHOICES, '0')) as ZeroStage;
  const checkpointing = choice(options.checkpoint, '--checkpoint', CHECKPOINT_CHOICES, 'none');
  const precision = choice(options.precision, '--precision', PRECISION_CHOICES, 'fp32');
  const microBatches = integer(
    options.microBatches,
    '--micro-batches',
    pp,
    'pp, the fewest that fill the 1F1B pipeline',
  );
  const device =
    options.memory !== undefined
      ? undefined
      : options.device === undefined
        ? deviceById(SCALE_DEFAULT_DEVICE)
        : deviceById(options.device);
  if (options.memory === undefined && options.device === undefined) {
    defaults.push(`--device ${SCALE_DEFAULT_DEVICE} (${device?.memory.printed ?? ''})`);
  }
  const memoryBytes = device?.memory.value ?? parseByteSize(options.memory ?? '', '--memory');
  const scaleOptions = {
    devices,
    tensorParallel: tp,
    pipelineParallel: pp,
    sequenceParallel: options.sp === true,
    zeroStage,
    precision,
    checkpointing,
    microBatches,
    syntax: 'flags' as const,
  };
  const scale = trainingAtScale(config, run, scaleOptions);
  const largest = largestMicroBatch(config, run.seq, scaleOptions, memoryBytes);
  const report = trainScaleReport({ config, depth: depthOf(options), scale, largest, device, memoryBytes, defaults });
  writeReport(context, report, options.format);
}

function assumed<T>(raw: string | undefined, fallback: string, parse: (text: string) => T): Assumption<T> {
  return { value: parse(raw ?? fallback), isDefault: raw === undefined };
}

export const registerTrain: RegisterCommand = (program, context) => {
  const command = program
    .command('train')
    .description(
      'one AdamW training step: backward FLOPs, memory in B, the largest batch, run time; ' +
        'per device at scale with --devices, --zero, --tp, --pp, --sp, --checkpoint, --precision, --micro-batches or --device',
    )
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      '\nAt scale: any of --devices, --zero, --tp, --pp, --sp, --checkpoint, --precision, --micro-batches or\n' +
        '--device switches train to the per-device accounting, which is analytic only (no model runs):\n' +
        'memory per device by pipeline stage (weights, gradients, optimizer states, activations), the\n' +
        'largest micro-batch (--batch sequences of --seq tokens) that fits the device, and the bytes each\n' +
        'device sends per step. --memory replaces the device memory; --steps, --peak-flops and --mfu\n' +
        'do not apply there.',
    )
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger train gpt2-xl --batch 1024',
        'flopledger train gpt2-xl --batch 8 --memory 40GB --steps 100000 --peak-flops 312T --mfu 40% --depth 3',
        'flopledger train llama-2-7b --devices 64 --zero 3 --tp 8 --pp 4 --checkpoint selective --precision bf16-mixed',
      ),
    );
  addRunShapeOptions(command);
  command
    .option(
      '--memory <size>',
      `device memory for the largest batch, e.g. 80GB (10^9 bytes) or 80GiB (default ${DEFAULTS.memory})`,
    )
    .option('--steps <n>', `training steps of the run (default ${DEFAULTS.steps})`)
    .option(
      '--peak-flops <rate>',
      `device peak FLOP/s: 19.5T, 19.5e12 or 19500000000000 (default ${DEFAULTS.peakFlops})`,
    )
    .option('--mfu <fraction>', `model FLOPs utilization: 0.5 or 50% (default ${DEFAULTS.mfu})`)
    .option('--devices <n>', 'devices in all: data x tensor x pipeline parallel (default tp x pp)')
    .option('--zero <stage>', `ZeRO stage over the data-parallel devices: ${describeChoices(ZERO_CHOICES)} (default 0)`)
    .option('--tp <n>', 'tensor-parallel devices, splitting whole heads and FFN columns (default 1)')
    .option('--pp <n>', 'pipeline stages, an equal number of blocks each, 1F1B schedule (default 1)')
    .option('--sp', 'sequence parallelism over the tensor-parallel devices')
    .option('--checkpoint <policy>', `activation checkpointing: ${describeChoices(CHECKPOINT_CHOICES)} (default none)`)
    .option(
      '--precision <name>',
      `weights, gradients and optimizer states: ${describeChoices(PRECISION_CHOICES)} (default fp32)`,
    )
    .option('--micro-batches <n>', 'micro-batches per step per data-parallel replica (default pp)')
    .option(
      '--device <id>',
      `the device the largest micro-batch must fit: ${DEVICES.map((entry) => entry.id).join(', ')} (default ${SCALE_DEFAULT_DEVICE})`,
    );
  addDepthOption(
    command,
    '0 summary, 1 components and memory parts, 2 per layer, 3 every backward matmul and saved activation',
  );
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: TrainOptions) => {
    const { config, run } = loadModelRun(model, options, context);
    if (scaleFlagsGiven(options).length > 0) {
      trainAtScale(config, run, options, context);
      return;
    }
    const memoryBudget = assumed(options.memory, DEFAULTS.memory, (text) => parseByteSize(text, '--memory'));
    const steps = assumed(options.steps, DEFAULTS.steps, (text) => BigInt(parsePositiveInteger(text, '--steps')));
    const peakFlopsPerSecond = assumed(options.peakFlops, DEFAULTS.peakFlops, (text) =>
      parsePeakFlops(text, '--peak-flops'),
    );
    const mfu = assumed(options.mfu, DEFAULTS.mfu, (text) => parseMfu(text, '--mfu'));

    const step = trainingStepFlops(config, run);
    const report = trainReport({
      config,
      run,
      depth: depthOf(options),
      backward: backwardFlopBreakdown(config, run),
      ratios: backwardToForwardRatio(config, run),
      sixN: sixNComparison(config, run),
      adamw: adamwUpdateFlops(summarizeParameters(config).total),
      step,
      memory: trainingMemory(config, run),
      stepPeaks: tracedStepPeaks(config, run),
      polynomial: trainingMemoryPolynomial(config, run.seq),
      memoryBudget,
      largest: largestBatch(config, run.seq, memoryBudget.value),
      steps,
      peakFlopsPerSecond,
      mfu,
      time: runTime({
        stepFlops: step.total,
        steps: steps.value,
        peakFlopsPerSecond: peakFlopsPerSecond.value,
        mfu: mfu.value,
      }),
    });
    writeReport(context, report, options.format);
  });
};
