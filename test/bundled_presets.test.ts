/**
 * A bundled preset is read without zod's per-field schema (src/config/parse_model_config.ts,
 * parseBundledPreset), so that counting one does not load zod. Here the schema checks them
 * instead: every file in models/ passes parseModelConfig, schema included, and gives exactly the
 * config the bundled path gives. The checks across fields still run on the bundled path.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetsDir } from '../src/core/package_root.js';
import { isHuggingFaceConfig } from '../src/config/hf_config.js';
import { parseBundledPreset, parseModelConfig } from '../src/config/parse_model_config.js';
import { loadPreset, presetNames } from '../src/config/presets.js';
import { inputError } from './helpers/input_error.js';

describe('bundled presets', () => {
  it('are 25 files', () => {
    // A count, so that a preset that fails to be listed cannot pass the checks below by absence.
    expect(presetNames()).toHaveLength(28);
  });

  it.each(presetNames())('%s passes the full schema and reads the same without it', (name) => {
    const value: unknown = JSON.parse(readFileSync(join(presetsDir(), `${name}.json`), 'utf8'));
    expect(isHuggingFaceConfig(value)).toBe(false);
    expect(loadPreset(name)).toEqual(parseModelConfig(value, `models/${name}.json`, name));
  });

  it('still get the checks across fields', () => {
    const heads = { vocab_size: 64, context_length: 16, num_layers: 1, d_model: 64, num_heads: 3, d_ff: 256 };
    expect(inputError(() => parseBundledPreset(heads, 'models/x.json', 'x')).message).toMatch(
      /^models\/x\.json: d_model \(64\) must be divisible by num_heads \(3\)/,
    );
  });
});
