/**
 * Inference accounting against figures worked out here, independently of the code: published
 * architectures' KV caches from their config numbers, a tiny model's decode step by hand,
 * storage formats from ggml's block layouts, and fits by direct division.
 */
import { describe, expect, it } from 'vitest';
import { loadModelConfig } from '../src/config/load_model_config.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { forwardMatmulInventory } from '../src/analytic/forward_matmuls.js';
import {
  attendedKeys,
  decodeFlopsAtContext,
  decodeGenerationFlops,
  decodeGenerationFlopsByStep,
  decodeMatmulInventory,
  decodeStepBytes,
  decodeStepFlops,
  inferenceEstimate,
  kvCacheBytesPerSequence,
  kvCacheBytesPerToken,
  kvCacheFixedBytes,
  kvCacheLayers,
  largestServedBatch,
  largestServedContext,
  latentCacheLayers,
  prefillFlops,
  rowBytes,
  servedMemoryBytes,
  servedModel,
  storageFormat,
  sumOfCappedContexts,
  weightBytes,
  weightBytesReadPerStep,
} from '../src/analytic/inference/index.js';
import { inputError } from './helpers/input_error.js';

const llama3 = loadModelConfig('llama-3-8b');
const mistral = loadModelConfig('mistral-7b');
const tiny = loadModelConfig('tiny');
const bf16 = storageFormat('bf16');

describe('KV cache per token', () => {
  it('is 131,072 bytes for Llama-3-8B in bf16: 2 (K and V) x 8 KV heads x 128 x 32 layers x 2 bytes', () => {
    // config.json of meta-llama/Meta-Llama-3-8B: 32 layers, 32 heads of 4096 / 32 = 128, 8 key/value heads.
    const perToken = 2n * 8n * 128n * 32n * 2n;
    expect(perToken).toBe(131_072n);
    expect(kvCacheBytesPerToken(kvCacheLayers(llama3), bf16)).toBe(perToken);
    // A full 8,192-token context is exactly 1 GiB per sequence.
    expect(kvCacheBytesPerSequence(kvCacheLayers(llama3), bf16, 8192)).toBe(2n ** 30n);
  });

  it('counts key/value heads, not query heads: multi-head attention would cache 4x as much', () => {
    const multiHead: ModelConfig = { ...llama3, num_kv_heads: 32 };
    expect(kvCacheBytesPerToken(kvCacheLayers(multiHead), bf16)).toBe(4n * 131_072n);
  });

  it("reads head_dim from the config, not d / H (Gemma 7B's 16 heads of 256 in a 3,072-wide model)", () => {
    // google/gemma-7b config.json: hidden_size 3072, 16 heads and 16 KV heads of head_dim 256, 28 layers.
    const gemma7b: ModelConfig = {
      ...llama3,
      d_model: 3072,
      num_heads: 16,
      num_kv_heads: 16,
      head_dim: 256,
      num_layers: 28,
    };
    expect(kvCacheBytesPerToken(kvCacheLayers(gemma7b), bf16)).toBe(2n * 16n * 256n * 28n * 2n); // 458,752
    // d / H = 192 would have said 344,064: a quarter too little.
    expect(2n * 16n * 192n * 28n * 2n).toBe(344_064n);
  });

  it('takes each dtype at its stated width: fp32, fp16, fp8 with per-tensor scales, int8 and int4 in groups of 32', () => {
    const layers = kvCacheLayers(llama3);
    const rows = 2n * 8n * 32n; // K and V rows of 128 values per position, all layers
    expect(kvCacheBytesPerToken(layers, storageFormat('fp32'))).toBe(rows * 128n * 4n);
    expect(kvCacheBytesPerToken(layers, storageFormat('fp16'))).toBe(rows * 128n * 2n);
    expect(kvCacheBytesPerToken(layers, storageFormat('fp8'))).toBe(rows * 128n);
    // ggml Q8_0: 32 int8 and one fp16 scale, 34 bytes per 32 values; Q4_0: 16 bytes of nibbles and a scale, 18.
    expect(kvCacheBytesPerToken(layers, storageFormat('int8'))).toBe(rows * (128n / 32n) * 34n); // 69,632
    expect(kvCacheBytesPerToken(layers, storageFormat('int4'))).toBe(rows * (128n / 32n) * 18n); // 36,864
    // Another group size: one fp16 scale per 64 values of int4 is 64 + 2 x 2 = 68 bytes a row.
    expect(kvCacheBytesPerToken(layers, storageFormat('int4', { groupSize: 64 }))).toBe(rows * 68n);
    // fp8's scales: one fp32 for K and one for V in every layer, held once, not per token.
    expect(kvCacheFixedBytes(layers, storageFormat('fp8'))).toBe(32n * 2n * 4n);
    expect(kvCacheFixedBytes(layers, storageFormat('int4'))).toBe(0n);
  });

  it('stores a row whose length is not a multiple of the group with a shorter last group, padded to a byte', () => {
    // 100 int4 values: 50 bytes, and 4 groups (32, 32, 32, 4) of one fp16 scale each.
    expect(rowBytes(100, storageFormat('int4'))).toBe(50n + 4n * 2n);
    // 3 int4 values: 12 bits + one 16-bit scale = 28 bits, stored in 4 bytes.
    expect(rowBytes(3, storageFormat('int4'))).toBe(4n);
    expect(rowBytes(3, storageFormat('bf16'))).toBe(6n);
  });

  it('refuses a group size for a dtype without groups, and a group size that is not a positive integer', () => {
    expect(inputError(() => storageFormat('bf16', { groupSize: 32 })).message).toContain('int8 and int4 only');
    expect(inputError(() => storageFormat('int4', { groupSize: 0 })).message).toContain('positive integer');
  });
});

