/**
 * One serving scenario, every figure at once: a prompt of P tokens and G generated tokens for B
 * sequences, weights and cache in stated formats, a memory budget. What `infer` reports; each
 * figure comes from the module that defines it (prefill.ts, decode.ts, kv_cache.ts, weights.ts,
 * fit.ts), so this file adds no formula of its own.
 */
import type { ModelConfig } from '../../config/model_config.js';
import { rational, type Rational } from '../../core/exact.js';
import type { MatmulRow } from '../types.js';
import {
  decodeGenerationFlops,
  decodeMatmulInventory,
  type DecodeGenerationFlops,
  type GenerationRequest,
} from './decode.js';
import {
  decodeStepBytes,
  largestServedBatch,
  largestServedContext,
  servedMemoryBytes,
  servedModel,
  type DecodeStepBytes,
  type LargestServedBatch,
  type LargestServedContext,
  type ServedModel,
  type ServedModelOptions,
} from './fit.js';
import { kvCacheBytesPerSequence, kvCacheBytesPerToken, kvCacheFixedBytes } from './kv_cache.js';
import { prefillFlops, type PrefillFlops } from './prefill.js';

export interface InferenceRequest extends GenerationRequest, ServedModelOptions {
  /** The memory the weights and the caches must fit in, in bytes. */
  readonly memoryBytes: bigint;
}

/** One decode step's cost: its FLOPs, the bytes it reads and writes, and FLOPs per byte read. */
export interface DecodeStepCost {
  /** The context of the step: the new token is position t (t - 1 cached). */
  readonly context: number;
  /** Matmul FLOPs of the step, all B sequences. */
  readonly flops: bigint;
  /** Per token of one sequence: flops / B. */
  readonly flopsPerToken: bigint;
  readonly bytes: DecodeStepBytes;
  /** flops / bytes read. */
  readonly flopsPerByte: Rational;
}

export interface InferenceEstimate {
  readonly config: ModelConfig;
  readonly request: InferenceRequest;
  readonly served: ServedModel;
  readonly prefill: PrefillFlops;
  readonly decode: DecodeGenerationFlops;
  readonly firstStep: DecodeStepCost;
  readonly lastStep: DecodeStepCost;
  /** Every matmul of the last decode step. */
  readonly lastStepRows: readonly MatmulRow[];
  /** The prefill with logits at the last position, then every decode step. */
  readonly generationFlops: bigint;
  readonly kvCache: {
    /** Bytes one more position adds in every layer. */
    readonly perToken: bigint;
    /** One sequence's cache after the prefill (context P) and at the end (context P + G). */
    readonly perSequenceAfterPrefill: bigint;
    readonly perSequenceAtEnd: bigint;
    /** B sequences at the end, plus the cache's fixed bytes (fp8 scales). */
    readonly batchAtEnd: bigint;
    readonly fixed: bigint;
  };
  /** Weights and B caches at the end of the generation. */
  readonly memoryAtEnd: bigint;
  /** The largest batch at context P + G, and the longest context (up to context_length) at batch B. */
  readonly largestBatch: LargestServedBatch;
  readonly largestContext: LargestServedContext;
}

function stepCost(model: ServedModel, batch: number, context: number, flops: bigint): DecodeStepCost {
  const bytes = decodeStepBytes(model, { batch, cached: context - 1, newTokens: 1 });
  return {
    context,
    flops,
    flopsPerToken: flops / BigInt(batch),
    bytes,
    flopsPerByte: rational(flops, bytes.read),
  };
}

/** Every figure of a prefill of P tokens and G decode steps for B sequences (throws InputError past the context). */
export function inferenceEstimate(config: ModelConfig, request: InferenceRequest): InferenceEstimate {
  const { batch: B, prompt: P, generate: G } = request;
  const served = servedModel(config, request);
  const decode = decodeGenerationFlops(config, request);
  const prefill = prefillFlops(config, B, P);
  const { cacheLayers, kvFormat } = served;
  const fixed = kvCacheFixedBytes(cacheLayers, kvFormat);
  const perSequenceAtEnd = kvCacheBytesPerSequence(cacheLayers, kvFormat, P + G);
  return {
    config,
    request,
    served,
    prefill,
    decode,
    firstStep: stepCost(served, B, decode.firstContext, decode.firstStep),
    lastStep: stepCost(served, B, decode.lastContext, decode.lastStep),
    lastStepRows: decodeMatmulInventory(config, { batch: B, cached: P + G - 1, newTokens: 1 }),
    generationFlops: prefill.lastLogits + decode.total,
    kvCache: {
      perToken: kvCacheBytesPerToken(cacheLayers, kvFormat),
      perSequenceAfterPrefill: kvCacheBytesPerSequence(cacheLayers, kvFormat, P),
      perSequenceAtEnd,
      batchAtEnd: fixed + BigInt(B) * perSequenceAtEnd,
      fixed,
    },
    memoryAtEnd: servedMemoryBytes(served, B, P + G),
    largestBatch: largestServedBatch(served, P + G, request.memoryBytes),
    largestContext: largestServedContext(served, B, request.memoryBytes, config.context_length),
  };
}
