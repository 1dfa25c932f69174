/**
 * Options shared by several commands, so each flag is spelled, described and parsed once.
 * Integer values are parsed by the config module (one set of messages for every flag); fixed
 * choices (--format, --depth) are checked by commander, whose message lists the allowed values;
 * architecture choices (--ffn, --norm, --positions) are checked by the config module, which
 * suggests the closest one.
 */
import { Option, type Command } from 'commander';
import { parseBackendChoice, type BackendChoice } from '../runtime/backend.js';
import {
  loadModelConfig,
  loadModelConfigFile,
  parsePositiveInteger,
  resolveRunShape,
  type ConfigOverrides,
} from '../config/index.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { defaultRealRunBudget, parseByteSize } from '../runtime/memory_budget.js';
import { renderReport, OUTPUT_FORMATS, type OutputFormat } from '../render/render.js';
import type { Depth, Report } from '../render/table.js';
import type { CommandContext } from './command_context.js';
import { ERROR_PREFIX } from './io.js';

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
    .option('--d-ff-rule <rule>', 'given: d_ff as configured; swiglu: 8/3 * d_model rounded up to a multiple of 64')
    .option('--ffn <kind>', 'swiglu: W2(SiLU(W1 x) * W3 x); gelu: W2 GELU(W1 x), two matrices')
    .option('--norm <kind>', 'rmsnorm (gain only) or layernorm (gain and bias)')
    .option('--positions <kind>', 'rope (rotary, no parameters) or learned (a context_length x d_model table)')
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

export function modelOverrides(options: ModelOverrideOptions): ConfigOverrides {
  const integer = (raw: string | undefined, flag: string) =>
    raw === undefined ? undefined : parsePositiveInteger(raw, flag);
  const overrides: ConfigOverrides = {
    context_length: integer(options.ctx, '--ctx'),
    num_layers: integer(options.layers, '--layers'),
    d_model: integer(options.dModel, '--d-model'),
    num_heads: integer(options.heads, '--heads'),
    d_ff: integer(options.dFf, '--d-ff'),
    vocab_size: integer(options.vocab, '--vocab'),
    // The config module validates the rule and the architecture choices, and explains them when wrong.
    d_ff_rule: options.dFfRule as ConfigOverrides['d_ff_rule'],
    num_kv_heads: integer(options.kvHeads, '--kv-heads'),
    tie_embeddings: options.tieEmbeddings,
    ffn: options.ffn,
    norm: options.norm,
    positions: options.positions,
    bias: options.bias,
    vocab_multiple: integer(options.vocabMultiple, '--vocab-multiple'),
  };
  return Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as ConfigOverrides;
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
  if (nameOrPath !== undefined) config = loadModelConfig(nameOrPath, overrides);
  else if (options.config !== undefined) config = loadModelConfigFile(options.config, overrides);
  else throw new InputError('no model given: name a preset or a JSON config path, or pass --config <path>');
  printNotes(context, config);
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

function printNotes(context: CommandContext, config: ModelConfig): void {
  for (const note of config.notes ?? []) context.io.stderr(`${ERROR_PREFIX}note: ${note}\n`);
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

export function addDepthOption(command: Command, levels: string, defaultDepth: Depth = 1): Command {
  return command.addOption(
    new Option('--depth <depth>', `how far to break the count down: ${levels}`)
      .choices(['0', '1', '2', '3'])
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
}

export function addRunShapeOptions(command: Command): Command {
  return command
    .option('--batch <n>', 'sequences per batch (default 1)')
    .option('--seq <n>', 'tokens per sequence (default: the context length)');
}

/** --batch and --seq against the loaded config: seq beyond the context is an error that suggests --ctx. */
export function runShapeOf(config: ModelConfig, options: RunShapeOptions): RunShape {
  return resolveRunShape(config, {
    ...(options.batch === undefined ? {} : { batch: parsePositiveInteger(options.batch, '--batch') }),
    ...(options.seq === undefined ? {} : { seq: parsePositiveInteger(options.seq, '--seq') }),
  });
}

/** What a command reporting on one model at one run shape reads: the model, --batch/--seq, --format and --depth. */
export type ModelReportOptions = ModelOverrideOptions & RunShapeOptions & FormatOptions & DepthOptions;

/** The model a command names and the run shape --batch and --seq give it. Throws InputError. */
export function loadModelRun(
  nameOrPath: string | undefined,
  options: ModelOverrideOptions & RunShapeOptions,
  context: CommandContext,
): { config: ModelConfig; run: RunShape } {
  const config = loadModel(nameOrPath, options, context);
  return { config, run: runShapeOf(config, options) };
}

/** --backend, --seed and --max-memory: how a model runs under the tracer (trace and verify). */
export interface ModelRunFlags {
  backend: string;
  seed?: string;
  maxMemory?: string;
}

export function addModelRunOptions(command: Command): Command {
  return command
    .option(
      '--backend <name>',
      'auto (tensorflow if installed, else wasm), cpu, wasm, tensorflow, or meta (shapes only: any size in milliseconds)',
      'auto',
    )
    .option('--seed <n>', 'seed of the random weights and token ids (default 0)')
    .option(
      '--max-memory <size>',
      'refuse a real run whose estimated peak exceeds this, e.g. 8GB (default: half the free RAM)',
    );
}

const WHOLE_NUMBER = /^\d+$/;

/** The flags as library options; every bad value is an InputError naming its flag. */
export function modelRunOptionsOf(flags: ModelRunFlags): {
  backend: BackendChoice;
  seed: number;
  maxMemoryBytes: bigint;
} {
  const backend = parseBackendChoice(flags.backend);
  let seed = 0;
  if (flags.seed !== undefined) {
    const raw = flags.seed.trim();
    seed = Number(raw);
    if (!WHOLE_NUMBER.test(raw) || !Number.isSafeInteger(seed)) {
      throw new InputError(`--seed: "${flags.seed}" is not a whole number from 0 to 2^53 - 1; use e.g. --seed 0`);
    }
  }
  const maxMemoryBytes =
    flags.maxMemory === undefined ? defaultRealRunBudget() : parseByteSize(flags.maxMemory, '--max-memory');
  return { backend, seed, maxMemoryBytes };
}

/** The last step of every command: one report, one renderer. */
export function writeReport(context: CommandContext, report: Report, format: OutputFormat): void {
  context.io.stdout(renderReport(report, format));
}
