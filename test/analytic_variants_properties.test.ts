import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  expectedMatmulCount,
  forwardFlopBreakdown,
  forwardMatmulInventory,
  MATMUL_COMPONENTS,
  perSequenceFlopPolynomial,
  summarizeParameters,
} from '../src/analytic/index.js';
import { FFN_KINDS, NORM_KINDS, POSITION_KINDS, type ModelConfig } from '../src/config/model_config.js';
import { parameterConventions } from '../src/analytic/conventions/index.js';
import { layerIndexOf } from '../src/core/module_paths.js';
import { backwardFlopBreakdown, backwardMatmulInventory, trainingMemory } from '../src/analytic/training/index.js';
import { withRunShape } from './helpers/arbitrary_config.js';

/** Every variant combination: GQA/MQA/MHA, tied or not, both FFNs, both norms, both position kinds, biases, padding. */
const arbitraryVariantConfig: fc.Arbitrary<ModelConfig> = fc
  .record({
    vocab_size: fc.integer({ min: 1, max: 60_000 }),
    vocab_multiple: fc.integer({ min: 1, max: 128 }),
    context_length: fc.integer({ min: 1, max: 4096 }),
    num_layers: fc.integer({ min: 1, max: 12 }),
    num_kv_heads: fc.integer({ min: 1, max: 8 }),
    group: fc.integer({ min: 1, max: 8 }),
    headDim: fc.integer({ min: 1, max: 64 }),
    d_ff: fc.integer({ min: 1, max: 4096 }),
    tie_embeddings: fc.boolean(),
    // The GPT-2 and Llama families' FFNs; GeGLU and the newer features are test/dense_features*.test.ts's.
    ffn: fc.constantFrom<(typeof FFN_KINDS)[number]>('swiglu', 'gelu'),
    norm: fc.constantFrom(...NORM_KINDS),
    positions: fc.constantFrom(...POSITION_KINDS),
    bias: fc.boolean(),
  })
  .map(({ headDim, group, ...fields }) => {
    const num_heads = fields.num_kv_heads * group;
    // RoPE rotates pairs, so its head width is even; learned positions allow any width
    const dk = fields.positions === 'rope' ? 2 * Math.ceil(headDim / 2) : headDim;
    return { name: 'random-variant', source: 'test:random-variant', ...fields, num_heads, d_model: num_heads * dk };
  });

const arbitraryConfigAndRun = withRunShape(arbitraryVariantConfig, 16);

const sumOf = (values: bigint[]): bigint => values.reduce((a, b) => a + b, 0n);
const RUNS = { numRuns: 80 };

/**
 * Parameters written out independently of the inventory, with Vp = V rounded up to the multiple,
 * dkv = Hkv * d / H, c = 3 FFN matrices (swiglu) or 2 (gelu), n = 1 vector per norm (RMSNorm)
 * or 2 (LayerNorm):
 *   Vp d + [learned] ctx d + L (2d^2 + 2 d dkv + c d F + 2 n d + [bias] (2d + 2 dkv + biasFfn)) + n d + [untied] d Vp
 * biasFfn = 2F + d (swiglu: w1, w3, w2) or F + d (gelu: w1, w2).
 */
function closedFormParameters(config: ModelConfig): bigint {
  const V = BigInt(config.vocab_size);
  const m = BigInt(config.vocab_multiple ?? 1);
  const Vp = ((V + m - 1n) / m) * m;
  const d = BigInt(config.d_model);
  const L = BigInt(config.num_layers);
  const F = BigInt(config.d_ff);
  const dkv = (BigInt(config.num_kv_heads ?? config.num_heads) * d) / BigInt(config.num_heads);
  const swiglu = (config.ffn ?? 'swiglu') === 'swiglu';
  const c = swiglu ? 3n : 2n;
  const n = config.norm === 'layernorm' ? 2n : 1n;
  const biases = config.bias === true ? 2n * d + 2n * dkv + (swiglu ? 2n * F + d : F + d) : 0n;
  const positions = config.positions === 'learned' ? BigInt(config.context_length) * d : 0n;
  const lmHead = config.tie_embeddings === true ? 0n : d * Vp;
  return Vp * d + positions + L * (2n * d * d + 2n * d * dkv + c * d * F + 2n * n * d + biases) + n * d + lmHead;
}

