/**
 * Properties of the inference accounting over random configs of every architecture the config
 * knows (grouped-query heads, a head_dim of its own, the GELU MLP, tied embeddings, per-layer
 * windows): the generation's closed form against the sum of its steps, a decode step against
 * the forward pass, and the fits against a scan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/config/model_config.js';
import { forwardMatmulInventory } from '../src/analytic/forward_matmuls.js';
import {
  INFERENCE_DTYPES,
  attendedKeys,
  decodeGenerationFlops,
  decodeGenerationFlopsByStep,
  decodeStepFlops,
  kvCacheBytesPerSequence,
  kvCacheBytesPerToken,
  kvCacheLayers,
  largestServedBatch,
  largestServedContext,
  servedMemoryBytes,
  servedModel,
  storageFormat,
} from '../src/analytic/inference/index.js';
import { arbitrarySeedConfig } from './helpers/arbitrary_config.js';

/** A seed config turned into any architecture variant, with a window (or none) for each layer. */
const arbitraryVariant: fc.Arbitrary<{ config: ModelConfig; windows: (number | undefined)[] }> = arbitrarySeedConfig
  .filter((config) => config.context_length >= 2 && config.num_layers <= 16)
  .chain((config) =>
    fc.record({
      config: fc
        .record({
          groups: fc.constantFrom(...divisors(config.num_heads)),
          headDim: fc.option(fc.integer({ min: 1, max: 64 }).map((half) => 2 * half)),
          ffn: fc.constantFrom('swiglu', 'gelu', 'geglu'),
          tie: fc.boolean(),
        })
        .map(({ groups, headDim, ffn, tie }): ModelConfig => ({
          ...config,
          num_kv_heads: config.num_heads / groups,
          ...(headDim === null ? {} : { head_dim: headDim }),
          ffn,
          tie_embeddings: tie,
        })),
      windows: fc.array(fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }), {
        minLength: config.num_layers,
        maxLength: config.num_layers,
      }),
    }),
  );

function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}

const sumFlops = (rows: readonly { flops: bigint }[]) => rows.reduce((sum, row) => sum + row.flops, 0n);

describe('decode over random configs', () => {
  it('sums a generation in closed form exactly as step by step', () => {
    fc.assert(
      fc.property(
        arbitraryVariant,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 40 }),
        ({ config, windows }, batch, wantedGenerate) => {
          const generate = Math.min(wantedGenerate, config.context_length - 1);
          const prompt = 1 + ((config.context_length * 7919) % (config.context_length - generate));
          const request = { batch, prompt, generate };
          const closed = decodeGenerationFlops(config, request, windows);
          expect(closed.total).toBe(decodeGenerationFlopsByStep(config, request, windows));
          expect(closed.firstStep).toBe(decodeStepFlops(config, { batch, cached: prompt, newTokens: 1 }, windows));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('adds 4 B H N dh per extra attended key per layer to the forward pass at seq N', () => {
    fc.assert(
      fc.property(arbitraryVariant, fc.integer({ min: 1, max: 3 }), ({ config, windows }, batch) => {
        const newTokens = 1 + (config.context_length % Math.min(8, config.context_length));
        const cached = config.context_length - newTokens;
        const forward = sumFlops(forwardMatmulInventory(config, { batch, seq: newTokens }));
        const dh = BigInt(config.head_dim ?? config.d_model / config.num_heads);
        const extraKeys = windows.reduce<bigint>(
          (sum, window) => sum + BigInt(attendedKeys(window, cached, newTokens) - newTokens),
          0n,
        );
        const step = decodeStepFlops(config, { batch, cached, newTokens }, windows);
        expect(step).toBe(forward + 4n * BigInt(batch * config.num_heads * newTokens) * dh * extraKeys);
        // Nothing cached: the step is the forward pass over its new tokens.
        expect(decodeStepFlops(config, { batch, cached: 0, newTokens }, windows)).toBe(forward);
      }),
      { numRuns: 60 },
    );
  });
});

describe('KV cache and fits over random configs', () => {
  it('caches 2 Hkv dh values per position per layer, capped at each window, in every dtype', () => {
    fc.assert(
      fc.property(arbitraryVariant, fc.constantFrom(...INFERENCE_DTYPES), ({ config, windows }, dtype) => {
        const layers = kvCacheLayers(config, windows);
        const format = storageFormat(dtype);
        const kvHeads = BigInt(config.num_kv_heads!);
        const dh = BigInt(config.head_dim ?? config.d_model / config.num_heads);
        // One row is dh values, plus one fp16 scale per 32 for int8 and int4, padded to a byte.
        const bits = { fp32: 32n, fp16: 16n, bf16: 16n, fp8: 8n, int8: 8n, int4: 4n }[dtype];
        const scaleBits = dtype === 'int8' || dtype === 'int4' ? 16n * ((dh + 31n) / 32n) : 0n;
        const row = (dh * bits + scaleBits + 7n) / 8n;
        const perLayer = 2n * kvHeads * row;
        expect(kvCacheBytesPerToken(layers, format)).toBe(BigInt(config.num_layers) * perLayer);
        const t = config.context_length;
        const held = windows.reduce<bigint>((sum, w) => sum + BigInt(w === undefined ? t : Math.min(t, w)), 0n);
        expect(kvCacheBytesPerSequence(layers, format, t)).toBe(held * perLayer);
      }),
      { numRuns: 80 },
    );
  });

  it('finds the largest batch and the longest context that fit, and no larger', () => {
    fc.assert(
      fc.property(
        arbitraryVariant.filter(({ config }) => config.context_length <= 256),
        fc.constantFrom(...INFERENCE_DTYPES),
        fc.integer({ min: 1, max: 8 }),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        ({ config, windows }, kvDtype, batch, spare) => {
          const model = servedModel(config, { kvDtype, cacheLayers: kvCacheLayers(config, windows) });
          const memory = model.weights.total + spare;
          const context = config.context_length;
          const largest = largestServedBatch(model, context, memory);
          if (largest.batch > 0) expect(servedMemoryBytes(model, largest.batch, context)).toBeLessThanOrEqual(memory);
          expect(servedMemoryBytes(model, largest.batch + 1, context)).toBeGreaterThan(memory);
          let scanned = 0;
          for (let t = 1; t <= context && servedMemoryBytes(model, batch, t) <= memory; t++) scanned = t;
          expect(largestServedContext(model, batch, memory, context).context).toBe(scanned);
        },
      ),
      { numRuns: 60 },
    );
  });
});
