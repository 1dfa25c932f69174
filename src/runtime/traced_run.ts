/**
 * Running the model under the tracer: one forward pass, or one training step (loss, attributed
 * backward pass, AdamW, peak memory). Each goes through setUpRun (the run checked, the backend
 * started, the memory guard applied before a tensor exists), makes its weights and inputs,
 * traces, and releases every tensor, also on a throw. Progress is reported as each kernel starts:
 * which layer the pass has reached. Verification (src/verify) compares what these return with
 * the formulas; the trace and verify commands render it.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { InputError } from '../core/errors.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { currentModulePath } from '../core/scope.js';
import { currentPhase } from '../core/phase.js';
import { architectureOf, type ExpertRouting, type ModelConfig, type RunShape } from '../config/model_config.js';
import { modelLabel } from '../config/model_config.js';
import { explainMetaError } from '../meta/explain_meta_error.js';
import { DEFAULT_ADAMW, disposeAdamW, initAdamW, type AdamWHyperparameters, type AdamWState } from '../model/adamw.js';
import {
  disposeWeights,
  forward,
  tokenIds,
  weightEntries,
  type BlockCheckpointing,
  type ModelParts,
  type TransformerWeights,
} from '../model/index.js';
import { targetIds } from '../model/target_ids.js';
import { parametersOf, toTrainable } from '../model/trainable_weights.js';
import { trainingStep } from '../model/training_step.js';
import { measurePeakMemory, type MemoryPeak } from '../trace/memory_peak.js';
import { traceTotals, type KernelTotals } from '../trace/summary.js';
import { traceKernels } from '../trace/tracer.js';
import { initRunWeights, type ActiveBackend } from './backend.js';
import { blockWeightRelease } from './block_release.js';
import { loadKernelGradients } from './gradients.js';
import type { MemoryGuardEstimate } from './memory_guard.js';
import { RunProgress } from './progress.js';
import type { ModelRunOptions } from './run_options.js';
import { setUpRun } from './run_setup.js';

export interface ForwardTraceOptions extends ModelRunOptions {
  /** Modules to replace, to plant a wrong model. */
  readonly parts?: Partial<ModelParts>;
  /** Record each kernel's wall time. */
  readonly timeKernels?: boolean;
  /**
   * Route every MoE layer by the documented assignment (token t to experts (t + j) mod E,
   * config/moe.ts) instead of the router, on a real backend too: what meta traces by default.
   */
  readonly assignExperts?: boolean;
}

export interface TracedRun {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  readonly records: readonly KernelRecord[];
  /** Totals over the outermost kernels. */
  readonly totals: KernelTotals;
  /** The logits' shape, [B, T, V] for a correct model. */
  readonly logitsShape: readonly number[];
  /** The memory guard's estimate; undefined on meta, which holds no data. */
  readonly memoryEstimate: MemoryGuardEstimate | undefined;
  /** The rows each routed expert got in each layer (a dense layer: none); undefined for a dense model. */
  readonly routing: ExpertRouting | undefined;
}

export interface TrainingTraceOptions extends ModelRunOptions {
  /** Modules to replace, to plant a wrong model. */
  readonly parts?: Partial<ModelParts>;
  readonly hyper?: AdamWHyperparameters;
  /** Full activation checkpointing per block, or none (the default). */
  readonly checkpoint?: BlockCheckpointing;
  /** Route every MoE layer by the documented assignment instead of the router (ForwardTraceOptions). */
  readonly assignExperts?: boolean;
}

export interface TracedTrainingStep {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  /** Every kernel of the step in execution order, each with its phase. */
  readonly records: readonly KernelRecord[];
  readonly memory: MemoryPeak;
  /** The memory guard's estimate; undefined on meta, which holds no data. */
  readonly memoryEstimate: MemoryGuardEstimate | undefined;
  /** The loss before the update; undefined on meta, which has no values. */
  readonly loss: number | undefined;
  readonly hyper: AdamWHyperparameters;
  readonly checkpoint: BlockCheckpointing;
  /** The rows each routed expert got in each layer's forward pass; undefined for a dense model. */
  readonly routing: ExpertRouting | undefined;
}

