import { describe, expect, it } from 'vitest';
import {
  expectedMatmulCount,
  forwardFlopBreakdown,
  forwardMatmulInventory,
  parameterInventory,
  perSequenceFlopPolynomial,
  summarizeParameters,
  sweepSequenceLengths,
} from '../src/analytic/index.js';
import type { ModelConfig } from '../src/config/model_config.js';
import {
  embeddingConventions,
  kaplanForwardPerToken,
  palmTrainingPerToken,
  parameterConventions,
} from '../src/analytic/conventions/index.js';
import { InputError } from '../src/core/errors.js';
import {
  backwardFlopBreakdown,
  backwardMatmulInventory,
  gradientFlow,
  trainingMemory,
  trainingMemoryPolynomial,
  trainingStepFlops,
} from '../src/analytic/training/index.js';

/**
 * Every variant at once, small enough to work out on paper: V = 10 padded to Vp = 12 (multiple
 * of 4), ctx = 8, L = 2, d = 8, H = 4 query heads of dk = 2, Hkv = 2 key/value heads (G = 2,
 * dkv = 4), F = 16, a GELU MLP, LayerNorm, learned positions, biases, lm_head tied.
 */
const gptLike: ModelConfig = {
  name: 'gpt-like',
  source: 'test:gpt-like',
  vocab_size: 10,
  context_length: 8,
  num_layers: 2,
  d_model: 8,
  num_heads: 4,
  d_ff: 16,
  num_kv_heads: 2,
  tie_embeddings: true,
  ffn: 'gelu',
  norm: 'layernorm',
  positions: 'learned',
  bias: true,
  vocab_multiple: 4,
};
const run = { batch: 2, seq: 3 };

/**
 * Multi-query attention with the seed's other choices and a padded untied lm_head: V = 10 padded
 * to 16, L = 1, d = 8, H = 4, Hkv = 1 (dkv = 2), F = 12, swiglu, RMSNorm, RoPE, no biases.
 */
const multiQuery: ModelConfig = {
  name: 'multi-query',
  source: 'test:multi-query',
  vocab_size: 10,
  context_length: 8,
  num_layers: 1,
  d_model: 8,
  num_heads: 4,
  d_ff: 12,
  num_kv_heads: 1,
  vocab_multiple: 8,
};

describe('parameters of every variant, by hand', () => {
  it('lists the GPT-like model weight by weight in model order', () => {
    const rows = parameterInventory(gptLike).map((row) => [row.path, row.name, row.shape]);
    const layer = (i: number) => [
      [`layers.${i}.ln1`, 'gain', [8]],
      [`layers.${i}.ln1`, 'bias', [8]],
      [`layers.${i}.attn.q_proj`, 'weight', [8, 8]],
      [`layers.${i}.attn.q_proj`, 'bias', [8]],
      [`layers.${i}.attn.k_proj`, 'weight', [8, 4]],
      [`layers.${i}.attn.k_proj`, 'bias', [4]],
      [`layers.${i}.attn.v_proj`, 'weight', [8, 4]],
      [`layers.${i}.attn.v_proj`, 'bias', [4]],
      [`layers.${i}.attn.output_proj`, 'weight', [8, 8]],
      [`layers.${i}.attn.output_proj`, 'bias', [8]],
      [`layers.${i}.ln2`, 'gain', [8]],
      [`layers.${i}.ln2`, 'bias', [8]],
      [`layers.${i}.ffn.w1`, 'weight', [8, 16]],
      [`layers.${i}.ffn.w1`, 'bias', [16]],
      [`layers.${i}.ffn.w2`, 'weight', [16, 8]],
      [`layers.${i}.ffn.w2`, 'bias', [8]],
    ];
    expect(rows).toEqual([
      ['token_embeddings', 'weight', [12, 8]],
      ['position_embeddings', 'weight', [8, 8]],
      ...layer(0),
      ...layer(1),
      ['ln_final', 'gain', [8]],
      ['ln_final', 'bias', [8]],
      // no lm_head row: it reuses token_embeddings
    ]);
  });

  it('sums the GPT-like model to 1,232 with the tied table counted once', () => {
    // per layer: ln1 16 + q 72 + k 36 + v 36 + o 72 + ln2 16 + w1 144 + w2 136 = 528
    const summary = summarizeParameters(gptLike);
    expect(summary.perLayer).toBe(528n);
    expect(summary.byComponent).toEqual({
      token_embeddings: 96n,
      position_embeddings: 64n,
      attention: 2n * (72n + 36n + 36n + 72n),
      ffn: 2n * (144n + 136n),
      norms: 2n * 32n + 16n,
      lm_head: 0n,
      // a dense model has no mixture of experts
      router: 0n,
      routed_experts: 0n,
      latent_projections: 0n,
      shared_experts: 0n,
    });
    expect(summary.total).toBe(96n + 64n + 2n * 528n + 16n); // 1,232
    expect(summary.nonEmbedding).toBe(1232n - 96n - 64n);
    expect(summary.tiedEmbeddings).toBe(true);
    expect(summary.notes).toHaveLength(2);
    expect(summary.notes[0]).toContain('counted once, under token_embeddings');
    expect(summary.notes[1]).toContain('padded to 12');
    expect(summary.notes[1]).toContain('2 padding row(s)');
    // untied, the same model adds lm_head [d, Vp] = 96
    expect(summarizeParameters({ ...gptLike, tie_embeddings: false }).total).toBe(1232n + 96n);
  });

  it('sums the multi-query model to 728 with a padded untied lm_head', () => {
    // emb 16*8 = 128; layer: ln1 8, q 64, k 8*2 = 16, v 16, o 64, ln2 8, w1 96, w2 96, w3 96 = 464; ln_final 8; lm_head 8*16 = 128
    const summary = summarizeParameters(multiQuery);
    expect(summary.perLayer).toBe(464n);
    expect(summary.byComponent.lm_head).toBe(128n);
    expect(summary.total).toBe(728n);
    expect(summary.nonEmbedding).toBe(600n);
    expect(parameterInventory(multiQuery).map((row) => row.path)).toContain('layers.0.ffn.w3');
  });

  it('counts the learned position table in parameters, so a sweep past the context says the table grows', () => {
    const [point] = sweepSequenceLengths(gptLike, [16]);
    expect(point?.parameters).toBe(1232n + 8n * 8n); // 8 more position rows of d = 8
    expect(point?.label).toContain('learned position table grows to 16 rows');
  });
});

