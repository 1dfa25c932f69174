/**
 * flopledger as a library: `import { ... } from 'flopledger'`.
 *
 * Everything a command computes is here, without flags or text: load a config, count it exactly
 * (parameters, matmuls, FLOPs, memory, training), and run the real model under the tracer to
 * verify or time those counts. Counts are exact bigints; format them yourself.
 *
 * Importing this module does not load TensorFlow.js (that takes about 0.3 s):
 * the counting functions are pure, and the functions that run a model (traceForward, verifyModel,
 * timeModel, ...) import tfjs on their first call.
 */
import {
  applyOverrides as applyOverridesImpl,
  loadModelConfig as loadModelConfigImpl,
  loadModelConfigFile as loadModelConfigFileImpl,
  type ConfigOverrides,
} from './config/load_model_config.js';
import { isHuggingFaceConfig, parseHuggingFaceConfig } from './config/hf_config.js';
import { architectureOf as architectureOfImpl, type ModelConfig } from './config/model_config.js';
import { parseModelConfig } from './config/parse_model_config.js';
import { listPresets as listPresetsImpl } from './config/presets.js';
import { resolveRunShape as resolveRunShapeImpl } from './config/run_shape.js';
import { rational as rationalImpl } from './core/exact.js';
import { forwardFlopBreakdown as forwardFlopBreakdownImpl } from './analytic/flop_breakdown.js';
import { forwardMatmulInventory as forwardMatmulInventoryImpl } from './analytic/forward_matmuls.js';
import { parameterMemory as parameterMemoryImpl } from './analytic/memory.js';
import { nonMatmulEstimate as nonMatmulEstimateImpl } from './analytic/non_matmul_estimate.js';
import {
  parameterInventory as parameterInventoryImpl,
  summarizeParameters as summarizeParametersImpl,
} from './analytic/parameters.js';
import { runMemoryEstimate as runMemoryEstimateImpl } from './analytic/run_memory.js';
import { adamwUpdateFlops as adamwUpdateFlopsImpl } from './analytic/training/adamw.js';
import { backwardMatmulInventory as backwardMatmulInventoryImpl } from './analytic/training/backward_matmuls.js';
import { largestBatch as largestBatchImpl } from './analytic/training/largest_batch.js';
import { runTime as runTimeImpl } from './analytic/training/run_time.js';
import { trainingStepFlops as trainingStepFlopsImpl } from './analytic/training/step_flops.js';
import { trainingMemory as trainingMemoryImpl } from './analytic/training/training_memory.js';
import {
  decodeFlopsAtContext as decodeFlopsAtContextImpl,
  decodeGenerationFlops as decodeGenerationFlopsImpl,
  decodeMatmulInventory as decodeMatmulInventoryImpl,
  decodeStepFlops as decodeStepFlopsImpl,
} from './analytic/inference/decode.js';
import { inferenceEstimate as inferenceEstimateImpl } from './analytic/inference/estimate.js';
import {
  decodeStepBytes as decodeStepBytesImpl,
  largestServedBatch as largestServedBatchImpl,
  largestServedContext as largestServedContextImpl,
  servedMemoryBytes as servedMemoryBytesImpl,
  servedModel as servedModelImpl,
} from './analytic/inference/fit.js';
import {
  INFERENCE_DTYPES as INFERENCE_DTYPES_IMPL,
  storageFormat as storageFormatImpl,
} from './analytic/inference/formats.js';
import {
  kvCacheBytesPerSequence as kvCacheBytesPerSequenceImpl,
  kvCacheBytesPerToken as kvCacheBytesPerTokenImpl,
  kvCacheLayers as kvCacheLayersImpl,
  latentCacheLayers as latentCacheLayersImpl,
} from './analytic/inference/kv_cache.js';
import { prefillFlops as prefillFlopsImpl } from './analytic/inference/prefill.js';
import { weightBytes as weightBytesImpl } from './analytic/inference/weights.js';
// Types only: these modules load tfjs, so their values are imported where a run starts.
import type { BackendChoice } from './runtime/backend.js';
import type { ProgressSink } from './runtime/progress.js';
import type { TracedRun, TracedTrainingStep } from './runtime/traced_run.js';
import type { AdamWHyperparameters } from './model/adamw.js';
import type { ModelTiming } from './timing/time_model.js';
import type { VerifyReport } from './verify/verify_model.js';
import type { TrainingVerification } from './verify/verify_training.js';

