/**
 * One training step of the real model under the tracer, with the parts the tests drive one by
 * one: loss, attributed backward pass, AdamW, peak memory.
 */
export { traceTrainingStep } from './traced_run.js';
export type { TracedTrainingStep, TrainingTraceOptions } from './traced_run.js';
export { ADAMW_KERNELS_PER_ELEMENT, DEFAULT_ADAMW, adamwUpdate, disposeAdamW, initAdamW } from '../model/adamw.js';
export type { AdamWHyperparameters, AdamWMoments, AdamWState, Parameter } from '../model/adamw.js';
export { attributeBackward } from '../model/backward_attribution.js';
export { meanCrossEntropy } from '../model/cross_entropy.js';
export { measurePeakMemory } from '../trace/memory_peak.js';
export type { MemoryPeak, PeakMoment } from '../trace/memory_peak.js';
export { currentPhase, withPhase } from '../core/phase.js';
export { targetIds } from '../model/target_ids.js';
export { parametersOf, toTrainable } from '../model/trainable_weights.js';
export { trainingStep } from '../model/training_step.js';
export type { TrainingBatch } from '../model/training_step.js';
