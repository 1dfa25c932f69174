/**
 * From what the user typed (a preset name or a file path, plus override flags) to one validated
 * ModelConfig. Overrides are applied after loading and the result is validated again, citing the
 * overrides ("gpt2-xl with d_model=1000: ...") so the user sees which change broke it. This layer
 * knows fields, not flags: the CLI passes an OverrideSpelling that quotes the flags it parsed.
 */
import { basename, dirname } from 'node:path';
import { InputError } from '../core/errors.js';
import { readConfigFile } from './config_file.js';
import { showValue } from './config_fields.js';
import { closestMatch } from './did_you_mean.js';
import {
  ARCHITECTURE_KEYS,
  MODEL_CONFIG_KEYS,
  architectureOf,
  type ArchitectureKey,
  type FfnKind,
  type ModelConfig,
  type ModelDimension,
  type NormKind,
  type PositionKind,
} from './model_config.js';
import { parseModelConfig } from './parse_model_config.js';
import { listPresets, loadPreset, presetNames } from './presets.js';
import { swigluDff } from './swiglu.js';

/**
 * Changes to a loaded config. Choices arrive as the user typed them (validation names the flag
 * and suggests the closest choice), so their types admit any string.
 */
export interface ConfigOverrides {
  context_length?: number;
  num_layers?: number;
  d_model?: number;
  num_heads?: number;
  d_ff?: number;
  vocab_size?: number;
  /** 'given': d_ff as loaded (or as overridden); 'swiglu': d_ff = swigluDff(final d_model). */
  d_ff_rule?: 'given' | 'swiglu';
  num_kv_heads?: number;
  tie_embeddings?: boolean;
  ffn?: FfnKind | (string & {});
  norm?: NormKind | (string & {});
  positions?: PositionKind | (string & {});
  bias?: boolean;
  vocab_multiple?: number;
}

/**
 * The architecture keys a flag can change. The RoPE base has no flag (it changes no count); the
 * keys of the newer architectures (head_dim, the split biases, q/k norms, fused projections,
 * Gemma's scaling, norms and caps) come from a config file.
 */
const OVERRIDABLE_ARCHITECTURE_KEYS = [
  'num_kv_heads',
  'tie_embeddings',
  'ffn',
  'norm',
  'positions',
  'bias',
  'vocab_multiple',
] as const satisfies readonly ArchitectureKey[];
type OverridableArchitectureKey = (typeof OVERRIDABLE_ARCHITECTURE_KEYS)[number];
/** The keys the bias override sets together: the shorthand replaces what the base said of each. */
const BIAS_KEYS = ['qkv_bias', 'output_bias', 'mlp_bias'] as const satisfies readonly ArchitectureKey[];

/**
 * How messages quote the overrides asked for. By default they name fields ("d_model=1000",
 * "bias=false"); the CLI passes one that spells the flags the user typed ("--d-model 1000",
 * "--no-bias"), so a message shows what was typed and its fix is valid syntax there.
 */
export interface OverrideSpelling {
  /** The override alone: "d_ff_rule", or "--d-ff-rule". */
  name(key: keyof ConfigOverrides): string;
  /** The override set to `value`: "num_heads=16", or "--heads 16". */
  setting(key: keyof ConfigOverrides, value: unknown): string;
  /** Between settings listed together: ", " between fields, " " between flags as on a command line. */
  readonly separator: string;
}

const FIELD_SPELLING: OverrideSpelling = {
  name: (key) => key,
  setting: (key, value) => `${key}=${String(value)}`,
  separator: ', ',
};

/** Short labels for a variant description, e.g. "ctx=16384, d_ff=4288 (swiglu), kv_heads=8". */
const VARIANT_LABELS: Readonly<Record<ModelDimension | OverridableArchitectureKey, string>> = {
  vocab_size: 'vocab',
  context_length: 'ctx',
  num_layers: 'layers',
  d_model: 'd_model',
  num_heads: 'heads',
  d_ff: 'd_ff',
  num_kv_heads: 'kv_heads',
  tie_embeddings: 'tie_embeddings',
  ffn: 'ffn',
  norm: 'norm',
  positions: 'positions',
  bias: 'bias',
  vocab_multiple: 'vocab_multiple',
};

const D_FF_RULES = ['given', 'swiglu'] as const;

/** A name containing a path separator or ending in ".json" is a file path; anything else names a preset. */
export function isConfigPath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.endsWith('.json');
}

/** Load a preset by name or a JSON config file by path, then apply `overrides`. Throws InputError. */
export function loadModelConfig(
  nameOrPath: string,
  overrides: ConfigOverrides = {},
  spelling: OverrideSpelling = FIELD_SPELLING,
): ModelConfig {
  const base = isConfigPath(nameOrPath) ? loadFromPath(nameOrPath) : loadFromPresetName(nameOrPath);
  return applyOverrides(base, overrides, nameOrPath, spelling);
}

/**
 * Load the JSON file at `filePath` (a flopledger config or a Hugging Face config.json), whatever
 * its name looks like, then apply `overrides`. Throws InputError.
 */
export function loadModelConfigFile(
  filePath: string,
  overrides: ConfigOverrides = {},
  spelling: OverrideSpelling = FIELD_SPELLING,
): ModelConfig {
  return applyOverrides(loadFromPath(filePath), overrides, filePath, spelling);
}

