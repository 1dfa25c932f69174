/**
 * Generation under the tracer: a prefill of P tokens per sequence, then G decode steps of N new
 * tokens each, every pass traced on its own so each can be checked against its formulas
 * (src/verify/verify_decode.ts). It goes through setUpRun like every real run, so the memory
 * guard holds it to the budget before a tensor exists, and it releases every tensor it made
 * (weights, ids, logits, each superseded cache), also on a throw.
 *
 * The token ids are seeded, not sampled: a trace records shapes, and meta has no values to take
 * an argmax of, so every backend runs the same passes. test/generation.test.ts proves the
 * greedy loop's logits on real backends.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { KernelRecord } from '../core/kernel_record.js';
import type { ExpertRouting, ModelConfig } from '../config/model_config.js';
import { modelLabel } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { explainMetaError } from '../meta/explain_meta_error.js';
import {
  cachedPositions,
  cacheTensorBytes,
  decodeStep,
  disposeCache,
  disposeWeights,
  prefill,
  tokenIds,
  weightEntries,
  type CachedLogits,
  type KvCache,
  type ModelParts,
  type TransformerWeights,
} from '../model/index.js';
import type { RoutingOptions } from '../model/moe.js';
import { traceKernels } from '../trace/tracer.js';
import { initRunWeights, type ActiveBackend } from './backend.js';
import type { MemoryGuardEstimate } from './memory_guard.js';
import { RunProgress } from './progress.js';
import type { RunOptions } from './run_options.js';
import { setUpRun } from './run_setup.js';
import { routingRecorder } from './traced_run.js';

/** A prompt of P tokens per sequence, then G steps of N new tokens each, for B sequences. */
export interface DecodeRequest {
  readonly batch: number;
  readonly prompt: number;
  readonly generate: number;
  /** N: tokens per step (default 1; more to verify drafted tokens). */
  readonly newTokens?: number;
}

/**
 * One decode step as a function of the model: the plain one reads the cache and the new ids;
 * `history` holds every id so far, the new ones last (B, P + jN), for a step that (wrongly)
 * recomputes the prefix.
 */
export type DecodeStepFn = (
  config: ModelConfig,
  weights: TransformerWeights,
  cache: KvCache,
  ids: tf.Tensor2D,
  parts: Partial<ModelParts>,
  history: tf.Tensor2D,
  routing: RoutingOptions,
) => CachedLogits;

export interface DecodeTraceOptions extends RunOptions {
  readonly config: ModelConfig;
  readonly request: DecodeRequest;
  /** Modules to replace, to plant a wrong model. */
  readonly parts?: Partial<ModelParts>;
  /** The decode step to run (default: the model's), to plant a wrong one. */
  readonly step?: DecodeStepFn;
  /**
   * The rows per expert of each pass (the prefill, then every step), say another run's, for a
   * shape-only backend to replay; a real backend routes by its router and refuses them.
   */
  readonly routings?: readonly ExpertRouting[];
}

/** One traced pass: the prefill or a decode step. */
export interface TracedPass {
  /** Positions cached before the pass (0 for the prefill). */
  readonly cached: number;
  /** Tokens per sequence the pass ran (P for the prefill, N for a step). */
  readonly tokens: number;
  readonly records: readonly KernelRecord[];
  /** Bytes the cache's tensors hold after the pass, all sequences. */
  readonly cacheBytes: bigint;
  /** Positions each layer's cache holds after the pass. */
  readonly cachePositions: readonly number[];
  /** The rows each routed expert got in each layer in this pass; undefined for a dense model. */
  readonly routing: ExpertRouting | undefined;
}

export interface TracedDecode {
  readonly config: ModelConfig;
  readonly request: Required<DecodeRequest>;
  readonly backend: ActiveBackend;
  readonly prefill: TracedPass;
  readonly steps: readonly TracedPass[];
  /** The memory guard's estimate; undefined on meta, which holds no data. */
  readonly memoryEstimate: MemoryGuardEstimate | undefined;
}

const plainStep: DecodeStepFn = (config, weights, cache, ids, parts, _history, routing) =>
  decodeStep(config, weights, cache, ids, parts, routing);