describe('sliding-window cache', () => {
  const windowed: ModelConfig = { ...mistral, window: 4096 };

  it('stops growing at the window: Mistral-7B with w = 4096 on every layer', () => {
    const layers = kvCacheLayers(windowed);
    const perSequence = (t: number) => kvCacheBytesPerSequence(layers, bf16, t);
    expect(perSequence(4095)).toBe(4095n * 131_072n);
    expect(perSequence(4096)).toBe(4096n * 131_072n);
    expect(perSequence(4097)).toBe(perSequence(4096));
    expect(perSequence(32_768)).toBe(perSequence(4096)); // 512 MiB, where full attention would hold 4 GiB
    const fullAttention = kvCacheLayers(mistral, new Array<undefined>(32).fill(undefined));
    expect(kvCacheBytesPerSequence(fullAttention, bf16, 32_768)).toBe(32_768n * 131_072n);
  });

  it("reads Gemma 2 9B's windows and head_dim from its preset: every other layer stops at 4,096 positions", () => {
    // google/gemma-2-9b: 42 layers, 8 KV heads of head_dim 256 (not 3584 / 16 = 224), sliding_window 4096
    // on the even layers. Per position per layer: 2 x 8 x 256 x 2 bytes = 8,192 in bf16.
    const gemma = loadModelConfig('gemma-2-9b');
    const layers = kvCacheLayers(gemma);
    expect(kvCacheBytesPerToken(layers, bf16)).toBe(2n * 8n * 256n * 42n * 2n); // 344,064
    const perSequence = (t: number) => kvCacheBytesPerSequence(layers, bf16, t);
    expect(perSequence(4096)).toBe(4096n * 344_064n);
    // Past the window only the 21 global layers grow.
    expect(perSequence(4097) - perSequence(4096)).toBe(21n * 8192n);
    expect(perSequence(8192)).toBe(21n * 8192n * (4096n + 8192n)); // 2,113,929,216, not 344,064 x 8,192
  });

  it('caps each layer at its own window (every other layer global, as Gemma 2 alternates)', () => {
    const windows = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? 4096 : undefined));
    const layers = kvCacheLayers(mistral, windows);
    const perLayerPosition = 2n * 8n * 128n * 2n;
    // 16 layers capped at 4,096 positions, 16 holding all 10,000.
    expect(kvCacheBytesPerSequence(layers, bf16, 10_000)).toBe(16n * perLayerPosition * (4096n + 10_000n));
    expect(layers.map((layer) => layer.window)).toEqual(windows);
  });

  it('attends over min(P, w - 1) + N keys: the newest query sees w positions, itself included', () => {
    expect(attendedKeys(undefined, 5000, 1)).toBe(5001);
    expect(attendedKeys(4096, 5000, 1)).toBe(4096);
    expect(attendedKeys(4096, 100, 1)).toBe(101);
    expect(attendedKeys(4096, 5000, 4)).toBe(4095 + 4); // four drafted tokens verified at once
  });
});

