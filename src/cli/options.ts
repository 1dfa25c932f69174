/**
 * The options commands share, so each flag is spelled, described and read once: the model and
 * its overrides, the run shape, --format, --depth and --backend. Every value is parsed by
 * flags.ts; fixed output choices (--format, --depth) are checked by commander, whose message
 * lists the allowed values.
 *
 * Nothing here loads a backend: a command that runs a model imports the runtime in its action.
 */
import { Option, type Command } from 'commander';
import {
  applyOverrides,
  architectureOf,
  loadModelConfig,
  loadModelConfigFile,
  type ConfigOverrides,
  type OverrideSpelling,
} from '../config/index.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { renderReport, OUTPUT_FORMATS, type OutputFormat } from '../render/render.js';
import { DEPTHS, type Depth, type Report } from '../render/table.js';
import type { BackendChoice } from '../runtime/backend.js';
import { defaultRealRunBudget } from '../runtime/memory_budget.js';
import type { ProgressSink } from '../runtime/progress.js';
import type { RunOptions } from '../runtime/run_options.js';
import type { CommandContext } from './command_context.js';
import { DEFAULT_ATTENTION_BLOCK } from '../config/attention_schedule.js';
import {
  ATTENTION_CHOICES,
  BACKEND_CHOICES,
  D_FF_RULE_CHOICES,
  FFN_CHOICES,
  NORM_CHOICES,
  POSITION_CHOICES,
  describeChoices,
  parseAttention,
  parseBackend,
  parseByteSize,
  parseChoice,
  parsePositiveInteger,
  parseSeed,
  type Choices,
} from './flags.js';
import { ERROR_PREFIX, processIo } from './io.js';

/** The help of the [model] argument of every command that reads one model. */
export const MODEL_ARGUMENT_HELP = 'preset name (see `flopledger models`) or path to a JSON config (or give --config)';

export interface ModelOverrideOptions {
  /** A flopledger config or a Hugging Face config.json, read in place of the model argument. */
  config?: string;
  ctx?: string;
  layers?: string;
  dModel?: string;
  heads?: string;
  dFf?: string;
  vocab?: string;
  dFfRule?: string;
  kvHeads?: string;
  tieEmbeddings?: boolean;
  ffn?: string;
  norm?: string;
  positions?: string;
  bias?: boolean;
  vocabMultiple?: string;
}

/**
 * --config, --ctx, --layers, --d-model, --heads, --kv-heads, --d-ff, --vocab, --vocab-multiple,
 * --d-ff-rule, --ffn, --norm, --positions, --[no-]tie-embeddings, --[no-]bias: name a model by
 * file, and change a preset or file without editing it.
 *
 * With --config the command's model argument (its first) may be left out: a preAction hook
 * requires exactly one of them on a single-model command, and at least one on a command taking
 * several models (where the --config file comes first).
 */
export function addModelOverrideOptions(command: Command): Command {
  return command
    .option(
      '--config <path>',
      'a flopledger JSON config or a Hugging Face config.json (llama, mistral, gpt2), in place of <model>',
    )
    .option('--ctx <n>', 'override context_length (needed for --seq beyond the preset context)')
    .option('--layers <n>', 'override num_layers')
    .option('--d-model <n>', 'override d_model')
    .option('--heads <n>', 'override num_heads')
    .option('--kv-heads <n>', 'override num_kv_heads: key/value heads, a divisor of num_heads (1 = multi-query)')
    .option('--d-ff <n>', 'override d_ff')
    .option('--vocab <n>', 'override vocab_size')
    .option('--vocab-multiple <n>', 'pad the embedding and lm_head rows to a multiple of n')
    .option('--d-ff-rule <rule>', describeChoices(D_FF_RULE_CHOICES))
    .option('--ffn <kind>', describeChoices(FFN_CHOICES))
    .option('--norm <kind>', describeChoices(NORM_CHOICES))
    .option('--positions <kind>', describeChoices(POSITION_CHOICES))
    .option('--tie-embeddings', 'lm_head reuses the token embedding table')
    .option('--no-tie-embeddings', 'lm_head has its own weight')
    .option('--bias', 'biases on every linear layer except lm_head')
    .option('--no-bias', 'no biases on the linear layers')
    .hook('preAction', requireOneModel);
}

