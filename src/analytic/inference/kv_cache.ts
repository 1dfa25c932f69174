/**
 * The KV cache as the architecture keeps it (design.md section 2, "Decode"):
 *
 * - attention with key/value heads: K and V for each of the Hkv key/value heads, head_dim values
 *   each, per position and layer: 2 x Hkv x dh values. Grouped-query heads share them, so it is
 *   Hkv, not H; dh is the config's head_dim, not d / H when the config gives its own.
 * - latent attention (multi-head latent attention, DeepSeek-V2/V3): the compressed latent c_KV
 *   (kv_lora_rank values) and the shared rope key k_R (qk_rope_head_dim values) per position and
 *   layer; the per-head keys and values are rebuilt from them and never cached.
 * - a sliding window w: a layer holds at most w positions. A decode step writes its new
 *   key and value before attending, so the newest query sees itself and the w - 1 positions
 *   before it, and w positions are resident while it runs (vLLM's sliding-window spec
 *   allocates "the last sliding_window - 1 computed tokens plus the newly scheduled tokens";
 *   Mistral's rolling buffer cache holds w). At context t (t positions so far, the one being
 *   decoded included) a sliding layer holds min(t, w) positions, a full layer t.
 *
 * Each cached row (one head's key or value at one position; the latent; the rope key) is stored
 * in a StorageFormat (formats.ts): a row of 128 bf16 values is 256 bytes, of 128 int4 values
 * in groups of 32 is 72.
 */
import { architectureOf, type ModelConfig } from '../../config/model_config.js';
import { layerWindows } from '../../config/windows.js';
import { rowBytes, tensorScaleBytes, type StorageFormat } from './formats.js';

/** What one layer caches per position, and the window that caps it (undefined: every position). */
export type CacheLayer =
  | { readonly kind: 'kv'; readonly kvHeads: number; readonly headDim: number; readonly window?: number }
  | {
      readonly kind: 'latent';
      readonly kvLoraRank: number;
      readonly qkRopeHeadDim: number;
      readonly window?: number;
    };

/** Rows of one length that a layer stores per position: `count` rows of `length` values. */
export interface CachedRows {
  /** "K", "V" (one row per KV head), "latent c_KV", "rope key k_R" (one row each). */
  readonly what: string;
  readonly count: number;
  readonly length: number;
}

/**
 * The width of one cached key or value head: the config's head_dim when it has one, else
 * d_model / num_heads. The one place the cache reads it, so a config that grows another field
 * for the key width changes this alone.
 */
export function cacheHeadDim(config: ModelConfig): number {
  return architectureOf(config).head_dim;
}

/**
 * The window of each layer's cache, in layer order (undefined: full attention). The one place
 * the cache reads windows from a config.
 */
export function cacheWindows(config: ModelConfig): readonly (number | undefined)[] {
  return layerWindows(config);
}

/** The cache layers of the config: K and V per KV head, head_dim wide, each layer's window; the latent and rope key with latent attention. */
export function kvCacheLayers(config: ModelConfig, windows = cacheWindows(config)): CacheLayer[] {
  const { num_kv_heads: kvHeads, mla } = architectureOf(config);
  // Latent attention caches the latent and the rope key, never per-head keys and values.
  if (mla !== undefined) return latentCacheLayers(config.num_layers, mla.kv_lora_rank, mla.qk_rope_head_dim);
  const headDim = cacheHeadDim(config);
  if (windows.length !== config.num_layers) {
    throw new Error(`kv cache: ${windows.length} windows for ${config.num_layers} layers`);
  }
  return windows.map((window) =>
    window === undefined ? { kind: 'kv', kvHeads, headDim } : { kind: 'kv', kvHeads, headDim, window },
  );
}

/**
 * The cache layers of a latent-attention model: `layers` layers each caching the latent
 * (kvLoraRank values) and the rope key (qkRopeHeadDim values) per position. DeepSeek-V3:
 * 61 layers, kv_lora_rank 512, qk_rope_head_dim 64.
 */
export function latentCacheLayers(layers: number, kvLoraRank: number, qkRopeHeadDim: number): CacheLayer[] {
  return Array.from({ length: layers }, () => ({ kind: 'latent', kvLoraRank, qkRopeHeadDim }) as const);
}

/** The rows one layer stores per position. */
export function cachedRows(layer: CacheLayer): CachedRows[] {
  return layer.kind === 'kv'
    ? [
        { what: 'K', count: layer.kvHeads, length: layer.headDim },
        { what: 'V', count: layer.kvHeads, length: layer.headDim },
      ]
    : [
        { what: 'latent c_KV', count: 1, length: layer.kvLoraRank },
        { what: 'rope key k_R', count: 1, length: layer.qkRopeHeadDim },
      ];
}

/** Bytes one layer stores per position in `format`: 2 x 8 x 128 x 2 = 4,096 for a Llama-3-8B layer in bf16. */
export function layerBytesPerPosition(layer: CacheLayer, format: StorageFormat): bigint {
  return cachedRows(layer).reduce((total, rows) => total + BigInt(rows.count) * rowBytes(rows.length, format), 0n);
}

/** Positions a layer holds at context t: min(t, w) with a window, t without. */
export function positionsHeld(layer: CacheLayer, context: number | bigint): bigint {
  const t = BigInt(context);
  return layer.window === undefined ? t : minBig(t, BigInt(layer.window));
}

/**
 * Bytes of one more position in every layer: what a token adds to the cache while no window
 * has filled. Llama-3-8B in bf16: 2 (K and V) x 8 KV heads x 128 x 32 layers x 2 bytes = 131,072.
 */
export function kvCacheBytesPerToken(layers: readonly CacheLayer[], format: StorageFormat): bigint {
  return layers.reduce((total, layer) => total + layerBytesPerPosition(layer, format), 0n);
}

/** Bytes of one sequence's cache at context t: the sum over layers of min(t, w) (or t) positions. */
export function kvCacheBytesPerSequence(
  layers: readonly CacheLayer[],
  format: StorageFormat,
  context: number | bigint,
): bigint {
  return layers.reduce(
    (total, layer) => total + positionsHeld(layer, context) * layerBytesPerPosition(layer, format),
    0n,
  );
}

/**
 * Bytes the cache holds once for all sequences: fp8's per-tensor scales, one for each of the two
 * cached tensors of every layer (K and V, or the latent and the rope key). 0 for other formats.
 */
export function kvCacheFixedBytes(layers: readonly CacheLayer[], format: StorageFormat): bigint {
  return 2n * BigInt(layers.length) * tensorScaleBytes(format);
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
