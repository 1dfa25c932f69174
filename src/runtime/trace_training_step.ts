/**
 * The one place a training step runs under the tracer: pick the backend, refuse a real step that
 * would not fit, make weights (as variables), AdamW state, ids and targets, trace one step with
 * every kernel's phase, sample memory after every kernel, and release every tensor (also on a
 * throw). Verification (src/verify/verify_training.ts) reads what this returns.
 */
import type * as tf from '@tensorflow/tfjs';

import type { ActiveBackend, BackendChoice } from './backend.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { setUpRun } from './run_setup.js';
import { explainMetaError } from '../meta/explain_meta_error.js';
import {
  disposeWeights,
  initWeights,
  tokenIds,
  weightEntries,
  type ModelParts,
  type TransformerWeights,
} from '../model/index.js';
import { traceKernels } from '../trace/tracer.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { DEFAULT_ADAMW, disposeAdamW, initAdamW, type AdamWHyperparameters, type AdamWState } from '../model/adamw.js';
import { measurePeakMemory, type MemoryPeak } from '../trace/memory_peak.js';
import { currentPhase } from '../core/phase.js';
import { targetIds } from '../model/target_ids.js';
import { parametersOf, toTrainable } from '../model/trainable_weights.js';
import { trainingStep } from '../model/training_step.js';
import { assertTrainingRunFits, type TrainingRunEstimate } from './training_run_guard.js';

export interface TrainingTraceOptions {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: BackendChoice;
  /** Seed of the weights, ids and targets on real backends (default 0); meta fills constants. */
  readonly seed?: number;
  /** Bytes a real step may take (default: defaultRealRunBudget()); meta ignores it. */
  readonly maxMemoryBytes?: bigint;
  /** Modules to replace, to plant a wrong model. */
  readonly parts?: Partial<ModelParts>;
  readonly hyper?: AdamWHyperparameters;
}

export interface TracedTrainingStep {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  /** Every kernel of the step in execution order, each with its phase. */
  readonly records: readonly KernelRecord[];
  readonly memory: MemoryPeak;
  /** The guard's estimate; undefined on meta. */
  readonly guardEstimate: TrainingRunEstimate | undefined;
  /** The loss before the update; undefined on meta, which has no values. */
  readonly loss: number | undefined;
  readonly hyper: AdamWHyperparameters;
}

/** Trace one training step of `config` at `run` on the chosen backend. */
export async function traceTrainingStep(options: TrainingTraceOptions): Promise<TracedTrainingStep> {
  const { config, run } = options;
  const { backend, real, init, seed, estimate: guardEstimate } = await setUpRun(options, assertTrainingRunFits);
  const hyper = options.hyper ?? DEFAULT_ADAMW;

  let weights: TransformerWeights | undefined;
  let optimizer: AdamWState | undefined;
  const inputs: tf.Tensor[] = [];
  try {
    weights = toTrainable(initWeights(config, { seed, init }));
    optimizer = initAdamW(parametersOf(weights));
    const ids = tokenIds(config, run, { seed, init });
    inputs.push(ids);
    const targets = targetIds(config, run, { seed, init });
    inputs.push(targets);
    const model = weights;
    const state = optimizer;
    const held = [
      ...weightEntries(model).map((entry) => entry.tensor),
      ...state.moments.flatMap((moment) => [moment.first, moment.second]),
      ...inputs,
    ];
    const { result: trace, memory } = measurePeakMemory(held, () =>
      traceKernels(() => trainingStep(config, model, { ids, targets }, state, hyper, options.parts), {
        phaseOf: currentPhase,
      }),
    );
    let loss: number | undefined;
    try {
      loss = real ? (trace.result.dataSync()[0] as number) : undefined;
    } finally {
      trace.result.dispose();
    }
    return { config, run, backend, records: trace.records, memory, guardEstimate, loss, hyper };
  } catch (error) {
    // A kernel meta lacks must stop the run by name, never yield a wrong number.
    throw real ? error : explainMetaError(error);
  } finally {
    for (const tensor of inputs) tensor.dispose();
    if (optimizer !== undefined) disposeAdamW(optimizer);
    if (weights !== undefined) disposeWeights(weights);
  }
}