describe('latent attention cache', () => {
  it('is (kv_lora_rank + qk_rope_head_dim) x layers x 2 bytes for DeepSeek-V3 in bf16: 70,272', () => {
    // deepseek-ai/DeepSeek-V3 config.json: num_hidden_layers 61, kv_lora_rank 512, qk_rope_head_dim 64.
    const layers = latentCacheLayers(61, 512, 64);
    expect(kvCacheBytesPerToken(layers, bf16)).toBe((512n + 64n) * 61n * 2n);
    expect(kvCacheBytesPerToken(layers, bf16)).toBe(70_272n);
    // In int4, groups of 32: the latent row 256 + 16 x 2 bytes, the rope row 32 + 2 x 2.
    expect(kvCacheBytesPerToken(layers, storageFormat('int4'))).toBe((288n + 36n) * 61n);
  });
});

describe('decode FLOPs', () => {
  // tiny: L 2, d 64, H 4 (dh 16), F 256, V 256, SwiGLU, untied. One token at context t, batch 1:
  // per layer 4 projections of 2 x 64 x 64, 3 FFN matrices of 2 x 64 x 256, and the core
  // 2 x 4 heads x 16 x t for q k^T and again for P v; then lm_head 2 x 64 x 256.
  const tinyAt = (t: bigint) =>
    2n * (4n * 2n * 64n * 64n + 3n * 2n * 64n * 256n + 2n * 2n * 4n * 16n * t) + 2n * 64n * 256n;

  it('costs 294,912 + 512 t for tiny at context t, worked by hand', () => {
    expect(tinyAt(10n)).toBe(294_912n + 512n * 10n);
    expect(decodeFlopsAtContext(tiny, 10)).toBe(300_032n);
    expect(decodeFlopsAtContext(tiny, 1)).toBe(tinyAt(1n));
    expect(decodeFlopsAtContext(tiny, 64)).toBe(tinyAt(64n));
    expect(decodeFlopsAtContext(tiny, 10, 3)).toBe(3n * 300_032n);
  });

  it('has one row per sequence per new token and a core of N queries over P + N keys', () => {
    const rows = decodeMatmulInventory(tiny, { batch: 3, cached: 9, newTokens: 1 });
    expect(rows).toHaveLength(2 * 9 + 1);
    const scores = rows.find((row) => row.path === 'layers.1.attn.scores')!;
    expect(scores).toMatchObject({ batch: [3, 4], m: 1, k: 16, n: 10 });
    const weighted = rows.find((row) => row.path === 'layers.1.attn.weighted_sum')!;
    expect(weighted).toMatchObject({ batch: [3, 4], m: 1, k: 10, n: 16 });
    expect(rows.find((row) => row.path === 'layers.0.attn.q_proj')).toMatchObject({ batch: [3], m: 1, k: 64, n: 64 });
    expect(rows.find((row) => row.path === 'lm_head')).toMatchObject({ batch: [3], m: 1, k: 64, n: 256 });
  });

  it('verifies N drafted tokens in one step: N rows per sequence, N x (P + N) scores', () => {
    // P = 6 cached, N = 4 new: projections and lm_head 4x a one-token step's, the core 2 x 4 x 4 x 16 x 10 twice.
    const projections = 4n * (4n * 2n * 64n * 64n + 3n * 2n * 64n * 256n);
    const core = 2n * 2n * 4n * 4n * 16n * 10n;
    expect(decodeStepFlops(tiny, { batch: 1, cached: 6, newTokens: 4 })).toBe(
      2n * (projections + core) + 4n * 2n * 64n * 256n,
    );
  });

  it('is the forward pass when nothing is cached: N = T new tokens over T keys', () => {
    for (const config of [tiny, llama3]) {
      const forward = forwardMatmulInventory(config, { batch: 2, seq: 64 }).reduce((sum, row) => sum + row.flops, 0n);
      expect(decodeStepFlops(config, { batch: 2, cached: 0, newTokens: 64 })).toBe(forward);
    }
  });

  it('caps the keys at the window: tiny with w = 8 decodes at context 20 as at context 8', () => {
    const windowed: ModelConfig = { ...tiny, window: 8 };
    expect(decodeFlopsAtContext(windowed, 20)).toBe(tinyAt(8n));
    expect(decodeFlopsAtContext(windowed, 5)).toBe(tinyAt(5n));
    expect(decodeFlopsAtContext(tiny, 20, 1, [8, undefined])).toBe(tinyAt(8n) / 2n + tinyAt(20n) / 2n);
  });

  it("matches Llama-3-8B's closed form at every context", () => {
    // L 32, d 4096, 32 heads of 128, 8 KV heads (dkv 1024), F 14336, V 128256.
    const [L, d, dkv, F, V, H, dh] = [32n, 4096n, 1024n, 14_336n, 128_256n, 32n, 128n];
    const perToken = (t: bigint) => 2n * (L * (2n * d * d + 2n * d * dkv + 3n * d * F) + d * V) + 4n * L * H * dh * t;
    for (const t of [1n, 4097n, 8192n]) expect(decodeFlopsAtContext(llama3, Number(t))).toBe(perToken(t));
  });

  it('sums a generation in closed form, equal to the sum of its steps', () => {
    expect(sumOfCappedContexts(5n, 10n, undefined)).toBe(45n);
    expect(sumOfCappedContexts(5n, 10n, 7n)).toBe(5n + 6n + 7n + 7n + 7n + 7n);
    expect(sumOfCappedContexts(9n, 10n, 7n)).toBe(14n);
    // tiny, P = 10, G = 20: steps at contexts 11 to 30, by hand.
    let byHand = 0n;
    for (let t = 11n; t <= 30n; t++) byHand += tinyAt(t);
    const generation = decodeGenerationFlops(tiny, { batch: 1, prompt: 10, generate: 20 });
    expect(generation).toMatchObject({
      steps: 20,
      firstContext: 11,
      lastContext: 30,
      firstStep: tinyAt(11n),
      lastStep: tinyAt(30n),
      total: byHand,
    });
    expect(decodeGenerationFlopsByStep(tiny, { batch: 1, prompt: 10, generate: 20 })).toBe(byHand);
    const windowed: ModelConfig = { ...tiny, window: 16 };
    const request = { batch: 2, prompt: 10, generate: 20 };
    expect(decodeGenerationFlops(windowed, request).total).toBe(decodeGenerationFlopsByStep(windowed, request));
  });

  it('refuses a generation past the context', () => {
    const problem = inputError(() => decodeGenerationFlops(tiny, { batch: 1, prompt: 60, generate: 5 }));
    expect(problem.message).toContain('65 positions, past context_length (64)');
  });
});