describe('forward matmuls of every variant, by hand', () => {
  it('runs 8 matmuls per GELU layer in execution order, k and v of width dkv, lm_head over the padded vocabulary', () => {
    const rows = forwardMatmulInventory(gptLike, run);
    expect(rows).toHaveLength(2 * 8 + 1);
    expect(expectedMatmulCount(gptLike)).toBe(17);
    expect(rows.slice(0, 8).map((row) => [row.path, row.batch, row.m, row.k, row.n, row.flops])).toEqual([
      ['layers.0.attn.q_proj', [2], 3, 8, 8, 768n], // 2 * 2*3*8*8
      ['layers.0.attn.k_proj', [2], 3, 8, 4, 384n],
      ['layers.0.attn.v_proj', [2], 3, 8, 4, 384n],
      ['layers.0.attn.scores', [2, 4], 3, 2, 3, 288n], // H = 4 score matrices, not Hkv = 2
      ['layers.0.attn.weighted_sum', [2, 4], 3, 3, 2, 288n],
      ['layers.0.attn.output_proj', [2], 3, 8, 8, 768n],
      ['layers.0.ffn.w1', [2], 3, 8, 16, 1536n],
      ['layers.0.ffn.w2', [2], 3, 16, 8, 1536n],
    ]);
    const lmHead = rows[16];
    expect([lmHead?.path, lmHead?.m, lmHead?.k, lmHead?.n, lmHead?.flops]).toEqual(['lm_head', 3, 8, 12, 1152n]);
    expect(lmHead?.description).toContain('E^T');
    expect(lmHead?.symbolicShapes).toBe('[B,T,d] x [d,Vp]');
    expect(rows[1]?.symbolicShapes).toBe('[B,T,d] x [d,dkv]');
    expect(rows[3]?.symbolicShapes).toBe('[B,H,T,dk] x [B,Hkv,dk,T]');
  });

  it('totals 13,056 FLOPs, the per-sequence polynomial 1984 T + 64 T^2 at T = 3 times B = 2', () => {
    // linear = 2L(2d^2 + 2 d dkv + 2 d F) + 2 d Vp = 4 (128 + 64 + 256) + 192; quadratic = 4 L d
    expect(perSequenceFlopPolynomial(gptLike)).toEqual({ constant: 0n, linear: 1984n, quadratic: 64n });
    const breakdown = forwardFlopBreakdown(gptLike, run);
    expect(breakdown.total).toBe(2n * (1984n * 3n + 64n * 9n));
    expect(breakdown.byComponent).toEqual({
      attention_projections: 2n * (768n + 384n + 384n + 768n),
      attention_core: 2n * (288n + 288n),
      ffn: 2n * (1536n + 1536n),
      lm_head: 1152n,
      // a dense model has no mixture of experts
      router: 0n,
      routed_experts: 0n,
      latent_projections: 0n,
      shared_experts: 0n,
    });
  });

  it('keeps w3 and its order w1, w3, w2 for swiglu under multi-query attention', () => {
    const rows = forwardMatmulInventory(multiQuery, { batch: 1, seq: 2 });
    expect(rows.map((row) => row.path.replace('layers.0.', ''))).toEqual([
      'attn.q_proj',
      'attn.k_proj',
      'attn.v_proj',
      'attn.scores',
      'attn.weighted_sum',
      'attn.output_proj',
      'ffn.w1',
      'ffn.w3',
      'ffn.w2',
      'lm_head',
    ]);
    expect(rows[1]?.n).toBe(2);
    expect(rows[9]?.n).toBe(16);
    expect(expectedMatmulCount(multiQuery)).toBe(10);
  });

  it('refuses key/value heads that do not divide the query heads, and a vocab multiple below 1', () => {
    expect(() => forwardMatmulInventory({ ...multiQuery, num_kv_heads: 3 }, run)).toThrow(InputError);
    expect(() => forwardMatmulInventory({ ...multiQuery, num_kv_heads: 3 }, run)).toThrow(
      'test:multi-query: num_kv_heads (3) must be a positive divisor of num_heads (4)',
    );
    expect(() => forwardMatmulInventory({ ...multiQuery, vocab_multiple: 0 }, run)).toThrow('vocab_multiple (0)');
  });
});

