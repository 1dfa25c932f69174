/** Inference accounting from the architecture alone: prefill, decode, KV cache, weights, fits. Pure, exact bigints, no tfjs. */
export * from './formats.js';
export * from './kv_cache.js';
export * from './prefill.js';
export * from './decode.js';
export * from './weights.js';
export * from './fit.js';
export * from './estimate.js';
export * from './kernel_costs.js';
