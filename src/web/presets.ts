/**
 * The bundled presets, read at build time from the same models/*.json files the CLI reads, and
 * parsed by the same code (config_file.ts's configFromText, as bundled presets), so a preset counts
 * the same here.
 */
import { configFromText } from '../config/config_file.js';
import type { ModelConfig } from '../config/model_config.js';
import { smallestFirst } from '../config/presets.js';

const files = import.meta.glob<string>('../../models/*.json', { query: '?raw', import: 'default', eager: true });

/** Every preset, smallest model first (the order of `flopledger models`). */
export const PRESETS: readonly ModelConfig[] = Object.entries(files)
  .map(([path, text]) => {
    const name = path.slice(path.lastIndexOf('/') + 1, -'.json'.length);
    return configFromText(text, `models/${name}.json`, name, true);
  })
  .sort(smallestFirst);

export function presetNamed(name: string): ModelConfig | undefined {
  return PRESETS.find((config) => config.name === name);
}
