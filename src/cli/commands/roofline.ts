import {
  DEVICE_DTYPES,
  DEVICES,
  deviceById,
  predictRoofline,
  forwardKernelCosts,
  tokensOf,
  type DeviceDtype,
  type KernelList,
  type RooflineOptions,
} from '../../analytic/index.js';
import { decodeGenerationKernelCosts, prefillKernelCosts } from '../../analytic/inference/index.js';
import { trainingStepKernelCosts } from '../../analytic/training/step_kernels.js';
import { applyOverrides, architectureOf, type ModelConfig, type RunShape } from '../../config/index.js';
import { closestMatch } from '../../config/did_you_mean.js';
import { InputError } from '../../core/errors.js';
import { moduleKindOf, rollUp } from '../../core/module_paths.js';
import type { Rational } from '../../core/exact.js';
import { devicesReport } from '../../views/devices_report.js';
import { rooflineReport, type RooflineMode, type Stated } from '../../views/roofline_report.js';
import { exampleHelp, type CommandContext, type RegisterCommand } from '../command_context.js';
import {
  parseChoice,
  parseMfu,
  parseMicroseconds,
  parsePositiveInteger,
  parseWholeRate,
  describeChoices,
  type Choices,
} from '../flags.js';
import { ERROR_PREFIX } from '../io.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  depthOf,
  fitRunShape,
  loadModel,
  MODEL_ARGUMENT_HELP,
  writeReport,
  type FormatOptions,
  type ModelReportOptions,
} from '../options.js';

const MODE_CHOICES: Choices<RooflineMode> = {
  noun: 'a mode',
  meanings: {
    forward: 'one forward pass over --batch x --seq tokens',
    train: 'one training step: forward, backward matmuls, AdamW',
    prefill: 'the forward pass over --prompt tokens and the KV cache writes',
    decode: '--generate decode steps after a --prompt prefill',
  },
};

const DTYPE_CHOICES: Choices<DeviceDtype> = {
  noun: 'a dtype of the device table',
  meanings: {
    fp32: '4 bytes, the non-tensor peak',
    tf32: '4 bytes, the tf32 matrix peak',
    bf16: '2 bytes',
    fp16: '2 bytes',
    fp8: '1 byte',
    int8: '1 byte',
  },
};

type RooflineFlags = ModelReportOptions & {
  device?: string;
  mode: string;
  dtype: string;
  prompt?: string;
  generate?: string;
  computeEfficiency?: string;
  memoryEfficiency?: string;
  launchUs?: string;
  peakFlops?: string;
  vectorFlops?: string;
  bandwidth?: string;
};

/** Flags that belong to other modes, refused rather than silently ignored. */
const MODE_FLAGS: Readonly<Record<RooflineMode, readonly ('seq' | 'prompt' | 'generate')[]>> = {
  forward: ['seq'],
  train: ['seq'],
  prefill: ['prompt'],
  decode: ['prompt', 'generate'],
};

function refuseOtherModesFlags(flags: RooflineFlags, mode: RooflineMode): void {
  for (const name of ['seq', 'prompt', 'generate'] as const) {
    if (flags[name] === undefined || MODE_FLAGS[mode].includes(name)) continue;
    const modes = (Object.keys(MODE_FLAGS) as RooflineMode[]).filter((entry) => MODE_FLAGS[entry].includes(name));
    throw new InputError(
      `--${name} ${flags[name]}: applies to --mode ${modes.join(' or ')}, not --mode ${mode}; ` +
        `drop --${name} or use --mode ${modes[0]!}`,
    );
  }
}

function required(raw: string | undefined, flag: string, mode: RooflineMode, example: number): number {
  if (raw === undefined) throw new InputError(`${flag} is required with --mode ${mode}; use e.g. ${flag} ${example}`);
  return parsePositiveInteger(raw, flag);
}

/**
 * The model fitted to P + G positions, as `infer` fits it: a RoPE model past its context is counted
 * with the context raised (a note says so); a learned position table is refused with the --ctx fix.
 */
function fitPositions(config: ModelConfig, needed: number, typed: string, context: CommandContext): ModelConfig {
  const ctx = config.context_length;
  if (needed <= ctx) return config;
  if (architectureOf(config).positions === 'learned') {
    throw new InputError(
      `${typed} needs ${needed} positions, past the context length of ${config.name} (${ctx}), and its learned ` +
        `position table has one row per position; add --ctx ${needed}, or use at most ${ctx} positions`,
    );
  }
  context.io.stderr(
    `${ERROR_PREFIX}note: ${typed} needs ${needed} positions, past ${config.name}'s context_length ${ctx}; ` +
      `counted with the context raised to ${needed} (as --ctx ${needed})\n`,
  );
  return applyOverrides(config, { context_length: needed });
}

