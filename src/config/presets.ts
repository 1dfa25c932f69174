/**
 * The bundled presets: one JSON file per model in <package root>/models. A preset's name is its
 * file name without ".json"; messages cite it as "models/<name>.json".
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { presetsDir } from '../core/package_root.js';
import { readConfigFile } from './config_file.js';
import type { ModelConfig } from './model_config.js';

/** Preset names in file-name order (cheap: no file is parsed). */
export function presetNames(): string[] {
  return readdirSync(presetsDir())
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/** Load the preset `name`, which must be one of presetNames(). */
export function loadPreset(name: string): ModelConfig {
  return readConfigFile(join(presetsDir(), `${name}.json`), `models/${name}.json`, name, { bundled: true });
}

/** Preset names from smallest to largest: by d_model * num_layers, then by name, so the order is deterministic. */
export function listPresets(): string[] {
  return presetNames()
    .map(loadPreset)
    .sort(smallestFirst)
    .map((config) => config.name);
}

/** The presets' order, for a list built from the same files read another way (the web page bundles them). */
export function smallestFirst(a: ModelConfig, b: ModelConfig): number {
  const sizeA = BigInt(a.d_model) * BigInt(a.num_layers);
  const sizeB = BigInt(b.d_model) * BigInt(b.num_layers);
  if (sizeA !== sizeB) return sizeA < sizeB ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
