/**
 * Random small models that run for real on cpu or meta in a property test: the seed's
 * architecture, or every variant combination, at sizes a tiny forward pass handles in
 * milliseconds. Each test names its own ranges; the record's keys stay in one order so that a
 * test's fast-check seed keeps generating the same configs.
 */
import fc from 'fast-check';
import {
  FFN_KINDS,
  NORM_KINDS,
  POSITION_KINDS,
  type ModelConfig,
  type RunShape,
} from '../../src/config/model_config.js';

export interface SmallModel {
  config: ModelConfig;
  run: RunShape;
}

/** Upper bounds (each from 1, vocab from 2); without `spareContextMax` the context is the run's seq. */
export interface SmallModelRanges {
  source: string;
  vocabMax: number;
  layersMax: number;
  headsMax: number;
  halfHeadDimMax: number;
  ffnMax: number;
  batchMax: number;
  seqMax: number;
  spareContextMax?: number;
}

/** The seed's architecture (SwiGLU, RMSNorm, RoPE, untied, no biases) with its run, and a weight seed when asked for. */
export function arbitrarySmallModel(
  ranges: SmallModelRanges & { seedMax: number },
): fc.Arbitrary<SmallModel & { seed: number }>;
export function arbitrarySmallModel(ranges: SmallModelRanges): fc.Arbitrary<SmallModel>;
export function arbitrarySmallModel(
  ranges: SmallModelRanges & { seedMax?: number },
): fc.Arbitrary<SmallModel & { seed?: number }> {
  return fc
    .record({
      vocab: fc.integer({ min: 2, max: ranges.vocabMax }),
      layers: fc.integer({ min: 1, max: ranges.layersMax }),
      heads: fc.integer({ min: 1, max: ranges.headsMax }),
      halfHeadDim: fc.integer({ min: 1, max: ranges.halfHeadDimMax }),
      ffn: fc.integer({ min: 1, max: ranges.ffnMax }),
      batch: fc.integer({ min: 1, max: ranges.batchMax }),
      seq: fc.integer({ min: 1, max: ranges.seqMax }),
      ...(ranges.spareContextMax === undefined
        ? {}
        : { spareContext: fc.integer({ min: 0, max: ranges.spareContextMax }) }),
      ...(ranges.seedMax === undefined ? {} : { seed: fc.integer({ min: 0, max: ranges.seedMax }) }),
    })
    .map(({ vocab, layers, heads, halfHeadDim, ffn, batch, seq, spareContext, seed }) => ({
      config: {
        name: 'random-small',
        source: ranges.source,
        vocab_size: vocab,
        context_length: seq + (spareContext ?? 0),
        num_layers: layers,
        d_model: heads * 2 * halfHeadDim, // dk = 2 * halfHeadDim: RoPE rotates pairs
        num_heads: heads,
        d_ff: ffn,
      } satisfies ModelConfig,
      run: { batch, seq } satisfies RunShape,
      ...(seed === undefined ? {} : { seed }),
    }));
}

/** Upper bounds of the variant dimensions shared by the config-only and the run arbitraries. */
interface VariantRanges {
  source: string;
  vocabMax: number;
  vocabMultiples: readonly number[];
}

interface VariantDraw {
  vocab: number;
  vocabMultiple: number;
  layers: number;
  kvHeads: number;
  group: number;
  headDim: number;
  ffnWidth: number;
  ffn: (typeof FFN_KINDS)[number];
  norm: (typeof NORM_KINDS)[number];
  positions: (typeof POSITION_KINDS)[number];
  bias: boolean;
  tie: boolean;
  ropeTheta: number;
}

/** The record's keys, with `context` after the FFN width and the run's keys last, where each test drew them. */
function variantRecord<Context extends object, Run extends object>(
  ranges: VariantRanges,
  context: { [K in keyof Context]: fc.Arbitrary<Context[K]> },
  run: { [K in keyof Run]: fc.Arbitrary<Run[K]> },
): fc.Arbitrary<VariantDraw & Context & Run> {
  const record = fc.record({
    vocab: fc.integer({ min: 2, max: ranges.vocabMax }),
    vocabMultiple: fc.constantFrom(...ranges.vocabMultiples),
    layers: fc.integer({ min: 1, max: 2 }),
    kvHeads: fc.integer({ min: 1, max: 3 }),
    group: fc.integer({ min: 1, max: 3 }),
    headDim: fc.integer({ min: 1, max: 4 }),
    ffnWidth: fc.integer({ min: 1, max: 12 }),
    ...context,
    // The variants of the GPT-2 and Llama families; GeGLU and the newer features have arbitraryDenseRun.
    ffn: fc.constantFrom<(typeof FFN_KINDS)[number]>('swiglu', 'gelu'),
    norm: fc.constantFrom(...NORM_KINDS),
    positions: fc.constantFrom(...POSITION_KINDS),
    bias: fc.boolean(),
    tie: fc.boolean(),
    ropeTheta: fc.constantFrom(10000, 500000),
    ...run,
  });
  return record as fc.Arbitrary<VariantDraw & Context & Run>;
}

function variantConfigOf(v: VariantDraw, contextLength: number, source: string): ModelConfig {
  const numHeads = v.kvHeads * v.group; // group 1: multi-head; kvHeads 1: multi-query; else grouped
  const dk = v.positions === 'rope' ? 2 * Math.ceil(v.headDim / 2) : v.headDim; // RoPE rotates pairs
  return {
    name: 'random-variant',
    source,
    vocab_size: v.vocab,
    context_length: contextLength,
    num_layers: v.layers,
    d_model: numHeads * dk,
    num_heads: numHeads,
    d_ff: v.ffnWidth,
    num_kv_heads: v.kvHeads,
    tie_embeddings: v.tie,
    ffn: v.ffn,
    norm: v.norm,
    positions: v.positions,
    bias: v.bias,
    vocab_multiple: v.vocabMultiple,
    rope_theta: v.ropeTheta,
  };
}

/**
 * Every variant combination at tiny sizes: kv heads H, 1 or a proper divisor; both FFNs, norms,
 * position kinds; biases; tying; padding. A context of 1 to `contextMax` tokens.
 */
export function arbitraryVariantConfig(ranges: VariantRanges & { contextMax: number }): fc.Arbitrary<ModelConfig> {
  return variantRecord(ranges, { context: fc.integer({ min: 1, max: ranges.contextMax }) }, {}).map((v) =>
    variantConfigOf(v, v.context, ranges.source),
  );
}

/** The same variants with a run of 1 to `batchMax` sequences of 1 to `seqMax` tokens, spare context and a weight seed. */
export function arbitraryVariantRun(
  ranges: VariantRanges & { batchMax: number; seqMax: number; spareContextMax: number; seedMax: number },
): fc.Arbitrary<SmallModel & { seed: number }> {
  const run = {
    batch: fc.integer({ min: 1, max: ranges.batchMax }),
    seq: fc.integer({ min: 1, max: ranges.seqMax }),
    spareContext: fc.integer({ min: 0, max: ranges.spareContextMax }),
    seed: fc.integer({ min: 0, max: ranges.seedMax }),
  };
  return variantRecord(ranges, {}, run).map((v) => ({
    config: variantConfigOf(v, v.seq + v.spareContext, ranges.source),
    run: { batch: v.batch, seq: v.seq } satisfies RunShape,
    seed: v.seed,
  }));
}