/** The model argument and --config together name the models; a usage error when they name none, or two for one. */
function requireOneModel(command: Command): void {
  const argument = command.registeredArguments[0];
  if (argument === undefined) return;
  const given: unknown = command.processedArgs[0];
  const named = Array.isArray(given) ? given.length > 0 : given !== undefined;
  const { config } = command.opts<ModelOverrideOptions>();
  if (!named && config === undefined) {
    command.error(`error: missing required argument '${argument.name()}'`, { code: 'commander.missingArgument' });
  }
  if (named && config !== undefined && !argument.variadic) {
    command.error(`error: the model is named twice, as "${String(given)}" and by --config ${config}; give only one`, {
      code: 'commander.conflictingOption',
    });
  }
}

/** The flag that sets each config override (a false switch reads --no-<flag>). */
const OVERRIDE_FLAGS: Readonly<Record<keyof ConfigOverrides, string>> = {
  context_length: '--ctx',
  num_layers: '--layers',
  d_model: '--d-model',
  num_heads: '--heads',
  d_ff: '--d-ff',
  vocab_size: '--vocab',
  d_ff_rule: '--d-ff-rule',
  num_kv_heads: '--kv-heads',
  tie_embeddings: '--tie-embeddings',
  ffn: '--ffn',
  norm: '--norm',
  positions: '--positions',
  bias: '--bias',
  vocab_multiple: '--vocab-multiple',
};

/**
 * The config layer names the fields an override changed ("d_model=1000"); on the command line
 * its messages quote the flags instead ("gpt2-xl with --d-model 1000 --no-bias: ..."), so the
 * user reads what they typed and a fix they can type.
 */
const FLAG_SPELLING: OverrideSpelling = {
  name: (key) => OVERRIDE_FLAGS[key],
  setting: (key, value) => {
    const flag = OVERRIDE_FLAGS[key];
    if (typeof value === 'boolean') return value ? flag : flag.replace(/^--/, '--no-');
    return `${flag} ${String(value)}`;
  },
  separator: ' ',
};

/** The override flags as config overrides; a bad value is refused here, in flag syntax, before the config sees it. */
function modelOverrides(options: ModelOverrideOptions): ConfigOverrides {
  const flags = OVERRIDE_FLAGS;
  const integer = (raw: string | undefined, flag: string) =>
    raw === undefined ? undefined : parsePositiveInteger(raw, flag);
  const choice = <T extends string>(raw: string | undefined, flag: string, choices: Choices<T>) =>
    raw === undefined ? undefined : parseChoice(raw, flag, choices);
  const overrides: ConfigOverrides = {
    context_length: integer(options.ctx, flags.context_length),
    num_layers: integer(options.layers, flags.num_layers),
    d_model: integer(options.dModel, flags.d_model),
    num_heads: integer(options.heads, flags.num_heads),
    d_ff: integer(options.dFf, flags.d_ff),
    vocab_size: integer(options.vocab, flags.vocab_size),
    d_ff_rule: choice(options.dFfRule, flags.d_ff_rule, D_FF_RULE_CHOICES),
    num_kv_heads: integer(options.kvHeads, flags.num_kv_heads),
    tie_embeddings: options.tieEmbeddings,
    ffn: choice(options.ffn, flags.ffn, FFN_CHOICES),
    norm: choice(options.norm, flags.norm, NORM_CHOICES),
    positions: choice(options.positions, flags.positions, POSITION_CHOICES),
    bias: options.bias,
    vocab_multiple: integer(options.vocabMultiple, flags.vocab_multiple),
  };
  return Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
}

/**
 * The model a command names: `nameOrPath` (a preset name or JSON path) when given, else the file
 * of --config (the preAction hook has refused a single-model command that names both), with the
 * override flags applied. Its notes go to stderr, so stdout stays clean for JSON. Throws InputError.
 */