// ---------------------------------------------------------------------------------------------
// Types

export type { Architecture, ConfigOverrides, ModelConfig, OverrideSpelling, RunShape } from './config/index.js';
export type { Rational } from './core/exact.js';
export type { FlopComponent } from './core/module_paths.js';
export type { KernelRecord } from './core/kernel_record.js';
export type { MatmulRow, ParameterRow } from './analytic/types.js';
export type { ParameterSummary } from './analytic/parameters.js';
export type { MemoryRow } from './analytic/memory.js';
export type { FlopBreakdown, LayerFlops } from './analytic/flop_breakdown.js';
export type { NonMatmulEstimate, NonMatmulKernelEstimate } from './analytic/non_matmul_estimate.js';
export type { ActivationRow, RunMemoryEstimate, RunMemoryOptions } from './analytic/run_memory.js';
export type { AdamwFlops } from './analytic/training/adamw.js';
export type { BackwardMatmulRow } from './analytic/training/backward_matmuls.js';
export type { LargestBatch } from './analytic/training/largest_batch.js';
export type { RunTime, RunTimeInput } from './analytic/training/run_time.js';
export type { TrainingStepFlops } from './analytic/training/step_flops.js';
export type { TrainingMemory } from './analytic/training/training_memory.js';
export type { DecodeGenerationFlops, DecodeStep, GenerationRequest } from './analytic/inference/decode.js';
export type { DecodeStepCost, InferenceEstimate, InferenceRequest } from './analytic/inference/estimate.js';
export type {
  DecodeStepBytes,
  LargestServedBatch,
  LargestServedContext,
  ServedModel,
  ServedModelOptions,
} from './analytic/inference/fit.js';
export type { InferenceDtype, StorageFormat } from './analytic/inference/formats.js';
export type { CacheLayer } from './analytic/inference/kv_cache.js';
export type { PrefillFlops } from './analytic/inference/prefill.js';
export type { WeightBytes, WeightBytesRow } from './analytic/inference/weights.js';
export type { ActiveBackend, BackendChoice } from './runtime/backend.js';
export type { ProgressSink } from './runtime/progress.js';
export type { TracedRun, TracedTrainingStep } from './runtime/traced_run.js';
export type { AdamWHyperparameters } from './model/adamw.js';
export type { MatmulComparison } from './verify/matmul_check.js';
export type { NonMatmulComparison } from './verify/non_matmul_check.js';
export type { VerifyReport } from './verify/verify_model.js';
export type { TrainingVerification } from './verify/verify_training.js';
export type { ForwardTiming } from './timing/time_forward.js';
export type { ForwardCalibration } from './timing/calibrate.js';
export type { PeakEstimate } from './timing/peak.js';
export type { ModelTiming } from './timing/time_model.js';

// ---------------------------------------------------------------------------------------------
// Errors

// InputError: bad input (a malformed config, an unknown preset, a run that would not fit), with
// `problems` one line each. UnavailableError, a subclass: a backend or kernel not available here.
export { InputError, UnavailableError } from './core/errors.js';

// ---------------------------------------------------------------------------------------------
// Configs

/**
 * Loads a bundled preset by name (`'gpt2-xl'`, see {@link listPresets}) or a JSON file by path (a
 * flopledger config, or a Hugging Face `config.json`), then applies `overrides`. A string with a
 * path separator or ending in `.json` is a path. Throws {@link InputError}; a problem an override
 * causes names the fields it set (`"gpt2-xl with d_model=1010: ..."`), or as an optional
 * {@link OverrideSpelling} quotes them (the CLI quotes its flags).
 */
