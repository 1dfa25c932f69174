/**
 * Random small models across the feature space of the newer dense architectures (Qwen2/3,
 * Gemma 2/3, Phi-3, Mistral-Nemo), mixed freely with the older variants: a head_dim of its own,
 * q/k norms, each bias group on or off, fused q/k/v and gate/up projections, SwiGLU, GeGLU or the
 * GELU MLP, scaled embeddings, zero-centred norm gains, post-norms, attention and output
 * soft-caps, and grouped-query attention, LayerNorm, learned positions, tying and padding. Sizes
 * a tiny forward pass and training step handle in milliseconds on cpu.
 */
import fc from 'fast-check';
import type { ModelConfig, RunShape } from '../../src/config/model_config.js';
import type { SmallModel } from './arbitrary_small_model.js';

export interface DenseRanges {
  readonly source: string;
  readonly batchMax: number;
  readonly seqMax: number;
  readonly spareContextMax: number;
  readonly seedMax: number;
}

/** Which linear layers have biases: none, all through the `bias` shorthand, or each group on its own. */
type Biases = 'none' | 'all' | readonly [qkv: boolean, output: boolean, mlp: boolean];

const biases: fc.Arbitrary<Biases> = fc.oneof(
  fc.constant('none' as const),
  fc.constant('all' as const),
  fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
);

/** A soft-cap small enough to bend tiny logits (0.5) or one that barely does (50), or none. */
const cap: fc.Arbitrary<number | undefined> = fc.option(fc.constantFrom(0.5, 2, 50), { nil: undefined, freq: 2 });

export function arbitraryDenseRun(ranges: DenseRanges): fc.Arbitrary<SmallModel & { seed: number }> {
  return fc
    .record({
      vocab: fc.integer({ min: 2, max: 20 }),
      vocabMultiple: fc.constantFrom(1, 4),
      layers: fc.integer({ min: 1, max: 2 }),
      kvHeads: fc.integer({ min: 1, max: 2 }),
      group: fc.integer({ min: 1, max: 3 }),
      halfHeadDim: fc.integer({ min: 1, max: 3 }),
      // A d_model of its own (head_dim explicit), or d = H * dh.
      ownWidth: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined, freq: 2 }),
      ffnWidth: fc.integer({ min: 1, max: 10 }),
      ffn: fc.constantFrom('swiglu' as const, 'geglu' as const, 'gelu' as const),
      norm: fc.constantFrom('rmsnorm' as const, 'layernorm' as const),
      positions: fc.constantFrom('rope' as const, 'learned' as const),
      tie: fc.boolean(),
      biases,
      qkNorm: fc.boolean(),
      fusedQkv: fc.boolean(),
      fusedGateUp: fc.boolean(),
      scaleEmbeddings: fc.boolean(),
      zeroCentered: fc.boolean(),
      postNorms: fc.boolean(),
      attnCap: cap,
      finalCap: cap,
      batch: fc.integer({ min: 1, max: ranges.batchMax }),
      seq: fc.integer({ min: 1, max: ranges.seqMax }),
      spareContext: fc.integer({ min: 0, max: ranges.spareContextMax }),
      seed: fc.integer({ min: 0, max: ranges.seedMax }),
    })
    .map((v) => {
      const numHeads = v.kvHeads * v.group;
      const headDim = 2 * v.halfHeadDim; // even, so RoPE has pairs to rotate
      const biasKeys =
        v.biases === 'none'
          ? {}
          : v.biases === 'all'
            ? { bias: true }
            : { qkv_bias: v.biases[0], output_bias: v.biases[1], mlp_bias: v.biases[2] };
      const config: ModelConfig = {
        name: 'random-dense',
        source: ranges.source,
        vocab_size: v.vocab,
        context_length: v.seq + v.spareContext,
        num_layers: v.layers,
        d_model: v.ownWidth ?? numHeads * headDim,
        num_heads: numHeads,
        d_ff: v.ffnWidth,
        num_kv_heads: v.kvHeads,
        ...(v.ownWidth === undefined ? {} : { head_dim: headDim }),
        tie_embeddings: v.tie,
        ffn: v.ffn,
        norm: v.norm,
        positions: v.positions,
        ...biasKeys,
        qk_norm: v.qkNorm,
        fused_qkv: v.fusedQkv,
        // Only a gated FFN has a W3 to fuse with W1.
        fused_gate_up: v.fusedGateUp && v.ffn !== 'gelu',
        scale_embeddings: v.scaleEmbeddings,
        zero_centered_gain: v.zeroCentered,
        post_norms: v.postNorms,
        ...(v.attnCap === undefined ? {} : { attn_softcap: v.attnCap }),
        ...(v.finalCap === undefined ? {} : { final_softcap: v.finalCap }),
        vocab_multiple: v.vocabMultiple,
      };
      return { config, run: { batch: v.batch, seq: v.seq } satisfies RunShape, seed: v.seed };
    });
}