export function loadModel(
  nameOrPath: string | undefined,
  options: ModelOverrideOptions,
  context: CommandContext,
): ModelConfig {
  const overrides = modelOverrides(options);
  let config: ModelConfig;
  if (nameOrPath !== undefined) config = loadModelConfig(nameOrPath, overrides, FLAG_SPELLING);
  else if (options.config !== undefined) config = loadModelConfigFile(options.config, overrides, FLAG_SPELLING);
  else throw new InputError('no model given: name a preset or a JSON config path, or pass --config <path>');
  for (const note of config.notes ?? []) say(context, `note: ${note}`);
  return config;
}

/** The models of a command taking several: the --config file first, then each argument. Throws InputError. */
export function loadModels(
  namesOrPaths: readonly string[],
  options: ModelOverrideOptions,
  context: CommandContext,
): ModelConfig[] {
  const fromFile = options.config === undefined ? [] : [loadModel(undefined, options, context)];
  return [...fromFile, ...namesOrPaths.map((nameOrPath) => loadModel(nameOrPath, options, context))];
}

function say(context: CommandContext, line: string): void {
  context.io.stderr(`${ERROR_PREFIX}${line}\n`);
}

export interface FormatOptions {
  format: OutputFormat;
}

export function addFormatOption(
  command: Command,
  formats: readonly OutputFormat[] = OUTPUT_FORMATS,
  defaultFormat: OutputFormat = 'table',
): Command {
  return command.addOption(new Option('--format <format>', 'output format').choices(formats).default(defaultFormat));
}

export interface DepthOptions {
  depth: string;
}

/**
 * --depth, 0 to 3 in every command: 0 the total, 1 components, 2 per layer, 3 every row. `levels`
 * says what each level shows in this command.
 */
export function addDepthOption(command: Command, levels: string, defaultDepth: Depth = 1): Command {
  return command.addOption(
    new Option('--depth <depth>', `how far to break the count down: ${levels}`)
      .choices(DEPTHS.map(String))
      .default(String(defaultDepth)),
  );
}

/** The depth commander already checked against its choices. */
export function depthOf(options: DepthOptions): Depth {
  return Number(options.depth) as Depth;
}

export interface RunShapeOptions {
  batch?: string;
  seq?: string;
  /** --attention and --block, on the commands that add them (addAttentionOptions). */
  attention?: string;
  block?: string;
}

/**
 * --attention dense|blocked and --block: how the attention core is computed (src/config/
 * attention_schedule.ts), on the commands whose counts follow it (flops, trace, verify).
 */
export function addAttentionOptions(command: Command): Command {
  return command
    .option('--attention <kind>', `how attention is computed: ${describeChoices(ATTENTION_CHOICES)} (default dense)`)
    .option(
      '--block <n>',
      `positions per query and key block of --attention blocked (default ${DEFAULT_ATTENTION_BLOCK})`,
    );
}

export function addRunShapeOptions(command: Command): Command {
  return command
    .option('--batch <n>', 'sequences per batch (default 1)')
    .option('--seq <n>', 'tokens per sequence (default: the context length)');
}

/**
 * The model fitted to run `seq` tokens, by one rule in every command. A seq within the context
 * runs the model as it is. Past the context, a model with no parameter that depends on the
 * context (RoPE) is counted with the context raised to seq, as --ctx would, and a note on stderr
 * says so: asking for more tokens is asking "what if", and no count changes meaning. A model
 * whose parameters grow with the context (a learned position table, one row per position) would
 * become another model, so it is refused with the --ctx that asks for that model explicitly.
 */
function fitContext(config: ModelConfig, seq: number, context: CommandContext): ModelConfig {
  if (seq <= config.context_length) return config;
  refuseContextBoundGrowth(config, seq);
  say(
    context,
    `note: --seq ${seq} is past ${config.name}'s context_length ${config.context_length}; ` +
      `counted with the context raised to ${seq} (as --ctx ${seq})`,
  );
  return raiseContext(config, seq);
}

/** `config` with its context raised to `tokens`, as --ctx would; a refusal quotes --ctx. */
export function raiseContext(config: ModelConfig, tokens: number): ModelConfig {
  return applyOverrides(config, { context_length: tokens }, config.name, FLAG_SPELLING);
}