describe('prefill FLOPs', () => {
  it('counts Llama-3-8B over 4,096 tokens with logits at every position and at the last only', () => {
    const [L, d, dkv, F, V, P] = [32n, 4096n, 1024n, 14_336n, 128_256n, 4096n];
    const body = L * (2n * P * (2n * d * d + 2n * d * dkv + 3n * d * F) + 4n * P * P * d);
    const prefill = prefillFlops(llama3, 1, 4096);
    expect(prefill.allLogits).toBe(body + 2n * P * d * V);
    expect(prefill.lastLogits).toBe(body + 2n * d * V);
    expect(prefillFlops(llama3, 3, 4096).lastLogits).toBe(3n * (body + 2n * d * V));
  });
});

describe('weight bytes', () => {
  // Llama-3-8B's block linear layers: q, o 4096 x 4096; k, v 4096 x 1024; w1, w3, w2 4096 x 14336.
  const linear = 32n * (2n * 4096n * 4096n + 2n * 4096n * 1024n + 3n * 4096n * 14_336n);
  const total = 8_030_261_248n; // published parameter count (models/SOURCES.md)

  it('quantises the block linear layers and keeps embeddings, lm_head and norms in bf16', () => {
    expect(linear).toBe(6_979_321_856n);
    expect(weightBytes(llama3, storageFormat('bf16')).total).toBe(2n * total);
    expect(weightBytes(llama3, storageFormat('fp32')).total).toBe(4n * total);
    const int4 = weightBytes(llama3, storageFormat('int4'));
    expect(int4.quantized).toEqual({ parameters: linear, bytes: (linear / 32n) * 18n });
    expect(int4.kept).toEqual({ parameters: total - linear, bytes: 2n * (total - linear) });
    expect(int4.total).toBe(6_027_747_328n);
    expect(weightBytes(llama3, storageFormat('int8')).total).toBe((linear / 32n) * 34n + 2n * (total - linear));
    // fp8: one byte per value and one fp32 scale for each of the 7 x 32 matrices.
    expect(weightBytes(llama3, storageFormat('fp8')).total).toBe(linear + 7n * 32n * 4n + 2n * (total - linear));
  });

  it('reads every weight once per decode step but only the gathered rows of the embedding table', () => {
    const weights = weightBytes(llama3, bf16);
    const table = 128_256n * 4096n * 2n;
    expect(weightBytesReadPerStep(llama3, weights, 1)).toBe(2n * total - table + 4096n * 2n);
    expect(weightBytesReadPerStep(llama3, weights, 8)).toBe(2n * total - table + 8n * 4096n * 2n);
    // Tied: lm_head multiplies by the whole table, and the lookup gathers its rows besides.
    const tied: ModelConfig = { ...tiny, tie_embeddings: true };
    const tiedWeights = weightBytes(tied, bf16);
    expect(weightBytesReadPerStep(tied, tiedWeights, 2)).toBe(tiedWeights.total + 2n * 64n * 2n);
  });
});

