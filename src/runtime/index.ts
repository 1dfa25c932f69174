/** One training step of the real model under the tracer: loss, attributed backward pass, AdamW, peak memory. */
export {
  ADAMW_KERNELS_PER_ELEMENT,
  DEFAULT_ADAMW,
  adamwUpdate,
  assertAdamWHyperparameters,
  disposeAdamW,
  initAdamW,
} from '../model/adamw.js';
export type { AdamWHyperparameters, AdamWMoments, AdamWState, Parameter } from '../model/adamw.js';
export { attributeBackward } from '../model/backward_attribution.js';
export { meanCrossEntropy } from '../model/cross_entropy.js';
export { measurePeakMemory } from '../trace/memory_peak.js';
export type { MemoryPeak, PeakMoment } from '../trace/memory_peak.js';
export { currentPhase, withPhase } from '../core/phase.js';
export { targetIds } from '../model/target_ids.js';
export { parametersOf, toTrainable } from '../model/trainable_weights.js';
export { LOSS_SCOPE, OPTIMIZER_SCOPE, trainingStep } from '../model/training_step.js';
export type { TrainingBatch } from '../model/training_step.js';
export { assertTrainingRunFits, trainingRunEstimate } from './training_run_guard.js';
export type { TrainingRunEstimate } from './training_run_guard.js';
export { traceTrainingStep } from './trace_training_step.js';
export type { TracedTrainingStep, TrainingTraceOptions } from './trace_training_step.js';
