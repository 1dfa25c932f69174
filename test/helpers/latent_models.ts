/**
 * Small dense latent-attention models (DeepSeek's attention without experts) shared by the tests
 * that trace them: random dimensions, the fixed model the wasm runs use, and records without times.
 */
import fc from 'fast-check';

import type { ModelConfig } from '../../src/config/index.js';
import type { KernelRecord } from '../../src/core/kernel_record.js';

/** A trace's records without their kernel times, which differ between runs. */
export const untimed = (records: readonly KernelRecord[]) => records.map(({ timeMs: _timeMs, ...rest }) => rest);

/** The dimensions of a latent model; the rope head is even, since RoPE rotates pairs. */
export interface LatentDims {
  readonly vocab: number;
  readonly layers: number;
  readonly d: number;
  readonly heads: number;
  readonly halfRope: number;
  readonly nope: number;
  readonly value: number;
  readonly kvRank: number;
  readonly qRank: number | undefined;
  readonly ffn: number;
}

/** Random latent dimensions, each at most its `max` (a query latent or none). */
export function arbitraryLatentDims(max: Omit<LatentDims, 'layers' | 'heads' | 'halfRope'>): fc.Arbitrary<LatentDims> {
  return fc.record({
    vocab: fc.integer({ min: 2, max: max.vocab }),
    layers: fc.integer({ min: 1, max: 2 }),
    d: fc.integer({ min: 2, max: max.d }),
    heads: fc.integer({ min: 1, max: 3 }),
    halfRope: fc.integer({ min: 1, max: 2 }),
    nope: fc.integer({ min: 1, max: max.nope }),
    value: fc.integer({ min: 1, max: max.value }),
    kvRank: fc.integer({ min: 1, max: max.kvRank }),
    qRank: fc.option(fc.integer({ min: 1, max: max.qRank ?? 1 }), { nil: undefined }),
    ffn: fc.integer({ min: 1, max: max.ffn }),
  });
}

/** The config of `dims` at `context` positions, named by the test file `source`. */
export function latentConfig(dims: LatentDims, context: number, source: string): ModelConfig {
  return {
    name: 'latent',
    source,
    vocab_size: dims.vocab,
    context_length: context,
    num_layers: dims.layers,
    d_model: dims.d,
    num_heads: dims.heads,
    d_ff: dims.ffn,
    kv_lora_rank: dims.kvRank,
    ...(dims.qRank === undefined ? {} : { q_lora_rank: dims.qRank }),
    qk_rope_head_dim: 2 * dims.halfRope,
    qk_nope_head_dim: dims.nope,
    v_head_dim: dims.value,
  };
}

/** The fixed two-layer model the wasm runs use, without a query latent. */
export const smallLatentDims: LatentDims = {
  vocab: 9,
  layers: 2,
  d: 8,
  heads: 2,
  halfRope: 1,
  nope: 3,
  value: 4,
  kvRank: 5,
  qRank: undefined,
  ffn: 6,
};