type Expected = [path: string, operand: string, batch: number[], m: number, k: number, n: number];

describe('backward matmuls of every variant, by calculus', () => {
  it('gives grouped k and v gradients one matmul over the G*T query rows sharing them, and the tied table its own layout', () => {
    // B = 2, T = 3, N = 6; G = 2 query heads per key/value head, Hkv = 2
    const rows = backwardMatmulInventory(gptLike, run).map((row): Expected => [
      row.path,
      row.operand,
      [...row.batch],
      row.m,
      row.k,
      row.n,
    ]);
    expect(rows.slice(0, 16)).toEqual([
      ['layers.0.attn.q_proj', 'x', [], 6, 8, 8],
      ['layers.0.attn.q_proj', 'W', [], 8, 6, 8],
      ['layers.0.attn.k_proj', 'x', [], 6, 4, 8], // dx = dy Wk^T: [N, dkv] x [dkv, d]
      ['layers.0.attn.k_proj', 'W', [], 8, 6, 4],
      ['layers.0.attn.v_proj', 'x', [], 6, 4, 8],
      ['layers.0.attn.v_proj', 'W', [], 8, 6, 4],
      ['layers.0.attn.scores', 'q', [2, 4], 3, 3, 2], // dq = dS k per query head
      ['layers.0.attn.scores', 'k', [2, 2], 3, 6, 2], // dk = dS^T q summed over the group: k = G*T
      ['layers.0.attn.weighted_sum', 'P', [2, 4], 3, 2, 3],
      ['layers.0.attn.weighted_sum', 'v', [2, 2], 3, 6, 2],
      ['layers.0.attn.output_proj', 'x', [], 6, 8, 8],
      ['layers.0.attn.output_proj', 'W', [], 8, 6, 8],
      ['layers.0.ffn.w1', 'x', [], 6, 16, 8],
      ['layers.0.ffn.w1', 'W', [], 8, 6, 16],
      ['layers.0.ffn.w2', 'x', [], 6, 8, 16],
      ['layers.0.ffn.w2', 'W', [], 16, 6, 8],
    ]);
    expect(rows.slice(32)).toEqual([
      ['lm_head', 'x', [], 6, 12, 8], // dx = dy E: [N, Vp] x [Vp, d]
      ['lm_head', 'E', [], 12, 6, 8], // dE = dy^T x: [Vp, N] x [N, d]
    ]);
    expect(backwardFlopBreakdown(gptLike, run).total).toBe(2n * 13056n);
  });

  it('routes the tied lm_head gradient through token_embeddings when freezing, and knows no lm_head or w3 to freeze', () => {
    const frozenTable = backwardMatmulInventory(gptLike, run, { frozen: ['token_embeddings'] });
    const skipped = frozenTable.filter((row) => row.skipped !== undefined);
    expect(skipped.map((row) => [row.path, row.operand])).toEqual([['lm_head', 'E']]);
    expect(skipped[0]?.skipped).toContain('token_embeddings is frozen');
    expect(() => gradientFlow(gptLike, { frozen: ['lm_head'] })).toThrow(InputError);
    expect(() => gradientFlow(gptLike, { frozen: ['layers.0.ffn.w3'] })).toThrow(InputError);
  });

  it('keeps the residual stream trained through the position table when the token table is frozen', () => {
    // Freeze every parameter of the first block's attention input but the position table.
    const flow = gradientFlow(gptLike, { frozen: ['token_embeddings', 'layers.0.ln1'] });
    expect(flow.layers[0]?.attentionInput).toBe(true);
    const noPositions = gradientFlow(
      { ...gptLike, positions: 'rope' },
      { frozen: ['token_embeddings', 'layers.0.ln1'] },
    );
    expect(noPositions.layers[0]?.attentionInput).toBe(false);
  });
});