/** Throws InputError unless the request is whole numbers that fit the model's context. */
function checkRequest(config: ModelConfig, request: Required<DecodeRequest>): void {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(request)) {
    if (!Number.isSafeInteger(value) || value < 1)
      problems.push(`decode: ${name} (${value}) must be a positive integer`);
  }
  const positions = request.prompt + request.generate * request.newTokens;
  if (problems.length === 0 && positions > config.context_length) {
    problems.push(
      `${config.source}: a prompt of ${request.prompt} and ${request.generate * request.newTokens} generated tokens ` +
        `need ${positions} positions, past context_length (${config.context_length}); shorten --prompt or --generate`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
}

/** Trace a prefill and every decode step of `options.request` on the chosen backend. */
export async function traceDecode(options: DecodeTraceOptions): Promise<TracedDecode> {
  const { config } = options;
  const request: Required<DecodeRequest> = { newTokens: 1, ...options.request };
  checkRequest(config, request);
  const { batch: B, prompt: P, generate: G, newTokens: N } = request;
  // The guard sizes the whole sequence: the prefill's activations at P + G N err high, plus the cache.
  const run = { batch: B, seq: P + G * N };
  const { backend, real, init, seed, estimate: memoryEstimate } = await setUpRun({ ...options, run }, 'decode');
  const progress = new RunProgress(
    options.progress,
    `prefill and ${G} decode steps of ${modelLabel(config)} (batch ${B}, prompt ${P}) on ${backend.name}`,
  );
  const step = options.step ?? plainStep;
  const parts = options.parts ?? {};
  let weights: TransformerWeights | undefined;
  let cache: KvCache | undefined;
  const inputs: tf.Tensor[] = [];
  try {
    weights = initRunWeights(config, { seed, init, onTensor: progress.makingWeights(G + 1) });
    const model = weights;
    // Every id up front, outside the traces: the whole sequence, and its pieces as each pass takes them.
    const history = tokenIds(config, run, { seed, init }); // (B, P + G N)
    inputs.push(history);
    // Each pass routes its own tokens (the router on a backend with values, else the assignment).
    if (options.routings !== undefined && real) {
      throw new InputError(
        `decode: routings given as rows per expert can only be replayed on meta; on ${backend.name} the router ` +
          'routes (fix: leave the routings out, or run on meta)',
      );
    }
    // Marked so each kernel's bytes read split into weights and the rest, as a forward trace's do.
    const weightTensors = weightEntries(model).map((entry) => entry.tensor);
    let passes = 0;
    const pass = (cached: number, tokens: number, fn: (routing: RoutingOptions) => CachedLogits): TracedPass => {
      const recorder = routingRecorder(config);
      const given = options.routings?.[passes++];
      const routing = { onRoute: recorder.onRoute, ...(given === undefined ? {} : { choose: given }) };
      const trace = traceKernels(() => fn(routing), { weights: weightTensors });
      trace.result.logits.dispose();
      if (cache !== undefined) disposeCache(cache);
      cache = trace.result.cache;
      return {
        cached,
        tokens,
        records: trace.records,
        cacheBytes: cacheTensorBytes(cache),
        cachePositions: cache.layers.map(cachedPositions),
        routing: recorder.routing(),
      };
    };
    const slice = (start: number, size: number): tf.Tensor2D => {
      const piece = tf.slice(history, [0, start], [B, size]); // (B, size)
      inputs.push(piece);
      return piece;
    };
    progress.update(0, G + 1, `prefill of ${P} tokens`);
    const promptIds = slice(0, P);
    const prefilled = pass(0, P, (routing) => prefill(config, model, promptIds, parts, { routing }));
    const steps: TracedPass[] = [];
    for (let j = 1; j <= G; j++) {
      progress.update(j, G + 1, `decode step ${j} of ${G}`);
      const cached = P + (j - 1) * N;
      const ids = slice(cached, N);
      const seen = slice(0, cached + N);
      const before = cache!;
      steps.push(pass(cached, N, (routing) => step(config, model, before, ids, parts, seen, routing)));
    }
    return { config, request, backend, prefill: prefilled, steps, memoryEstimate };
  } catch (error) {
    // A kernel meta lacks must stop the run by name, never yield a wrong number.
    throw real ? error : explainMetaError(error);
  } finally {
    if (cache !== undefined) disposeCache(cache);
    for (const tensor of inputs) tensor.dispose();
    if (weights !== undefined) disposeWeights(weights);
    progress.finish();
  }
}
