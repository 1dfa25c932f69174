/**
 * From what the user typed (a preset name or a file path, plus override flags) to one validated
 * ModelConfig. Overrides are applied after loading and the result is validated again, citing the
 * flags ("gpt2-xl with --d-model 1000: ...") so the user sees which change broke it.
 */
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { readConfigFile } from './config_file.js';
import { closestMatch } from './did_you_mean.js';
import { MODEL_CONFIG_KEYS, type ModelConfig, type ModelDimension } from './model_config.js';
import { parseModelConfig } from './parse_model_config.js';
import { listPresets, loadPreset, presetNames } from './presets.js';
import { swigluDff } from './swiglu.js';

export interface ConfigOverrides {
  context_length?: number;
  num_layers?: number;
  d_model?: number;
  num_heads?: number;
  d_ff?: number;
  vocab_size?: number;
  /** 'given': d_ff as loaded (or --d-ff); 'swiglu': d_ff = swigluDff(final d_model). */
  d_ff_rule?: 'given' | 'swiglu';
}

/** The CLI flag that sets each override; messages name these. */
export const OVERRIDE_FLAGS: Readonly<Record<keyof ConfigOverrides, string>> = {
  context_length: '--ctx',
  num_layers: '--layers',
  d_model: '--d-model',
  num_heads: '--heads',
  d_ff: '--d-ff',
  vocab_size: '--vocab',
  d_ff_rule: '--d-ff-rule',
};

/** Short labels for a variant description, e.g. "ctx=16384, d_ff=4288 (swiglu)". */
const VARIANT_LABELS: Readonly<Record<ModelDimension, string>> = {
  vocab_size: 'vocab',
  context_length: 'ctx',
  num_layers: 'layers',
  d_model: 'd_model',
  num_heads: 'heads',
  d_ff: 'd_ff',
};

const D_FF_RULES = ['given', 'swiglu'] as const;

/** A name containing a path separator or ending in ".json" is a file path; anything else names a preset. */
export function isConfigPath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.endsWith('.json');
}

/** Load a preset by name or a JSON config file by path, then apply `overrides`. Throws InputError. */
export function loadModelConfig(nameOrPath: string, overrides: ConfigOverrides = {}): ModelConfig {
  const base = isConfigPath(nameOrPath) ? loadFromPath(nameOrPath) : loadFromPresetName(nameOrPath);
  return applyOverrides(base, overrides, nameOrPath);
}

function loadFromPath(filePath: string): ModelConfig {
  const name = basename(filePath).replace(/\.json$/, '');
  const hint = (): string =>
    presetNames().includes(name) ? `or use the preset name "${name}"` : `or use a preset: ${listPresets().join(', ')}`;
  return readConfigFile(filePath, filePath, name, hint);
}

function loadFromPresetName(name: string): ModelConfig {
  if (presetNames().includes(name)) return loadPreset(name);
  const available = listPresets();
  const suggestion = closestMatch(name, available);
  const lead =
    suggestion !== undefined ? `unknown model "${name}": did you mean "${suggestion}"?` : `unknown model "${name}".`;
  throw new InputError(
    `${lead} Available presets: ${available.join(', ')}; or pass a path to a JSON config file.`,
  );
}

/**
 * `base` with `overrides` applied and validated again. `label` is how the user named the base
 * (defaults to its name). Returns `base` itself when nothing is overridden; otherwise the result
 * keeps `base`'s name and source and describes what changed in `variant`.
 */
export function applyOverrides(base: ModelConfig, overrides: ConfigOverrides, label: string = base.name): ModelConfig {
  const rule: unknown = overrides.d_ff_rule;
  if (rule !== undefined && !(D_FF_RULES as readonly unknown[]).includes(rule)) {
    throw new InputError(
      `${OVERRIDE_FLAGS.d_ff_rule}: "${String(rule)}" is not a d_ff rule; use given (d_ff as configured) ` +
        'or swiglu (8/3 * d_model rounded up to a multiple of 64)',
    );
  }
  const swiglu = rule === 'swiglu';
  if (swiglu && overrides.d_ff !== undefined) {
    throw new InputError(
      `${OVERRIDE_FLAGS.d_ff} ${overrides.d_ff} and ${OVERRIDE_FLAGS.d_ff_rule} swiglu both set d_ff; give only one`,
    );
  }
  const overridden = MODEL_CONFIG_KEYS.filter((key) => overrides[key] !== undefined);
  if (overridden.length === 0 && !swiglu) return base;

  const merged: Record<ModelDimension, number> = {
    vocab_size: base.vocab_size,
    context_length: base.context_length,
    num_layers: base.num_layers,
    d_model: base.d_model,
    num_heads: base.num_heads,
    d_ff: base.d_ff,
  };
  for (const key of overridden) merged[key] = overrides[key] as number;
  // An invalid d_model is reported by the validation below; it has no SwiGLU width to compute.
  if (swiglu && Number.isSafeInteger(merged.d_model) && merged.d_model > 0) merged.d_ff = swigluDff(merged.d_model);

  const flags = overridden.map((key) => `${OVERRIDE_FLAGS[key]} ${overrides[key]}`);
  if (swiglu) flags.push(`${OVERRIDE_FLAGS.d_ff_rule} swiglu`);
  const config = parseModelConfig(merged, `${label} with ${flags.join(' ')}`, base.name);

  const changes = MODEL_CONFIG_KEYS.filter((key) => config[key] !== base[key]).map((key) => {
    const change = `${VARIANT_LABELS[key]}=${config[key]}`;
    return key === 'd_ff' && swiglu ? `${change} (swiglu)` : change;
  });
  return Object.freeze({
    ...config,
    source: base.source,
    ...(changes.length > 0 ? { variant: changes.join(', ') } : {}),
  });
}