/** An unknown --device: the ids it begins, else the closest id, else deviceById's list of every id. */
function refuseUnknownDevice(raw: string): void {
  const ids = DEVICES.map((device) => device.id);
  if (ids.includes(raw)) return;
  const prefixed = ids.filter((id) => id.startsWith(raw.toLowerCase()));
  const close = closestMatch(raw, ids);
  const guesses = prefixed.length > 0 ? prefixed : close === undefined ? [] : [close];
  if (guesses.length === 0) return;
  throw new InputError(
    `--device: unknown device "${raw}"; did you mean ${guesses.map((id) => `--device ${id}`).join(' or ')}? ` +
      '(`flopledger devices` lists them all)',
  );
}

function stated<T>(raw: string | undefined, parse: (text: string) => T, fallback: T): Stated<T> {
  return raw === undefined ? { value: fallback, isDefault: true } : { value: parse(raw), isDefault: false };
}

/** --depth as module groups: 1 each kind of module across layers, 2 each layer, 3 every path. */
function groupOf(depth: number): (modulePath: string) => string {
  if (depth === 1) return moduleKindOf;
  if (depth === 2) return (modulePath) => rollUp(modulePath, 2);
  return (modulePath) => modulePath;
}

interface Workload {
  readonly config: ModelConfig;
  readonly list: KernelList;
  readonly tokens: bigint;
  readonly run: string;
  readonly runJson: Record<string, unknown>;
  readonly steps?: number;
}

function workloadOf(
  model: string | undefined,
  flags: RooflineFlags,
  mode: RooflineMode,
  dtype: DeviceDtype,
  context: CommandContext,
): Workload {
  const loaded = loadModel(model, flags, context);
  if (mode === 'forward' || mode === 'train') {
    const { config, run } = fitRunShape(loaded, flags, context);
    const list =
      mode === 'forward' ? forwardKernelCosts(config, run, dtype) : trainingStepKernelCosts(config, run, dtype);
    return { config, list, tokens: tokensOf(run), run: runWords(run), runJson: { batch: run.batch, seq: run.seq } };
  }
  const batch = flags.batch === undefined ? 1 : parsePositiveInteger(flags.batch, '--batch');
  const prompt = required(flags.prompt, '--prompt', mode, 512);
  if (mode === 'prefill') {
    const config = fitPositions(loaded, prompt, `--prompt ${prompt}`, context);
    return {
      config,
      list: prefillKernelCosts(config, batch, prompt, dtype),
      tokens: BigInt(batch) * BigInt(prompt),
      run: `batch ${batch}, prompt ${prompt}`,
      runJson: { batch, prompt },
    };
  }
  const generate = required(flags.generate, '--generate', mode, 128);
  const config = fitPositions(loaded, prompt + generate, `--prompt ${prompt} --generate ${generate}`, context);
  return {
    config,
    list: decodeGenerationKernelCosts(config, { batch, prompt, generate }, dtype),
    tokens: BigInt(batch) * BigInt(generate),
    run: `batch ${batch}, ${generate} tokens decoded after a prompt of ${prompt}`,
    runJson: { batch, prompt, generate },
    steps: generate,
  };
}

function runWords(run: RunShape): string {
  return `batch ${run.batch} x ${run.seq} tokens`;
}

