/**
 * Generation with a KV cache (design.md section 2, "Decode"): a prefill runs the forward pass over
 * the P prompt tokens and keeps each layer's keys and values; a decode step runs the same model
 * over N new tokens per sequence (1, or a few drafted ones to verify) at positions P..P+N-1, whose
 * queries attend over the cache and their own keys. What a layer keeps is what the architecture
 * needs: K and V per key/value head (Hkv, not H: grouped-query heads share them), head_dim wide,
 * and on a sliding layer at most the last w positions (attention.ts, extendCache).
 *
 * Greedy decoding with the cache gives the logits a forward pass over the whole sequence gives,
 * up to rounding (test/generation.test.ts). Each call returns a new cache and leaves the one it
 * was given alone: the caller disposes it (disposeCache) once it is no longer needed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DENSE_ATTENTION } from '../config/attention_schedule.js';
import type { ModelConfig } from '../config/model_config.js';
import { cachedTensors, type AttentionCacheSlot, type LayerCache } from './attention.js';
import { defaultModelParts, logitsAt, type ForwardOptions, type ModelParts } from './transformer.js';
import type { TransformerWeights } from './weights.js';

/** Each layer's cached keys and values after `length` positions of every sequence. */
export interface KvCache {
  /** Positions seen per sequence: P after a prefill of P, then + N per step of N. */
  readonly length: number;
  /**
   * Layer i's keys and values, (B, Hkv, C, dk) each: its last C positions (C <= its window); or,
   * with latent attention, its latent (B, C, r) and rope key (B, 1, C, dr).
   */
  readonly layers: readonly LayerCache[];
}

/** Logits (B, T, Vp) for the tokens just run, and the cache that now holds them. */
export interface CachedLogits {
  readonly logits: tf.Tensor3D;
  readonly cache: KvCache;
}

/** Releases every tensor of the cache. */
export function disposeCache(cache: KvCache): void {
  for (const layer of cache.layers) for (const tensor of cachedTensors(layer)) tensor.dispose();
}

/** Bytes the cache's tensors hold (fp32): what a sequence batch's cache measures. */
export function cacheTensorBytes(cache: KvCache): bigint {
  return cache.layers.reduce(
    (total, layer) => total + cachedTensors(layer).reduce((sum, tensor) => sum + BigInt(tensor.size) * 4n, 0n),
    0n,
  );
}

function runCached(
  config: ModelConfig,
  weights: TransformerWeights,
  ids: tf.Tensor2D,
  parts: Partial<ModelParts>,
  options: ForwardOptions,
  past: KvCache | undefined,
): CachedLogits {
  const model: ModelParts = { ...defaultModelParts, ...parts };
  const start = past?.length ?? 0;
  const slots: AttentionCacheSlot[] = Array.from({ length: config.num_layers }, (_, i) => ({
    start,
    past: past?.layers[i],
  }));
  try {
    const schedule = options.attention ?? DENSE_ATTENTION;
    const logits = tf.tidy(() =>
      logitsAt(config, weights, ids, model, schedule, { start, layers: slots }, undefined, options.routing),
    );
    const layers = slots.map((slot, i) => {
      if (slot.present === undefined) {
        logits.dispose();
        throw new Error(`decode: layer ${i}'s attention left nothing in the cache`);
      }
      return slot.present;
    });
    return { logits, cache: { length: start + ids.shape[1], layers } };
  } catch (error) {
    for (const slot of slots)
      if (slot.present !== undefined) for (const tensor of cachedTensors(slot.present)) tensor.dispose();
    throw error;
  }
}

/** The prompt ids (B, P) through the model: their logits (B, P, Vp) and the cache of their keys and values. */
export function prefill(
  config: ModelConfig,
  weights: TransformerWeights,
  ids: tf.Tensor2D,
  parts: Partial<ModelParts> = {},
  options: ForwardOptions = {},
): CachedLogits {
  return runCached(config, weights, ids, parts, options, undefined);
}

/**
 * N new tokens per sequence, ids (B, N), after the cached positions: their logits (B, N, Vp) and
 * the cache extended by them. The attention core is computed densely (the N x keys block), as
 * the formulas count a decode step, whatever schedule the prefill used.
 */
export function decodeStep(
  config: ModelConfig,
  weights: TransformerWeights,
  cache: KvCache,
  ids: tf.Tensor2D,
  parts: Partial<ModelParts> = {},
  routing: ForwardOptions['routing'] = {},
): CachedLogits {
  tf.util.assert(
    cache.layers.length === config.num_layers,
    () => `decode: the cache has ${cache.layers.length} layers but ${config.name} has ${config.num_layers}`,
  );
  return runCached(config, weights, ids, parts, { routing }, cache);
}