describe('analytic accounting over random configs across all variant combinations', () => {
  it('counts parameters as the independent closed form; rows, components and layers sum to the total', () => {
    fc.assert(
      fc.property(arbitraryVariantConfig, (config) => {
        const summary = summarizeParameters(config);
        expect(summary.total).toBe(closedFormParameters(config));
        expect(sumOf(summary.rows.map((r) => r.count))).toBe(summary.total);
        expect(sumOf(Object.values(summary.byComponent))).toBe(summary.total);
        const outsideLayers = sumOf(summary.rows.filter((r) => layerIndexOf(r.path) === undefined).map((r) => r.count));
        expect(summary.perLayer * BigInt(config.num_layers) + outsideLayers).toBe(summary.total);
        expect(summary.nonEmbedding).toBe(
          summary.total - summary.byComponent.token_embeddings - summary.byComponent.position_embeddings,
        );
        const N = parameterConventions(config);
        expect(N.withEmbeddings - N.withoutEmbeddings).toBe(N.embeddingTable + N.positionTable);
        expect(N.withoutLookupTables).toBe(
          config.tie_embeddings === true ? N.withoutEmbeddings + N.embeddingTable : N.withoutEmbeddings,
        );
      }),
      RUNS,
    );
  });

  it('ties embeddings by removing exactly Vp * d parameters and nothing else', () => {
    fc.assert(
      fc.property(arbitraryVariantConfig, (config) => {
        const m = config.vocab_multiple ?? 1;
        const Vp = BigInt(Math.ceil(config.vocab_size / m) * m);
        const tied = summarizeParameters({ ...config, tie_embeddings: true });
        const untied = summarizeParameters({ ...config, tie_embeddings: false });
        expect(tied.total).toBe(untied.total - Vp * BigInt(config.d_model));
        expect(untied.byComponent.lm_head).toBe(Vp * BigInt(config.d_model));
        expect(tied.byComponent.lm_head).toBe(0n);
        expect(tied.byComponent.token_embeddings).toBe(untied.byComponent.token_embeddings);
        // the logits matmul runs either way, at the same size
        const run = { batch: 1, seq: 1 };
        expect(forwardFlopBreakdown({ ...config, tie_embeddings: true }, run).total).toBe(
          forwardFlopBreakdown({ ...config, tie_embeddings: false }, run).total,
        );
      }),
      RUNS,
    );
  });

  it('has expectedMatmulCount rows, L (gelu 8, swiglu 9) + 1, each with flops = 2 * batch * m * k * n', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const rows = forwardMatmulInventory(config, run);
        const perLayer = config.ffn === 'gelu' ? 8 : 9;
        expect(expectedMatmulCount(config)).toBe(perLayer * config.num_layers + 1);
        expect(rows).toHaveLength(expectedMatmulCount(config));
        // One comparison for the whole inventory: a per-row expect costs more than the counting.
        expect(rows.map((row) => [row.flops, row.macs * 2n])).toEqual(
          rows.map((row) => {
            const batchElements = row.batch.reduce((a, b) => a * BigInt(b), 1n);
            const flops = 2n * batchElements * BigInt(row.m) * BigInt(row.k) * BigInt(row.n);
            return [flops, flops];
          }),
        );
      }),
      RUNS,
    );
  });

  it('matches the per-sequence polynomial a + b*T + c*T^2 exactly, and is linear in the batch', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const { constant, linear, quadratic } = perSequenceFlopPolynomial(config);
        const T = BigInt(run.seq);
        const perSequence = forwardFlopBreakdown(config, { batch: 1, seq: run.seq }).total;
        expect(perSequence).toBe(constant + linear * T + quadratic * T * T);
        expect(forwardFlopBreakdown(config, run).total).toBe(BigInt(run.batch) * perSequence);
      }),
      RUNS,
    );
  });

  it('gives every forward matmul two gradient matmuls of its size, so backward = 2 x forward per component', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const forward = forwardMatmulInventory(config, run);
        const backward = backwardMatmulInventory(config, run);
        const size = (r: { batch: readonly number[]; m: number; k: number; n: number }) =>
          r.batch.reduce((a, b) => a * BigInt(b), 1n) * BigInt(r.m) * BigInt(r.k) * BigInt(r.n);
        // One comparison for the whole inventory: a per-row expect costs more than the counting.
        expect(
          backward.map((gradient) => ({ path: gradient.path, size: size(gradient), skipped: gradient.skipped })),
        ).toEqual(
          forward.flatMap((row) => {
            const gradient = { path: row.path, size: size(row), skipped: undefined };
            return [gradient, gradient];
          }),
        );
        const forwardFlops = forwardFlopBreakdown(config, run);
        const backwardFlops = backwardFlopBreakdown(config, run);
        for (const component of MATMUL_COMPONENTS) {
          expect(backwardFlops.byComponent[component]).toBe(2n * forwardFlops.byComponent[component]);
        }
      }),
      RUNS,
    );
  });

  it('holds 16 bytes per real parameter plus the activations in training memory', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const memory = trainingMemory(config, run);
        expect(memory.parameterCount).toBe(closedFormParameters(config));
        expect(memory.total - memory.activations.total).toBe(16n * memory.parameterCount);
        expect(memory.activations.initial).toHaveLength(config.positions === 'learned' ? 1 : 0);
        expect(memory.activations.perLayer).toHaveLength(config.ffn === 'gelu' ? 12 : 14);
      }),
      RUNS,
    );
  });

  it("makes num_kv_heads = num_heads exactly plain multi-head attention, and explicit defaults the seed's model", () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const { num_kv_heads: _kv, ...withoutKv } = config;
        const multiHead: ModelConfig = { ...withoutKv };
        const explicit: ModelConfig = { ...withoutKv, num_kv_heads: config.num_heads };
        expect(summarizeParameters(explicit)).toEqual(summarizeParameters(multiHead));
        expect(forwardMatmulInventory(explicit, run)).toEqual(forwardMatmulInventory(multiHead, run));
        expect(backwardMatmulInventory(explicit, run)).toEqual(backwardMatmulInventory(multiHead, run));
        expect(trainingMemory(explicit, run)).toEqual(trainingMemory(multiHead, run));

        const seed: ModelConfig = {
          name: config.name,
          source: config.source,
          vocab_size: config.vocab_size,
          context_length: config.context_length,
          num_layers: config.num_layers,
          d_model: config.d_model,
          num_heads: config.num_heads,
          d_ff: config.d_ff,
        };
        const seedSpelledOut: ModelConfig = {
          ...seed,
          num_kv_heads: config.num_heads,
          tie_embeddings: false,
          ffn: 'swiglu',
          norm: 'rmsnorm',
          positions: 'rope',
          bias: false,
          vocab_multiple: 1,
          rope_theta: 10000,
        };
        expect(forwardMatmulInventory(seedSpelledOut, run)).toEqual(forwardMatmulInventory(seed, run));
        expect(backwardMatmulInventory(seedSpelledOut, run)).toEqual(backwardMatmulInventory(seed, run));
        expect(summarizeParameters(seedSpelledOut)).toEqual(summarizeParameters(seed));
      }),
      { numRuns: 40 },
    );
  });

  it('keeps the attention core at H score matrices whatever the key/value heads', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const { num_kv_heads: _kv, ...multiHead } = config;
        const grouped = forwardFlopBreakdown(config, run);
        const plain = forwardFlopBreakdown(multiHead, run);
        expect(grouped.byComponent.attention_core).toBe(plain.byComponent.attention_core);
        expect(grouped.byComponent.attention_core).toBe(
          4n * BigInt(config.num_layers) * BigInt(run.batch) * BigInt(config.d_model) * BigInt(run.seq) ** 2n,
        );
        // k and v shrink by Hkv / H: plain - grouped = L * 2 * 2 B T d (d - dkv)
        const dkv = BigInt(((config.num_kv_heads ?? config.num_heads) * config.d_model) / config.num_heads);
        const d = BigInt(config.d_model);
        const BT = BigInt(run.batch) * BigInt(run.seq);
        expect(plain.byComponent.attention_projections - grouped.byComponent.attention_projections).toBe(
          BigInt(config.num_layers) * 4n * BT * d * (d - dkv),
        );
      }),
      RUNS,
    );
  });
});