export const registerRoofline: RegisterCommand = (program, context) => {
  const command = program
    .command('roofline')
    .description('predicted time on a named device, kernel by kernel: bound, time and share per module, MFU')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger roofline llama-3-8b --device h100-sxm --seq 4096',
        'flopledger roofline llama-3-8b --device a100-80gb-sxm --mode decode --prompt 4096 --generate 128 --batch 8',
        'flopledger roofline gpt2-xl --device l4 --mode train --batch 8 --seq 1024 --compute-efficiency 0.5',
      ),
    )
    .option('--device <id>', 'a device of the table (see `flopledger devices`), e.g. h100-sxm (required)')
    .option('--mode <mode>', `what runs: ${describeChoices(MODE_CHOICES)}`, 'forward')
    .option(
      '--dtype <dtype>',
      `the matmul dtype, whose dense peak and width apply: ${DEVICE_DTYPES.join(', ')}`,
      'bf16',
    )
    .option('--batch <n>', 'sequences per batch (default 1)')
    .option('--seq <n>', 'tokens per sequence, --mode forward and train (default: the context length)')
    .option('--prompt <n>', 'prompt tokens per sequence, --mode prefill and decode')
    .option('--generate <n>', 'decode steps, one token per sequence each, --mode decode')
    .option('--compute-efficiency <fraction>', "fraction of the peak FLOP/s a kernel reaches (default: the device's)")
    .option('--memory-efficiency <fraction>', "fraction of the bandwidth a kernel reaches (default: the device's)")
    .option('--launch-us <us>', "launch cost per kernel in microseconds (default: the device's)")
    .option('--peak-flops <rate>', 'the matmul peak in FLOP/s, in place of the table, e.g. 989.4T')
    .option('--vector-flops <rate>', 'the peak non-matmul kernels run at, in place of the fp32 figure, e.g. 66.9T')
    .option('--bandwidth <rate>', 'the memory bandwidth in bytes/s, in place of the table, e.g. 3.35T');
  addDepthOption(command, '0 totals, 1 each module kind across layers, 2 per layer, 3 every module');
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, flags: RooflineFlags) => {
    if (flags.device === undefined) {
      throw new InputError(
        `--device is required: the accelerator to predict for; use e.g. --device h100-sxm (one of ${DEVICES.map((device) => device.id).join(', ')})`,
      );
    }
    refuseUnknownDevice(flags.device);
    const device = deviceById(flags.device);
    const mode = parseChoice(flags.mode, '--mode', MODE_CHOICES);
    const dtype = parseChoice(flags.dtype, '--dtype', DTYPE_CHOICES);
    refuseOtherModesFlags(flags, mode);
    const fractionOf = (flag: string) => (text: string) => parseMfu(text, flag);
    const computeEfficiency = stated<Rational>(
      flags.computeEfficiency,
      fractionOf('--compute-efficiency'),
      device.defaults.computeEfficiency,
    );
    const memoryEfficiency = stated<Rational>(
      flags.memoryEfficiency,
      fractionOf('--memory-efficiency'),
      device.defaults.memoryEfficiency,
    );
    const launchSeconds = stated<Rational>(
      flags.launchUs,
      (text) => parseMicroseconds(text, '--launch-us'),
      device.defaults.launchSeconds,
    );
    const options: RooflineOptions = {
      dtype,
      computeEfficiency: computeEfficiency.value,
      memoryEfficiency: memoryEfficiency.value,
      launchSeconds: launchSeconds.value,
      kernels: false,
      ...(flags.peakFlops === undefined
        ? {}
        : { peakFlopsPerSecond: parseWholeRate(flags.peakFlops, '--peak-flops', 'FLOP/s', '989.4T') }),
      ...(flags.vectorFlops === undefined
        ? {}
        : { vectorFlopsPerSecond: parseWholeRate(flags.vectorFlops, '--vector-flops', 'FLOP/s', '66.9T') }),
      ...(flags.bandwidth === undefined
        ? {}
        : { bandwidthBytesPerSecond: parseWholeRate(flags.bandwidth, '--bandwidth', 'bytes/s', '3.35T') }),
    };
    const depth = depthOf(flags);
    const workload = workloadOf(model, flags, mode, dtype, context);
    const group = groupOf(depth);
    const grouped = {
      ...workload.list,
      kernels: workload.list.kernels.map((kernel) => ({ ...kernel, path: group(kernel.path) })),
    };
    const prediction = predictRoofline(
      grouped,
      device,
      depth === 0 ? { ...options, depth: 0 } : options,
      workload.tokens,
    );
    writeReport(
      context,
      rooflineReport({
        config: workload.config,
        device,
        mode,
        run: workload.run,
        runJson: workload.runJson,
        prediction,
        ...(workload.steps === undefined ? {} : { steps: workload.steps }),
        depth,
        computeEfficiency,
        memoryEfficiency,
        launchSeconds,
      }),
      flags.format,
    );
  });
};

export const registerDevices: RegisterCommand = (program, context) => {
  const command = program
    .command('devices')
    .description('the device table: dense peaks per dtype, bandwidth, memory, ridge points, each with its source')
    .addHelpText('after', exampleHelp('flopledger devices', 'flopledger devices --format json'));
  addFormatOption(command).action((options: FormatOptions) => {
    writeReport(context, devicesReport(DEVICES), options.format);
  });
};