describe('bytes read per decoded token and what fits', () => {
  const model = servedModel(llama3);
  const weights = 2n * 8_030_261_248n;

  it('reads the weights once and each sequence its cache', () => {
    const bytes = decodeStepBytes(model, { batch: 4, cached: 4095, newTokens: 1 });
    const table = 128_256n * 4096n * 2n;
    expect(bytes.weights).toBe(weights - table + 4n * 4096n * 2n);
    expect(bytes.kvCacheRead).toBe(4n * 4096n * 131_072n);
    expect(bytes.kvCacheWritten).toBe(4n * 131_072n);
    expect(bytes.read).toBe(bytes.weights + bytes.kvCacheRead);
  });

  it('fits floor((M - weights) / cache per sequence) sequences', () => {
    const memory = 80n * 10n ** 9n;
    const perSequence = 8192n * 131_072n;
    expect(largestServedBatch(model, 8192, memory)).toEqual({
      batch: Number((memory - weights) / perSequence), // 59
      bytesAtBatch: weights + 59n * perSequence,
      bytesAtNext: weights + 60n * perSequence,
    });
    expect(largestServedBatch(model, 8192, weights - 1n)).toMatchObject({ batch: 0 });
  });

  it('finds the longest context by a search equal to a scan', () => {
    const small = servedModel(tiny, { kvDtype: 'int4' });
    for (const memory of [0n, 1n, 400_000n, 450_000n, 10n ** 9n]) {
      for (const batch of [1, 3]) {
        let scanned = 0;
        for (let t = 1; t <= 64 && servedMemoryBytes(small, batch, t) <= memory; t++) scanned = t;
        expect(largestServedContext(small, batch, memory, 64).context).toBe(scanned);
      }
    }
    expect(largestServedContext(model, 1, 10n ** 12n, 8192)).toMatchObject({ context: 8192, limitedBy: 'context' });
  });

  it('gathers a whole scenario for the infer command', () => {
    const estimate = inferenceEstimate(llama3, {
      batch: 2,
      prompt: 4096,
      generate: 16,
      kvDtype: 'bf16',
      weightDtype: 'int4',
      memoryBytes: 80n * 10n ** 9n,
    });
    expect(estimate.kvCache.perToken).toBe(131_072n);
    expect(estimate.kvCache.perSequenceAtEnd).toBe(4112n * 131_072n);
    expect(estimate.kvCache.batchAtEnd).toBe(2n * 4112n * 131_072n);
    expect(estimate.served.weights.total).toBe(6_027_747_328n);
    expect(estimate.firstStep.context).toBe(4097);
    expect(estimate.firstStep.flopsPerToken).toBe(decodeFlopsAtContext(llama3, 4097));
    expect(estimate.lastStep.flopsPerToken).toBe(decodeFlopsAtContext(llama3, 4112));
    expect(estimate.generationFlops).toBe(estimate.prefill.lastLogits + estimate.decode.total);
    expect(estimate.memoryAtEnd).toBe(6_027_747_328n + 2n * 4112n * 131_072n);
  });
});

describe('as a library', () => {
  it('exports the inference accounting by name', async () => {
    const library = await import('../src/index.js');
    const config = library.loadModelConfig('llama-3-8b');
    const layers = library.kvCacheLayers(config);
    expect(library.kvCacheBytesPerToken(layers, library.storageFormat('bf16'))).toBe(131_072n);
    expect(library.decodeFlopsAtContext(config, 8192)).toBe(decodeFlopsAtContext(llama3, 8192));
    expect(library.INFERENCE_DTYPES).toEqual(['fp32', 'fp16', 'bf16', 'fp8', 'int8', 'int4']);
  });
});
