/** The config module's public API: presets, loading with overrides, validation, flag parsing, run shapes. */
export { MODEL_CONFIG_KEYS, headDim } from './model_config.js';
export type { ModelConfig, ModelDimension, RunShape } from './model_config.js';
export { listPresets } from './presets.js';
export { loadModelConfig, applyOverrides, isConfigPath, OVERRIDE_FLAGS } from './load_model_config.js';
export type { ConfigOverrides } from './load_model_config.js';
export { parseModelConfig } from './parse_model_config.js';
export { swigluDff } from './swiglu.js';
export { parsePositiveInteger, parseIntegerList } from './parse_flags.js';
export { resolveRunShape } from './run_shape.js';
export { closestMatch } from './did_you_mean.js';