/** "gpt2-small (batch 1 x 512 tokens) on wasm". */
function runTitle(config: ModelConfig, run: RunShape, backend: ActiveBackend): string {
  return `${modelLabel(config)} (batch ${run.batch} x ${run.seq} tokens) on ${backend.name}`;
}

/**
 * Where a pass has got, from the module path of the kernel starting: step 0 the embeddings,
 * step i + 1 layer i, step L + 1 the final norm, lm_head and loss; L + 2 steps in all.
 */
function layerStep(path: string, layers: number): number {
  if (!path.startsWith('layers.')) {
    return path === '' || path.endsWith('embeddings') || path.startsWith('token_') ? 0 : layers + 1;
  }
  const layer = Number.parseInt(path.slice('layers.'.length), 10);
  return Number.isInteger(layer) ? Math.min(layer + 1, layers) : 0;
}

function layerStepText(step: number, layers: number): string {
  if (step === 0) return 'embeddings';
  return step > layers ? 'final norm and lm_head' : `layer ${step} of ${layers}`;
}

/**
 * The tracer asks its `phaseOf` as each kernel starts: the one call it makes per kernel, so a
 * traced run reports its progress there, at no cost beyond a string comparison while the layer
 * stays the same.
 */
function kernelProgress(
  progress: RunProgress,
  layers: number,
  phaseOf: () => ReturnType<typeof currentPhase>,
): () => ReturnType<typeof currentPhase> {
  const perPass = layers + 2;
  let lastPath: string | undefined;
  let lastPhase: ReturnType<typeof currentPhase>;
  return () => {
    const phase = phaseOf();
    const path = currentModulePath();
    if (path === lastPath && phase === lastPhase) return phase;
    lastPath = path;
    lastPhase = phase;
    const step = layerStep(path, layers);
    if (phase === 'optimizer') progress.update(2 * perPass, 2 * perPass + 1, 'AdamW update');
    else if (phase === 'backward')
      progress.update(perPass + (perPass - 1 - step), 2 * perPass + 1, `backward, ${layerStepText(step, layers)}`);
    else if (phase === 'forward') progress.update(step, 2 * perPass + 1, `forward, ${layerStepText(step, layers)}`);
    else progress.update(step, perPass, layerStepText(step, layers));
    return phase;
  };
}

/**
 * How a traced pass picks experts: the router (meta, with no values, falls back to the documented
 * assignment), the assignment when asked, or on meta the rows a given routing lists. A routing
 * given as rows per expert names no tokens, so a real backend cannot replay it: refused.
 */
function expertChoice(
  options: Pick<ForwardTraceOptions, 'run' | 'backend' | 'assignExperts'>,
  real: boolean,
): 'router' | 'assigned' | ExpertRouting {
  const given = options.run.routing;
  if (given !== undefined) {
    if (real) {
      throw new InputError(
        `run: a routing given as rows per expert can only be replayed on meta; on ${options.backend} the router ` +
          'routes (fix: leave the routing out, or run on meta)',
      );
    }
    return given;
  }
  return options.assignExperts === true ? 'assigned' : 'router';
}

/** Collects each MoE layer's rows per expert as the pass reports them, dense layers left empty. */
export function routingRecorder(config: ModelConfig) {
  const moe = architectureOf(config).moe;
  const rows: number[][] = Array.from({ length: config.num_layers }, () => []);
  return {
    onRoute: (layer: number, expertRows: readonly number[]) => {
      rows[layer] = [...expertRows];
    },
    routing: (): ExpertRouting | undefined => (moe === undefined ? undefined : { rows, traced: true }),
  };
}

