/**
 * The KV cache (src/model/generation.ts): a prefill and greedy decode steps give the logits a
 * forward pass over the whole sequence gives, on cpu and wasm, for every architecture the model
 * runs, and release every tensor they made.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig } from '../src/config/model_config.js';
import {
  cachedPositions,
  cacheTensorBytes,
  decodeStep,
  disposeCache,
  disposeWeights,
  forward,
  initWeights,
  prefill,
  tokenIds,
  type KvCache,
  type TransformerWeights,
} from '../src/model/index.js';
import { useBackend } from '../src/runtime/backend.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

const SOURCE = 'test/generation.test.ts';

/**
 * Gemma 2's block at its smallest: rope, RMSNorm with (1 + gain), q/k norms, post-norms, scaled
 * embeddings, grouped-query heads (H 4, Hkv 2) with a head_dim of its own, GeGLU, attention and
 * output soft-caps, and a window of 3 on every other layer (L 3: local, global, local).
 */
const slidingConfig: ModelConfig = {
  name: 'sliding-gemma',
  source: SOURCE,
  vocab_size: 17,
  context_length: 12,
  num_layers: 3,
  d_model: 10,
  num_heads: 4,
  num_kv_heads: 2,
  head_dim: 4,
  d_ff: 12,
  ffn: 'geglu',
  qk_norm: true,
  post_norms: true,
  scale_embeddings: true,
  zero_centered_gain: true,
  attn_softcap: 2,
  final_softcap: 5,
  window: 3,
  window_layers: 'LG',
};

/** Qwen2-like: rope, multi-query attention (Hkv 1), fused q/k/v with biases, fused gate/up, untied. */
const multiQueryConfig: ModelConfig = {
  name: 'fused-mqa',
  source: SOURCE,
  vocab_size: 9,
  context_length: 10,
  num_layers: 2,
  d_model: 8,
  num_heads: 4,
  num_kv_heads: 1,
  d_ff: 6,
  qkv_bias: true,
  fused_qkv: true,
  fused_gate_up: true,
};

/**
 * Multi-head latent attention: the cache holds the latent and the rope key, and a step attends in
 * the absorbed form, which must give the naive forward pass's logits. V 12, L 2, d 8, H 2, r 5, dr 2, dn 3, dv 4.
 */
const latentConfig: ModelConfig = {
  name: 'latent',
  source: SOURCE,
  vocab_size: 12,
  context_length: 8,
  num_layers: 2,
  d_model: 8,
  num_heads: 2,
  d_ff: 6,
  kv_lora_rank: 5,
  qk_rope_head_dim: 2,
  qk_nope_head_dim: 3,
  v_head_dim: 4,
};
const latentQueryConfig: ModelConfig = { ...latentConfig, name: 'latent-query', q_lora_rank: 3 };

const CONFIGS: readonly ModelConfig[] = [
  tinyConfig('tiny', SOURCE),
  everyVariantConfig(SOURCE),
  slidingConfig,
  multiQueryConfig,
  latentConfig,
  latentQueryConfig,
];

/** The index of the largest of each row's last logits: (B, 1, Vp) -> (B, 1) int32, the greedy choice. */
function greedy(logits: tf.Tensor3D, vocab: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = logits.shape;
    const last = tf.slice(logits, [0, T - 1, 0], [B, 1, vocab]); // (B, 1, V): padded columns left out
    return tf.cast(tf.argMax(last, 2), 'int32') as tf.Tensor2D; // (B, 1)
  });
}

/**
 * Greedy generation of `steps` steps of `perStep` tokens after a `prompt`-token prefill. Each
 * step feeds the greedy token and, for perStep > 1, the tokens after it taken from `drafts` (a
 * speculative step verifying drafted tokens). Returns every token and the logits of every
 * position (B, P + steps * perStep, Vp), prefill's then each step's.
 */
