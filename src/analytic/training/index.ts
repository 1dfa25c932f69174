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
export * from './precision.js';
export * from './zero.js';
export * from './batch_seq_polynomial.js';
export * from './checkpointing.js';
export * from './parallelism.js';
export * from './communication.js';
export * from './training_at_scale.js';
