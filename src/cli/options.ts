/**
 * Options shared by several commands, so each flag is spelled, described and parsed once.
 * Integer values are parsed by the config module (one set of messages for every flag); fixed
 * choices (--format, --depth) are checked by commander, whose message lists the allowed values.
 */
import { Option, type Command } from 'commander';
import { loadModelConfig, parsePositiveInteger, resolveRunShape, type ConfigOverrides } from '../config/index.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { renderReport, OUTPUT_FORMATS, type OutputFormat } from '../report/render.js';
import type { Depth, Report } from '../report/table.js';
import type { CommandContext } from './command_context.js';

export interface ModelOverrideOptions {
  ctx?: string;
  layers?: string;
  dModel?: string;
  heads?: string;
  dFf?: string;
  vocab?: string;
  dFfRule?: string;
}

/** --ctx, --layers, --d-model, --heads, --d-ff, --vocab, --d-ff-rule: change a preset or file without editing it. */
export function addModelOverrideOptions(command: Command): Command {
  return command
    .option('--ctx <n>', 'override context_length (needed for --seq beyond the preset context)')
    .option('--layers <n>', 'override num_layers')
    .option('--d-model <n>', 'override d_model')
    .option('--heads <n>', 'override num_heads')
    .option('--d-ff <n>', 'override d_ff')
    .option('--vocab <n>', 'override vocab_size')
    .option('--d-ff-rule <rule>', 'given: d_ff as configured; swiglu: 8/3 * d_model rounded up to a multiple of 64');
}

export function modelOverrides(options: ModelOverrideOptions): ConfigOverrides {
  const integer = (raw: string | undefined, flag: string) => (raw === undefined ? undefined : parsePositiveInteger(raw, flag));
  const overrides: ConfigOverrides = {
    context_length: integer(options.ctx, '--ctx'),
    num_layers: integer(options.layers, '--layers'),
    d_model: integer(options.dModel, '--d-model'),
    num_heads: integer(options.heads, '--heads'),
    d_ff: integer(options.dFf, '--d-ff'),
    vocab_size: integer(options.vocab, '--vocab'),
    // The config module validates the rule and explains both choices when it is wrong.
    d_ff_rule: options.dFfRule as ConfigOverrides['d_ff_rule'],
  };
  return Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)) as ConfigOverrides;
}

/** A preset name or JSON path, with the override flags applied. Throws InputError. */
export function loadModel(nameOrPath: string, options: ModelOverrideOptions): ModelConfig {
  return loadModelConfig(nameOrPath, modelOverrides(options));
}

export interface FormatOptions {
  format: OutputFormat;
}

export function addFormatOption(
  command: Command,
  formats: readonly OutputFormat[] = OUTPUT_FORMATS,
  defaultFormat: OutputFormat = 'table',
): Command {
  return command.addOption(
    new Option('--format <format>', 'output format').choices(formats).default(defaultFormat),
  );
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

/** The last step of every command: one report, one renderer. */
export function writeReport(context: CommandContext, report: Report, format: OutputFormat): void {
  context.io.stdout(renderReport(report, format));
}