function generate(
  config: ModelConfig,
  weights: TransformerWeights,
  batch: number,
  prompt: number,
  steps: number,
  perStep: number,
): { ids: tf.Tensor2D; logits: tf.Tensor3D; cacheLengths: number[] } {
  const promptIds = tokenIds(config, { batch, seq: prompt }, { seed: 5, init: 'random' });
  const drafts = tokenIds(config, { batch, seq: Math.max(1, perStep - 1) }, { seed: 6, init: 'random' });
  let { logits, cache } = prefill(config, weights, promptIds);
  const allIds: tf.Tensor2D[] = [promptIds];
  const allLogits: tf.Tensor3D[] = [logits];
  const cacheLengths = [cachedPositions(cache.layers[0]!)];
  for (let step = 0; step < steps; step++) {
    const next = greedy(logits, config.vocab_size);
    const ids =
      perStep === 1 ? next : tf.tidy(() => tf.concat([next, tf.slice(drafts, [0, 0], [batch, perStep - 1])], 1));
    if (ids !== next) next.dispose();
    const done: KvCache = cache;
    ({ logits, cache } = decodeStep(config, weights, done, ids));
    disposeCache(done);
    allIds.push(ids);
    allLogits.push(logits);
    cacheLengths.push(cachedPositions(cache.layers[0]!));
  }
  disposeCache(cache);
  drafts.dispose();
  const result = { ids: tf.concat(allIds, 1), logits: tf.concat(allLogits, 1), cacheLengths };
  tf.dispose([...allIds, ...allLogits]);
  return result;
}

/** The largest gap between the cached logits and a forward pass's over the same tokens. */
async function largestGap(
  config: ModelConfig,
  batch: number,
  prompt: number,
  steps: number,
  perStep: number,
): Promise<{ gap: number; cacheLengths: number[]; scale: number }> {
  const weights = initWeights(config, { seed: 11, init: 'random' });
  try {
    const generated = generate(config, weights, batch, prompt, steps, perStep);
    const full = forward(config, weights, generated.ids);
    const [cached, reference] = [await generated.logits.data(), await full.data()];
    let gap = 0;
    let scale = 0;
    for (let i = 0; i < reference.length; i++) {
      gap = Math.max(gap, Math.abs(cached[i]! - reference[i]!));
      scale = Math.max(scale, Math.abs(reference[i]!));
    }
    tf.dispose([generated.ids, generated.logits, full]);
    return { gap, cacheLengths: generated.cacheLengths, scale };
  } finally {
    disposeWeights(weights);
  }
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`decoding with a KV cache on ${backend}`, () => {
    let baseline = 0;
    beforeAll(async () => {
      await useBackend(backend);
      baseline = tf.memory().numTensors;
    });
    afterAll(() => {
      expect(tf.memory().numTensors).toBe(baseline);
    });

    for (const config of CONFIGS) {
      it(`${config.name}: a prefill and greedy steps give a full forward pass's logits within 1e-4`, async () => {
        const prompt = 3;
        const steps = config.context_length - prompt;
        const { gap, scale } = await largestGap(config, 2, prompt, steps, 1);
        // Logits of order 1: a cache read at a wrong position or head moves them by far more.
        expect(scale).toBeGreaterThan(0.01);
        expect(gap).toBeLessThan(1e-4);
        expect(tf.memory().numTensors).toBe(baseline);
      });
    }

    it('steps of two tokens each (verifying a drafted token) match the forward pass too', async () => {
      for (const config of [slidingConfig, everyVariantConfig(SOURCE), latentQueryConfig]) {
        const { gap } = await largestGap(config, 2, 2, 3, 2);
        expect(gap).toBeLessThan(1e-4);
      }
      expect(tf.memory().numTensors).toBe(baseline);
    });

    it('a sliding layer caches at most its window; a global layer every position', async () => {
      // Prefill of 2, then 1 token a step: positions held min(t, 3) at layer 0 (window 3).
      const { cacheLengths } = await largestGap(slidingConfig, 1, 2, 6, 1);
      expect(cacheLengths).toEqual([2, 3, 3, 3, 3, 3, 3]);
      const weights = initWeights(slidingConfig, { seed: 1, init: 'random' });
      const ids = tokenIds(slidingConfig, { batch: 1, seq: 7 }, { seed: 1, init: 'random' });
      const { logits, cache } = prefill(slidingConfig, weights, ids);
      // Layer 1 is global: all 7 positions; layers 0 and 2 slide: 3. K and V, Hkv 2, dh 4, fp32.
      expect(cache.layers.map((layer) => ('k' in layer ? layer.k.shape : undefined))).toEqual([
        [1, 2, 3, 4],
        [1, 2, 7, 4],
        [1, 2, 3, 4],
      ]);
      expect(cacheTensorBytes(cache)).toBe(BigInt((3 + 7 + 3) * 2 * 2 * 4 * 4));
      tf.dispose([logits, ids]);
      disposeCache(cache);
      disposeWeights(weights);
      expect(tf.memory().numTensors).toBe(baseline);
    });
  });
}