/** Trace one forward pass of `config` at `run` on the chosen backend. */
export async function traceForward(options: ForwardTraceOptions): Promise<TracedRun> {
  const { config, run } = options;
  const { backend, real, init, seed, estimate: memoryEstimate } = await setUpRun(options, 'forward');
  const progress = new RunProgress(options.progress, `forward pass of ${runTitle(config, run, backend)}`);

  let weights: TransformerWeights | undefined;
  let ids: tf.Tensor2D | undefined;
  try {
    weights = initRunWeights(config, { seed, init, onTensor: progress.makingWeights(config.num_layers + 2) });
    ids = tokenIds(config, run, { seed, init });
    const modelWeights = weights;
    const modelIds = ids;
    const recorder = routingRecorder(config);
    // One pass: a block's weights (and wasm's packed copies of them) go once the pass has left it.
    const releaseBlocksLeft = blockWeightRelease(modelWeights);
    const how = {
      ...(run.attention === undefined ? {} : { attention: run.attention }),
      routing: { choose: expertChoice(options, real), onRoute: recorder.onRoute },
    };
    const trace = traceKernels(() => forward(config, modelWeights, modelIds, options.parts, how), {
      timeKernels: options.timeKernels === true,
      weights: weightEntries(modelWeights).map((entry) => entry.tensor),
      phaseOf: kernelProgress(progress, config.num_layers, () => {
        releaseBlocksLeft(currentModulePath());
        return undefined;
      }),
    });
    const logitsShape = trace.result.shape.slice();
    trace.result.dispose();
    return {
      config,
      run,
      backend,
      records: trace.records,
      totals: traceTotals(trace.records),
      logitsShape,
      memoryEstimate,
      routing: recorder.routing(),
    };
  } catch (error) {
    // A kernel meta lacks must stop the run by name, never yield a wrong number.
    throw real ? error : explainMetaError(error);
  } finally {
    ids?.dispose();
    if (weights !== undefined) disposeWeights(weights);
    progress.finish();
  }
}

/** Trace one training step of `config` at `run` on the chosen backend. */
export async function traceTrainingStep(options: TrainingTraceOptions): Promise<TracedTrainingStep> {
  const { config, run } = options;
  const { backend, real, init, seed, estimate: memoryEstimate } = await setUpRun(options, 'training step');
  await loadKernelGradients();
  const hyper = options.hyper ?? DEFAULT_ADAMW;
  const checkpoint = options.checkpoint ?? 'none';
  const progress = new RunProgress(options.progress, `training step of ${runTitle(config, run, backend)}`);

  let weights: TransformerWeights | undefined;
  let optimizer: AdamWState | undefined;
  const inputs: tf.Tensor[] = [];
  try {
    const onTensor = progress.makingWeights(2 * (config.num_layers + 2) + 1);
    weights = toTrainable(initRunWeights(config, { seed, init, onTensor }));
    optimizer = initAdamW(parametersOf(weights));
    const ids = tokenIds(config, run, { seed, init });
    inputs.push(ids);
    const targets = targetIds(config, run, { seed, init });
    inputs.push(targets);
    const model = weights;
    const state = optimizer;
    const recorder = routingRecorder(config);
    const held = [
      ...weightEntries(model).map((entry) => entry.tensor),
      ...state.moments.flatMap((moment) => [moment.first, moment.second]),
      ...inputs,
    ];
    const { result: trace, memory } = measurePeakMemory(held, () =>
      traceKernels(
        () =>
          trainingStep(config, model, { ids, targets }, state, hyper, options.parts, {
            ...(run.attention === undefined ? {} : { attention: run.attention }),
            checkpoint,
            // A checkpointed block's rerun routes again, the same rows: the recorder keeps the last.
            routing: { choose: expertChoice(options, real), onRoute: recorder.onRoute },
          }),
        {
          // Marked so each kernel's bytes read split into weights and the rest, as a forward trace's do.
          weights: weightEntries(model).map((entry) => entry.tensor),
          phaseOf: kernelProgress(progress, config.num_layers, currentPhase),
        },
      ),
    );
    let loss: number | undefined;
    try {
      loss = real ? trace.result.dataSync()[0]! : undefined;
    } finally {
      trace.result.dispose();
    }
    return {
      config,
      run,
      backend,
      records: trace.records,
      memory,
      memoryEstimate,
      loss,
      hyper,
      checkpoint,
      routing: recorder.routing(),
    };
  } catch (error) {
    // A kernel meta lacks must stop the run by name, never yield a wrong number.
    throw real ? error : explainMetaError(error);
  } finally {
    for (const tensor of inputs) tensor.dispose();
    if (optimizer !== undefined) disposeAdamW(optimizer);
    if (weights !== undefined) disposeWeights(weights);
    progress.finish();
  }
}
