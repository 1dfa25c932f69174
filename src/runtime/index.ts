/**
 * Running a model on a backend: the backend, the one memory guard, the run set-up every run goes
 * through, progress, and the traced forward pass and training step (with the training step's
 * parts, which the tests drive one by one).
 */
export { BACKEND_CHOICES, availableBackends, parseBackendChoice, useBackend } from './backend.js';
export type { ActiveBackend, BackendChoice } from './backend.js';
export { defaultRealRunBudget, parseByteSize } from './memory_budget.js';
export { WASM_HEAP_BYTES, assertRunFitsMemory, estimateRunMemory } from './memory_guard.js';
export type { MemoryGuardEstimate, MemoryPart, RunKind } from './memory_guard.js';
export { PROGRESS_THRESHOLD_MS, RunProgress } from './progress.js';
export type { ProgressSink } from './progress.js';
export type { ModelRunOptions, ModelShape, RunOptions } from './run_options.js';
export { setUpRun, setUpRuns } from './run_setup.js';
export type { RunSetup, SingleRunSetup, SweepSetup } from './run_setup.js';
export { traceForward, traceTrainingStep } from './traced_run.js';
export type { ForwardTraceOptions, TracedRun, TracedTrainingStep, TrainingTraceOptions } from './traced_run.js';
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