/** The refusal half of fitContext, for a command (sweep) whose report itself says how each context was raised. */
export function refuseContextBoundGrowth(config: ModelConfig, seq: number): void {
  const ctx = config.context_length;
  if (seq <= ctx || architectureOf(config).positions !== 'learned') return;
  const model = config.variant === undefined ? config.name : `${config.name} with ${config.variant}`;
  throw new InputError(
    `--seq ${seq} is longer than the context length of ${model} (${ctx}), and its learned position table ` +
      `has one row per position; add --ctx ${seq} to count the larger table, or use --seq ${ctx} or less`,
  );
}

/** --batch and --seq against `config`: the run, and the config fitted to it (see fitContext). Throws InputError. */
export function fitRunShape(
  config: ModelConfig,
  options: RunShapeOptions,
  context: CommandContext,
): { config: ModelConfig; run: RunShape } {
  const batch = options.batch === undefined ? 1 : parsePositiveInteger(options.batch, '--batch');
  const seq = options.seq === undefined ? config.context_length : parsePositiveInteger(options.seq, '--seq');
  const attention = parseAttention(options.attention, options.block);
  return {
    config: fitContext(config, seq, context),
    run: { batch, seq, ...(attention === undefined ? {} : { attention }) },
  };
}

/** What a command reporting on one model at one run shape reads: the model, --batch/--seq, --format and --depth. */
export type ModelReportOptions = ModelOverrideOptions & RunShapeOptions & FormatOptions & DepthOptions;

/** The model a command names, fitted to the run shape --batch and --seq give it. Throws InputError. */
export function loadModelRun(
  nameOrPath: string | undefined,
  options: ModelOverrideOptions & RunShapeOptions,
  context: CommandContext,
): { config: ModelConfig; run: RunShape } {
  return fitRunShape(loadModel(nameOrPath, options, context), options, context);
}

/**
 * --backend, the one option of every command that runs a model: the same choices everywhere,
 * `defaultChoice` and a note on what this command does with them.
 */
export function addBackendOption(command: Command, defaultChoice: BackendChoice = 'auto', note?: string): Command {
  const help = describeChoices(BACKEND_CHOICES);
  return command.option('--backend <name>', note === undefined ? help : `${help}; ${note}`, defaultChoice);
}

/** --backend, --seed, --max-memory and --quiet: how a model runs (trace, verify and time). */
export interface ModelRunFlags {
  backend: string;
  seed?: string;
  maxMemory?: string;
  quiet?: boolean;
}

export function addModelRunOptions(command: Command, backendNote?: string): Command {
  return addBackendOption(command, 'auto', backendNote)
    .option('--seed <n>', 'seed of the random weights and token ids (default 0)')
    .option(
      '--max-memory <size>',
      'refuse a real run whose estimated peak exceeds this, e.g. 8GB (default: half the free RAM)',
    )
    .option('--quiet', 'no progress on stderr (shown for runs over about 2 s)');
}

/**
 * Where a run's progress goes: a bar when stderr is a terminal, else a plain line when a long run
 * starts and one when it ends (src/runtime/progress.ts); none with --quiet. Only a process's own
 * stderr gets it: output captured through run(argv, io) stays what the command computed, not how
 * long the machine took.
 */
function progressSinkOf(context: CommandContext, quiet: boolean): ProgressSink | undefined {
  if (quiet || context.io !== processIo) return undefined;
  return { terminal: process.stderr.isTTY ? process.stderr : undefined, line: (text) => say(context, text) };
}

/** The flags as library options; every bad value is an InputError naming its flag. */
export function modelRunOptionsOf(flags: ModelRunFlags, context: CommandContext): RunOptions {
  return {
    backend: parseBackend(flags.backend),
    seed: flags.seed === undefined ? 0 : parseSeed(flags.seed),
    maxMemoryBytes:
      flags.maxMemory === undefined ? defaultRealRunBudget() : parseByteSize(flags.maxMemory, '--max-memory'),
    progress: progressSinkOf(context, flags.quiet === true),
  };
}

/** The last step of every command: one report, one renderer. */
export function writeReport(context: CommandContext, report: Report, format: OutputFormat): void {
  context.io.stdout(renderReport(report, format));
}
