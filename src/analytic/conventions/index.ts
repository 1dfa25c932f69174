export * from '../../core/exact.js';
export * from './attention_core.js';
export * from './embedding.js';
export * from './parameter_counts.js';
export * from './published_approximations.js';
export * from './counting_conventions.js';
export * from './six_n.js';