export const loadModelConfig = loadModelConfigImpl;

/** Loads the JSON config file at `filePath` whatever its name looks like, then applies `overrides`. */
export const loadModelConfigFile = loadModelConfigFileImpl;

/**
 * The config a parsed JSON value describes: a flopledger config, or a Hugging Face `config.json`
 * (recognised by its `model_type` key). `name` names the model in reports (default `'model'`);
 * `overrides` are applied after validation. Throws {@link InputError} listing every problem.
 */
export function configFromJson(
  value: unknown,
  options: { readonly name?: string; readonly overrides?: ConfigOverrides } = {},
): ModelConfig {
  const name = options.name ?? 'model';
  const base = isHuggingFaceConfig(value)
    ? parseHuggingFaceConfig(value, name, name)
    : parseModelConfig(value, name, name);
  return applyOverridesImpl(base, options.overrides ?? {});
}

/** `config` with `overrides` applied and validated again; `config` itself when nothing changes. */
export const applyOverrides = applyOverridesImpl;

/** The bundled presets' names, smallest model first. */
export const listPresets = listPresetsImpl;

/** Every architecture choice of a config with its default filled in (head_dim, kv_dim, padded vocabulary...). */
export const architectureOf = architectureOfImpl;

/**
 * A run shape for `config`: batch 1 and the full context by default. A seq longer than the
 * context is refused (raise `context_length` with an override instead). Throws {@link InputError}.
 */
export const resolveRunShape = resolveRunShapeImpl;

// ---------------------------------------------------------------------------------------------
// Counting: pure functions of a config, exact bigints, no tfjs

/** Every parameter tensor: module path, weight name, shape and count, in model order. */
export const parameterInventory = parameterInventoryImpl;

/** Parameters in total, per component, per layer and without the embeddings, with the inventory. */
export const summarizeParameters = summarizeParametersImpl;

/** Bytes of the weights alone in each storage dtype (fp32, bf16, ...): no activations, gradients or optimizer state. */
export const parameterMemory = parameterMemoryImpl;

/** Every matmul of one forward pass at `run`: path, [m, k] @ [k, n] with its batch dims, FLOPs and MACs. */
export const forwardMatmulInventory = forwardMatmulInventoryImpl;

/** Forward matmul FLOPs at `run` in total, per component and per layer. */
export const forwardFlopBreakdown = forwardFlopBreakdownImpl;

/** The non-matmul kernels (norms, softmax, RoPE, activations, adds) one forward pass runs, with their FLOPs. */
export const nonMatmulEstimate = nonMatmulEstimateImpl;

/** Peak bytes of one real forward pass at `run`: weights, token ids and every intermediate. */
export const runMemoryEstimate = runMemoryEstimateImpl;

/** Every matmul of the backward pass at `run` (the gradients of the inputs and of the weights). */
export const backwardMatmulInventory = backwardMatmulInventoryImpl;

/** FLOPs of one training step at `run`: forward and backward matmuls plus one AdamW update. */
export const trainingStepFlops = trainingStepFlopsImpl;

/** FLOPs of one AdamW update of `parameterCount` parameters, by the counted convention. */
export const adamwUpdateFlops = adamwUpdateFlopsImpl;

/** Peak bytes of a training step at `run`: parameters, gradients, AdamW moments and saved activations. */
export const trainingMemory = trainingMemoryImpl;

/** The largest batch of `seq`-token sequences whose training step fits in `memoryBytes`. */
export const largestBatch = largestBatchImpl;

/** Wall-clock time of a training run at a device's peak FLOP/s and a model FLOPs utilization, exact. */
export const runTime = runTimeImpl;

