/** Training-step accounting from the architecture alone: pure, exact bigints, no tfjs. */
export * from './gradient_flow.js';
export * from './backward_matmuls.js';
export * from './backward_flops.js';
export * from './adamw.js';
export * from './training_memory.js';
export * from './memory_polynomial.js';
export * from './largest_batch.js';
export * from './step_flops.js';
export * from './run_time.js';
export * from './parse_rates.js';
