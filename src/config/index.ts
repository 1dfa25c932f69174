/** The config module's public API: presets, loading with overrides, validation, run shapes. */
export { ARCHITECTURE_KEYS, FFN_KINDS, architectureOf, headDim } from './model_config.js';
export type {
  Architecture,
  ArchitectureKey,
  FfnKind,
  ModelConfig,
  ModelDimension,
  NormKind,
  PositionKind,
  RunShape,
} from './model_config.js';
export { listPresets } from './presets.js';
export { loadModelConfig, loadModelConfigFile, applyOverrides, isConfigPath } from './load_model_config.js';
export type { ConfigOverrides, OverrideSpelling } from './load_model_config.js';
export { parseModelConfig } from './parse_model_config.js';
export type { ConfigKey } from './config_fields.js';
export { parseHuggingFaceConfig } from './hf_config.js';
export { swigluDff } from './swiglu.js';
export { resolveRunShape } from './run_shape.js';