/** An exact fraction, `numerator / denominator` in lowest terms (what {@link runTime} takes and returns). */
export const rational = rationalImpl;

// ---------------------------------------------------------------------------------------------
// Inference: prefill, decode, KV cache, weights by dtype, what fits (pure, exact bigints, no tfjs)

/** The dtypes a KV cache or the weights can be stored in: fp32, fp16, bf16, fp8, int8, int4. */
export const INFERENCE_DTYPES = INFERENCE_DTYPES_IMPL;

/**
 * How a dtype is stored: bits per value and its scales (fp8: one fp32 per tensor; int8 and int4:
 * one fp16 per group of 32 values along a row, ggml's Q8_0 and Q4_0; `groupSize` changes the group).
 */
export const storageFormat = storageFormatImpl;

/** The KV cache's layers: K and V per key/value head, head_dim wide, each capped at its layer's window. */
export const kvCacheLayers = kvCacheLayersImpl;

/** The cache layers of latent attention: kv_lora_rank + qk_rope_head_dim values per position per layer. */
export const latentCacheLayers = latentCacheLayersImpl;

/** Bytes one more position adds to the cache in every layer (131,072 for Llama-3-8B in bf16). */
export const kvCacheBytesPerToken = kvCacheBytesPerTokenImpl;

/** Bytes of one sequence's cache at context t: min(t, w) positions in a windowed layer, t in the others. */
export const kvCacheBytesPerSequence = kvCacheBytesPerSequenceImpl;

/** Matmul FLOPs of a prefill of P tokens for B sequences, with logits at every position and at the last only. */
export const prefillFlops = prefillFlopsImpl;

/** Every matmul of one decode step: N new tokens per sequence over P + N keys (min(P, w - 1) + N in a window). */
export const decodeMatmulInventory = decodeMatmulInventoryImpl;

/** Matmul FLOPs of one decode step, all B sequences. */
export const decodeStepFlops = decodeStepFlopsImpl;

/** Matmul FLOPs to decode one token at context t (t - 1 positions cached), for `batch` sequences (default 1). */
export const decodeFlopsAtContext = decodeFlopsAtContextImpl;

/** Decode FLOPs of generating G tokens after a P-token prompt: first and last step, and the exact total in closed form. */
export const decodeGenerationFlops = decodeGenerationFlopsImpl;

/** Bytes of the weights in a storage format (fp8, int8, int4 quantise the block linear layers; the rest stays bf16). */
export const weightBytes = weightBytesImpl;

/** A model as served: its weights and its cache layers, each in its format (bf16 unless told). */
export const servedModel = servedModelImpl;

/** Bytes one decode step reads (weights once, each sequence's cache) and writes. */
export const decodeStepBytes = decodeStepBytesImpl;

/** Bytes held while serving B sequences at context t: weights, the cache's fixed bytes, B caches. */
export const servedMemoryBytes = servedMemoryBytesImpl;

/** The largest batch whose caches at context t fit in a memory with the weights. */
export const largestServedBatch = largestServedBatchImpl;

/** The longest context (up to a maximum) at which B sequences' caches fit in a memory with the weights. */
export const largestServedContext = largestServedContextImpl;

/** Every figure of a prefill of P tokens and G decode steps for B sequences, as `flopledger infer` reports them. */
export const inferenceEstimate = inferenceEstimateImpl;

// ---------------------------------------------------------------------------------------------
// Running the model: these load TensorFlow.js on first call

/** How a model runs under the tracer. */
export interface RunOptions {
  /** Sequences per batch (default 1). */
  readonly batch?: number;
  /** Tokens per sequence (default: the config's context length). */
  readonly seq?: number;
  /**
   * `'auto'` (default: tfjs-node when installed, else wasm), `'wasm'`, `'cpu'`, `'tensorflow'`,
   * or `'meta'`: shapes only, no data, so a model of any size traces in about a second.
   */
  readonly backend?: BackendChoice;
  /** Seed of the random weights and token ids on real backends (default 0). */
  readonly seed?: number;
  /** Bytes a real run may take (default: half the free memory); a run estimated above is refused. */
  readonly maxMemoryBytes?: bigint;
  /** Where progress goes for a run over about 2 s (default: nowhere). */
  readonly progress?: ProgressSink;
}

