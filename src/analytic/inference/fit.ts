/**
 * What a decode step reads, and what fits in a memory budget.
 *
 * - Bytes read by a step: the weights (weights.ts: each once for all B sequences) plus, for each
 *   sequence, the cache rows of every key each layer attends over (decode.ts: P + N, or
 *   min(P, w - 1) + N), the step's own new keys and values included: they are written to the
 *   cache, then read with the rest. Activations (a few vectors per token) are not counted.
 * - FLOPs per byte: the step's matmul FLOPs over those bytes read, exact.
 * - Memory: the weights, the cache's fixed bytes (fp8 scales) and B sequences' caches at context
 *   t; activations, the runtime's workspace and fragmentation are not counted. It grows with B
 *   and with t (a windowed layer stops growing at w), so the largest batch is a floor division
 *   and the largest context a binary search, both exact.
 */
import type { ModelConfig } from '../../config/model_config.js';
import { InputError } from '../../core/errors.js';
import { attendedKeys, type DecodeStep } from './decode.js';
import { storageFormat, type InferenceDtype, type StorageFormat } from './formats.js';
import {
  kvCacheBytesPerSequence,
  kvCacheBytesPerToken,
  kvCacheFixedBytes,
  kvCacheLayers,
  layerBytesPerPosition,
  type CacheLayer,
} from './kv_cache.js';
import { weightBytes, weightBytesReadPerStep, type WeightBytes } from './weights.js';

/** A model as served: its weights in their format, and its cache layers in theirs. */
export interface ServedModel {
  readonly config: ModelConfig;
  readonly weights: WeightBytes;
  readonly cacheLayers: readonly CacheLayer[];
  readonly kvFormat: StorageFormat;
}

export interface ServedModelOptions {
  readonly weightDtype?: InferenceDtype;
  readonly kvDtype?: InferenceDtype;
  /** Values per scale of int8/int4 weights (default 32). */
  readonly weightGroupSize?: number;
  /** Values per scale of an int8/int4 cache (default 32). */
  readonly kvGroupSize?: number;
  /**
   * The cache layers, when they are not the config's K and V per KV head (kvCacheLayers): e.g.
   * latentCacheLayers for latent attention.
   */
  readonly cacheLayers?: readonly CacheLayer[];
}

/** `config` served with bf16 weights and a bf16 cache unless told otherwise. */
export function servedModel(config: ModelConfig, options: ServedModelOptions = {}): ServedModel {
  const weightFormat = storageFormat(options.weightDtype ?? 'bf16', { groupSize: options.weightGroupSize });
  const kvFormat = storageFormat(options.kvDtype ?? 'bf16', { groupSize: options.kvGroupSize });
  return {
    config,
    weights: weightBytes(config, weightFormat),
    cacheLayers: options.cacheLayers ?? kvCacheLayers(config),
    kvFormat,
  };
}

export interface DecodeStepBytes {
  readonly weights: bigint;
  /** Cache bytes read, all B sequences. */
  readonly kvCacheRead: bigint;
  /** Cache bytes the step writes: the N new positions of every layer, all B sequences. */
  readonly kvCacheWritten: bigint;
  /** weights + kvCacheRead. */
  readonly read: bigint;
}

/** The bytes one decode step reads and writes. */
export function decodeStepBytes(model: ServedModel, step: DecodeStep): DecodeStepBytes {
  const B = BigInt(step.batch);
  const perSequence = model.cacheLayers.reduce(
    (total, layer) =>
      total +
      BigInt(attendedKeys(layer.window, step.cached, step.newTokens)) * layerBytesPerPosition(layer, model.kvFormat),
    0n,
  );
  const kvCacheRead = B * perSequence;
  const weights = weightBytesReadPerStep(model.config, model.weights, step.batch, step.newTokens);
  return {
    weights,
    kvCacheRead,
    kvCacheWritten: B * BigInt(step.newTokens) * kvCacheBytesPerToken(model.cacheLayers, model.kvFormat),
    read: weights + kvCacheRead,
  };
}

/** Bytes held while serving `batch` sequences at context t: weights + the cache's fixed bytes + B caches. */
export function servedMemoryBytes(model: ServedModel, batch: number | bigint, context: number | bigint): bigint {
  return (
    model.weights.total +
    kvCacheFixedBytes(model.cacheLayers, model.kvFormat) +
    BigInt(batch) * kvCacheBytesPerSequence(model.cacheLayers, model.kvFormat, context)
  );
}

export type LargestServedBatch =
  | { readonly batch: number; readonly bytesAtBatch: bigint; readonly bytesAtNext: bigint }
  | { readonly batch: 0; readonly reason: string };

/** The largest batch whose caches at context t fit in `memoryBytes` with the weights: a floor division. */
export function largestServedBatch(model: ServedModel, context: number, memoryBytes: bigint): LargestServedBatch {
  const fixed = servedMemoryBytes(model, 0, context);
  const perSequence = kvCacheBytesPerSequence(model.cacheLayers, model.kvFormat, context);
  if (memoryBytes < fixed) {
    return { batch: 0, reason: `the weights alone take ${fixed} bytes, more than the ${memoryBytes} bytes available` };
  }
  const batch = (memoryBytes - fixed) / perSequence;
  if (batch === 0n) {
    return {
      batch: 0,
      reason:
        `one sequence's cache at ${context} tokens takes ${perSequence} bytes, and only ` +
        `${memoryBytes - fixed} of the ${memoryBytes} bytes are left after the weights`,
    };
  }
  if (batch > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(
      `memory: ${memoryBytes} bytes hold more than ${Number.MAX_SAFE_INTEGER} sequences; give a smaller memory`,
    );
  }
  return {
    batch: Number(batch),
    bytesAtBatch: fixed + batch * perSequence,
    bytesAtNext: fixed + (batch + 1n) * perSequence,
  };
}

export type LargestServedContext =
  | {
      readonly context: number;
      readonly bytesAtContext: bigint;
      /** Bytes one more position would take; absent when the context is already the longest allowed. */
      readonly bytesAtNext?: bigint;
      /** memory: one more position would not fit; context: the longest context allowed fits. */
      readonly limitedBy: 'memory' | 'context';
    }
  | { readonly context: 0; readonly reason: string };

/**
 * The longest context (at most `maxContext`) at which `batch` sequences' caches fit in
 * `memoryBytes` with the weights: a binary search over a memory that never shrinks as t grows.
 */
export function largestServedContext(
  model: ServedModel,
  batch: number,
  memoryBytes: bigint,
  maxContext: number,
): LargestServedContext {
  const fits = (context: number) => servedMemoryBytes(model, batch, context) <= memoryBytes;
  if (!fits(1)) {
    const fixed = servedMemoryBytes(model, 0, 0);
    return {
      context: 0,
      reason:
        memoryBytes < fixed
          ? `the weights alone take ${fixed} bytes, more than the ${memoryBytes} bytes available`
          : `${batch} sequences of one token take ${servedMemoryBytes(model, batch, 1)} bytes, more than the ${memoryBytes} bytes available`,
    };
  }
  // Invariant: fits(low), and high + 1 does not fit or is past maxContext.
  let [low, high] = [1, maxContext];
  while (low < high) {
    const middle = low + Math.ceil((high - low) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  const bytesAtContext = servedMemoryBytes(model, batch, low);
  if (low === maxContext) return { context: low, bytesAtContext, limitedBy: 'context' };
  return { context: low, bytesAtContext, bytesAtNext: servedMemoryBytes(model, batch, low + 1), limitedBy: 'memory' };
}