describe('training memory and step of every variant, by hand', () => {
  it('lists the GELU block, the position add and the padded logits, and holds one gradient per parameter', () => {
    const memory = trainingMemory(gptLike, run);
    const shapes = (rows: typeof memory.activations.perLayer) => rows.map((row) => [row.name, row.shape.numeric]);
    expect(shapes(memory.activations.initial)).toEqual([['position add', [2, 3, 8]]]);
    expect(shapes(memory.activations.perLayer)).toEqual([
      ['ln1', [2, 3, 8]],
      ['q', [2, 3, 8]],
      ['k', [2, 3, 4]],
      ['v', [2, 3, 4]],
      ['scores', [2, 4, 3, 3]],
      ['softmax', [2, 4, 3, 3]],
      ['weighted sum', [2, 3, 8]],
      ['output projection', [2, 3, 8]],
      ['ln2', [2, 3, 8]],
      ['w1', [2, 3, 16]],
      ['GELU', [2, 3, 16]],
      ['w2', [2, 3, 8]],
    ]);
    expect(shapes(memory.activations.final)).toEqual([
      ['final norm', [2, 3, 8]],
      ['logits', [2, 3, 12]],
      ['cross-entropy', [2, 3, 12]],
    ]);
    // elements: 48 + 2 * (6*48 + 2*24 + 2*72 + 2*96) + (48 + 72 + 72) = 48 + 2*672 + 192
    expect(memory.activations.total).toBe(4n * 1584n);
    expect(memory.parameterCount).toBe(1232n);
    expect(memory.gradients).toBe(4n * 1232n); // the tied table has one gradient buffer
    expect(memory.total).toBe(16n * 1232n + 4n * 1584n);
    expect(trainingMemoryPolynomial(gptLike, 3).symbolic).toBe(
      '16 P + 4 B (T d + L (6 T d + 2 T dkv + 2 T F + 2 H T^2) + T d + 2 T Vp)',
    );
  });

  it('charges AdamW for the 1,232 real parameters', () => {
    const step = trainingStepFlops(gptLike, run);
    expect(step.forward).toBe(13056n);
    expect(step.backward).toBe(26112n);
    expect(step.optimizer).toBe(14n * 1232n); // 14 FLOPs per parameter (src/analytic/training/adamw.ts)
  });
});

describe('conventions of every variant, by hand', () => {
  it("leaves both tables out of Kaplan's N and keeps the tied table in PaLM's", () => {
    const N = parameterConventions(gptLike);
    expect(N).toMatchObject({
      withEmbeddings: 1232n,
      withoutEmbeddings: 1232n - 96n - 64n,
      withoutLookupTables: 1232n - 64n,
      embeddingTable: 96n,
      positionTable: 64n,
      tiedEmbeddings: true,
    });
    expect(N.notes.withoutLookupTables).toContain('token_embeddings (tied, it does the logits matmul)');
    // Kaplan: 2N + 2 L T d_attn, d_attn = H dk = 8 (query heads)
    expect(kaplanForwardPerToken(gptLike, run)).toBe(2n * 1072n + 2n * 2n * 3n * 8n);
    // PaLM: 6N + 12 L H Q T with H = 4 query heads, Q = 2
    expect(palmTrainingPerToken(gptLike, run)).toBe(6n * 1168n + 12n * 2n * 4n * 2n * 3n);
    // one-hot embedding over the padded table: 2 B T Vp d
    expect(embeddingConventions(gptLike, run).oneHotMatmul).toBe(2n * 2n * 3n * 12n * 8n);
  });
});