/** How a training step runs: {@link RunOptions} and the AdamW hyperparameters. */
export interface TrainingRunOptions extends RunOptions {
  readonly hyper?: AdamWHyperparameters;
}

/** How forward passes are timed: {@link RunOptions} and the run counts. */
export interface TimeOptions extends RunOptions {
  /** Timed runs (default: as many as fill about 3 s, at least 3). */
  readonly runs?: number;
  /** Untimed runs first (default: at least 2, and more until 0.5 s has passed). */
  readonly warmup?: number;
  /** Also time the largest matmul alone, for an efficiency against it (default true; about 2 s). */
  readonly calibrate?: boolean;
}

/** The library's run options as the runtime takes them; a bad batch or seq is refused here. */
function modelRun(config: ModelConfig, options: RunOptions) {
  return {
    config,
    run: resolveRunShapeImpl(config, { batch: options.batch, seq: options.seq }),
    backend: options.backend ?? 'auto',
    seed: options.seed,
    maxMemoryBytes: options.maxMemoryBytes,
    progress: options.progress,
  };
}

/** Traces one forward pass of `config`: every kernel with its module path, shapes and FLOPs. */
export async function traceForward(config: ModelConfig, options: RunOptions = {}): Promise<TracedRun> {
  const runtime = await import('./runtime/traced_run.js');
  return runtime.traceForward(modelRun(config, options));
}

/**
 * Traces one forward pass and checks every matmul against {@link forwardMatmulInventory},
 * exactly; `ok` is true when every matmul matches and the pass ran the expected number of them.
 */
export async function verifyModel(config: ModelConfig, options: RunOptions = {}): Promise<VerifyReport> {
  const verify = await import('./verify/verify_model.js');
  return verify.verifyModel(modelRun(config, options));
}

/** Traces one training step (loss, backward pass, AdamW update) with the phase of every kernel and the peak memory. */
export async function traceTrainingStep(
  config: ModelConfig,
  options: TrainingRunOptions = {},
): Promise<TracedTrainingStep> {
  const runtime = await import('./runtime/traced_run.js');
  return runtime.traceTrainingStep({ ...modelRun(config, options), hyper: options.hyper });
}

/**
 * Traces one training step and checks every forward and backward matmul against the formulas,
 * exactly, with the backward/forward ratios, 6N, the optimizer's FLOPs and the memory peak.
 */
export async function verifyTraining(
  config: ModelConfig,
  options: TrainingRunOptions = {},
): Promise<TrainingVerification> {
  const verify = await import('./verify/verify_training.js');
  return verify.verifyTraining({ ...modelRun(config, options), hyper: options.hyper });
}

/**
 * Times forward passes of `config` on a backend that computes, after the same set-up and memory
 * guard as a traced run: warm-up runs, timed runs for the wall time and tokens/s, one traced run
 * that attributes kernel time to module paths, then the largest matmul alone and the machine's
 * theoretical peak. The `'meta'` backend computes nothing and is refused with an {@link InputError}.
 */
export async function timeModel(config: ModelConfig, options: TimeOptions = {}): Promise<ModelTiming> {
  const timing = await import('./timing/time_model.js');
  return timing.timeModel({
    ...modelRun(config, options),
    runs: options.runs,
    warmup: options.warmup,
    calibrate: options.calibrate,
  });
}

/** The backends that can run here: `'cpu'`, `'wasm'`, `'meta'`, and `'tensorflow'` when tfjs-node loads. */
export async function availableBackends(): Promise<string[]> {
  const backend = await import('./runtime/backend.js');
  return backend.availableBackends();
}