function loadFromPath(filePath: string): ModelConfig {
  const name = configName(filePath);
  const hint = (): string =>
    presetNames().includes(name) ? `or use the preset name "${name}"` : `or use a preset: ${listPresets().join(', ')}`;
  return readConfigFile(filePath, filePath, name, { notFoundHint: hint });
}

/**
 * A file's base name without ".json"; a Hugging Face download's "config.json" takes its
 * directory's name instead ("Llama-2-7b-hf/config.json" is "Llama-2-7b-hf").
 */
function configName(filePath: string): string {
  const name = basename(filePath).replace(/\.json$/, '');
  const directory = basename(dirname(filePath));
  return name === 'config' && directory !== '' && directory !== '.' && directory !== '..' ? directory : name;
}

function loadFromPresetName(name: string): ModelConfig {
  if (presetNames().includes(name)) return loadPreset(name);
  const available = listPresets();
  const suggestion = closestMatch(name, available);
  const lead =
    suggestion !== undefined ? `unknown model "${name}": did you mean "${suggestion}"?` : `unknown model "${name}".`;
  throw new InputError(`${lead} Available presets: ${available.join(', ')}; or pass a path to a JSON config file.`);
}

/**
 * `base` with `overrides` applied and validated again. `label` is how the user named the base
 * (defaults to its name); `spelling` how messages quote the overrides. Returns `base` itself when
 * nothing is overridden; otherwise the result keeps `base`'s name, source and notes and describes
 * what changed in `variant`.
 */
export function applyOverrides(
  base: ModelConfig,
  overrides: ConfigOverrides,
  label: string = base.name,
  spelling: OverrideSpelling = FIELD_SPELLING,
): ModelConfig {
  const rule: unknown = overrides.d_ff_rule;
  if (rule !== undefined && !(D_FF_RULES as readonly unknown[]).includes(rule)) {
    const problem =
      `${spelling.name('d_ff_rule')}: ${showValue(rule)} is not a d_ff rule; ` +
      `use ${spelling.setting('d_ff_rule', 'given')} (d_ff as configured) ` +
      `or ${spelling.setting('d_ff_rule', 'swiglu')} (8/3 * d_model rounded up to a multiple of 64)`;
    const field = { field: 'd_ff_rule', key: 'd_ff_rule', value: rule, expected: 'a d_ff rule', allowed: D_FF_RULES };
    throw new InputError(problem, { fields: [{ problem, ...field }] });
  }
  const swiglu = rule === 'swiglu';
  if (swiglu && overrides.d_ff !== undefined) {
    throw new InputError(
      `${spelling.setting('d_ff', overrides.d_ff)} and ${spelling.setting('d_ff_rule', 'swiglu')} both set d_ff; ` +
        'give only one',
    );
  }
  const dimensions = MODEL_CONFIG_KEYS.filter((key) => overrides[key] !== undefined);
  const architecture = OVERRIDABLE_ARCHITECTURE_KEYS.filter((key) => overrides[key] !== undefined);
  if (dimensions.length === 0 && architecture.length === 0 && !swiglu) return base;

  const merged: Record<string, unknown> = {
    vocab_size: base.vocab_size,
    context_length: base.context_length,
    num_layers: base.num_layers,
    d_model: base.d_model,
    num_heads: base.num_heads,
    d_ff: base.d_ff,
  };
  // Only the architecture keys the base states are carried, so defaults stay in architectureOf.
  for (const key of ARCHITECTURE_KEYS) if (base[key] !== undefined) merged[key] = base[key];
  if (overrides.bias !== undefined) for (const key of BIAS_KEYS) delete merged[key];
  for (const key of [...dimensions, ...architecture]) merged[key] = overrides[key];
  const dModel = merged['d_model'];
  // An invalid d_model is reported by the validation below; it has no SwiGLU width to compute.
  if (swiglu && typeof dModel === 'number' && Number.isSafeInteger(dModel) && dModel > 0)
    merged['d_ff'] = swigluDff(dModel);

  const settings = [...dimensions, ...architecture].map((key) => spelling.setting(key, overrides[key]));
  if (swiglu) settings.push(spelling.setting('d_ff_rule', 'swiglu'));
  const config = parseModelConfig(merged, `${label} with ${settings.join(spelling.separator)}`, base.name);

  const dimensionChanges = MODEL_CONFIG_KEYS.filter((key) => config[key] !== base[key]).map((key) => {
    const change = `${VARIANT_LABELS[key]}=${config[key]}`;
    return key === 'd_ff' && swiglu ? `${change} (swiglu)` : change;
  });
  // An architecture choice counts as changed when a flag set it to something the base did not
  // resolve to; kv heads that follow a new head count implicitly are not a change of their own.
  const [before, after] = [architectureOf(base), architectureOf(config)];
  const architectureChanges = architecture
    .filter((key) =>
      key === 'bias' ? after.bias !== before.bias || after.any_bias !== before.any_bias : after[key] !== before[key],
    )
    .map((key) => `${VARIANT_LABELS[key]}=${after[key]}`);
  const changes = [...dimensionChanges, ...architectureChanges];
  return Object.freeze({
    ...config,
    source: base.source,
    ...(changes.length > 0 ? { variant: changes.join(', ') } : {}),
    ...(base.notes !== undefined ? { notes: base.notes } : {}),
  });
}
