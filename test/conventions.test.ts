import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/config/model_config.js';
import {
  attentionCoreConventions,
  countingConventions,
  divideRationals,
  embeddingConventions,
  exactForwardPerToken,
  exactTrainingPerToken,
  kaplanForwardPerToken,
  palmTrainingPerToken,
  parameterConventions,
  publishedApproximations,
  rational,
  rationalToNumber,
  sixNPerToken,
  type ConventionKey,
  type PublishedApproximationKey,
} from '../src/analytic/conventions/index.js';
import { GPT2_XL } from './helpers/gpt2_shapes.js';

/**
 * Small enough to work out on paper: V 10, L 2, d 8, H 2 (dk 4), F 16, one sequence of T 4.
 *
 * Parameters: token_embeddings V*d = 80; per layer ln1 8 + attn 4*8*8 = 256 + ln2 8 + ffn
 * 3*8*16 = 384, i.e. 656, so 1312 for two layers; ln_final 8; lm_head 80.
 * Total 80 + 1312 + 8 + 80 = 1480; without the embedding table 1400.
 *
 * Forward FLOPs (B 1, T 4), per layer: projections 4 * 2*4*8*8 = 2048; attention core full
 * 4*d*T^2 = 4*8*16 = 512; ffn 3 * 2*4*8*16 = 3072; so 5632 per layer and 11264 for two.
 * lm_head 2*4*8*10 = 640. Total 11904 = 2976 per token; MACs 5952.
 */
const hand: ModelConfig = {
  name: 'hand',
  source: 'test:hand',
  vocab_size: 10,
  context_length: 8,
  num_layers: 2,
  d_model: 8,
  num_heads: 2,
  d_ff: 16,
};
const handRun = { batch: 1, seq: 4 };

const xl = GPT2_XL;
const xlRun = { batch: 1, seq: 1024 };

function countOf(key: ConventionKey) {
  const count = countingConventions(hand, handRun).counts.find((c) => c.key === key);
  if (count === undefined) throw new Error(`no count ${key}`);
  return count;
}

function approximation(config: ModelConfig, run: { batch: number; seq: number }, key: PublishedApproximationKey) {
  const found = publishedApproximations(config, run).find((a) => a.key === key);
  if (found === undefined) throw new Error(`no approximation ${key}`);
  return found;
}

describe('rational', () => {
  it('keeps lowest terms with a positive denominator', () => {
    expect(rational(2928n, 2976n)).toEqual({ numerator: 61n, denominator: 62n });
    expect(rational(3n, -6n)).toEqual({ numerator: -1n, denominator: 2n });
    expect(divideRationals(rational(1n, 3n), rational(2n, 9n))).toEqual({ numerator: 3n, denominator: 2n });
    expect(() => rational(1n, 0n)).toThrow(RangeError);
  });
});

describe('counting conventions on a hand-sized model', () => {
  it('counts N with and without the embedding table', () => {
    expect(parameterConventions(hand)).toMatchObject({
      withEmbeddings: 1480n,
      withoutEmbeddings: 1400n,
      // untied and RoPE: only the token table is a lookup-only table, so PaLM's N is Kaplan's
      withoutLookupTables: 1400n,
      embeddingTable: 80n,
      positionTable: 0n,
      tiedEmbeddings: false,
    });
  });

  it('counts FLOPs and MACs of the same matmuls', () => {
    expect(countOf('flops').value).toBe(11904n);
    expect(countOf('macs').value).toBe(5952n);
    expect(countOf('macs').ratioToDefault).toEqual({ numerator: 1n, denominator: 2n });
  });

  it('counts causal attention in full, as the T(T+1)/2 triangle and as half', () => {
    // Triangle, per head: query rows see 1, 2, 3, 4 keys = 10 scores of dk 4 -> 10*2*4 = 80
    // FLOPs, and P @ v the same 80; 160 per head, x 2 heads x 2 layers = 640.
    // One 64-position block holds all 4 positions, so blocked computes every score, as dense does;
    // with no window the useful count is the triangle.
    expect(attentionCoreConventions(hand, handRun)).toEqual({
      full: 1024n,
      causalTriangle: 640n,
      half: 512n,
      useful: 640n,
      blocked: { block: 64, flops: 1024n },
      counted: 'dense',
    });
    expect(countOf('attention_causal_triangle').value).toBe(11904n - 1024n + 640n);
    expect(countOf('attention_half').value).toBe(11904n - 512n);
  });

  it('has the triangle equal to full at T = 1 and exceed half by the diagonal 2*L*B*d*T', () => {
    expect(attentionCoreConventions(hand, { batch: 3, seq: 1 })).toEqual({
      full: 192n,
      causalTriangle: 192n,
      half: 96n,
      useful: 192n,
      blocked: { block: 64, flops: 192n },
      counted: 'dense',
    });
    const at8 = attentionCoreConventions(hand, { batch: 3, seq: 8 });
    expect(at8.causalTriangle - at8.half).toBe(2n * 2n * 3n * 8n * 8n);
  });

  it('counts the embedding as a lookup and as a one-hot matmul', () => {
    // onehot[1, 4, 10] @ E[10, 8]: 2*1*4*10*8 = 640.
    expect(embeddingConventions(hand, handRun)).toEqual({ lookup: 0n, oneHotMatmul: 640n });
    expect(countOf('embedding_one_hot').value).toBe(12544n);
  });

  it('counts logits in and out', () => {
    expect(countingConventions(hand, handRun).lmHeadFlops).toBe(640n);
    expect(countOf('logits_excluded').value).toBe(11264n);
    expect(countOf('logits_excluded').ratioToDefault).toEqual(rational(11264n, 11904n));
  });

  it('scales every forward count with the batch', () => {
    const one = countingConventions(hand, handRun);
    const five = countingConventions(hand, { batch: 5, seq: 4 });
    for (const [index, count] of five.counts.entries()) {
      const single = one.counts[index]!;
      expect(count.value).toBe(count.unit === 'parameters' ? single.value : 5n * single.value);
    }
  });
});

describe('published approximations on the hand-sized model', () => {
  it('Kaplan: 2N + 2*n_layer*n_ctx*d_attn = 2*1400 + 2*2*4*8 = 2928 against exact 2976 per token', () => {
    expect(kaplanForwardPerToken(hand, handRun)).toBe(2928n);
    expect(exactForwardPerToken(hand, handRun)).toEqual(rational(2976n));
    // 2928/2976 = (48*61)/(48*62)
    expect(approximation(hand, handRun, 'kaplan_forward').ratio).toEqual({ numerator: 61n, denominator: 62n });
  });

  it('PaLM: 6N + 12*L*H*Q*T = 8400 + 12*2*2*4*4 = 9168 against exact training 3*2976 = 8928', () => {
    expect(palmTrainingPerToken(hand, handRun)).toBe(9168n);
    expect(exactTrainingPerToken(hand, handRun)).toEqual(rational(8928n));
    // 9168/8928 = 191/186; the excess 240 is 6 x the 40 norm gains, which do no matmul work.
    expect(approximation(hand, handRun, 'palm_training').ratio).toEqual({ numerator: 191n, denominator: 186n });
  });

  it('6N: 6*1480 = 8880 and 6*1400 = 8400 against 8928', () => {
    expect(sixNPerToken(1480n)).toBe(8880n);
    expect(approximation(hand, handRun, 'six_n_with_embeddings').value).toBe(8880n);
    expect(approximation(hand, handRun, 'six_n_with_embeddings').ratio).toEqual({ numerator: 185n, denominator: 186n });
    expect(approximation(hand, handRun, 'six_n_without_embeddings').value).toBe(8400n);
    expect(approximation(hand, handRun, 'six_n_without_embeddings').ratio).toEqual({
      numerator: 175n,
      denominator: 186n,
    });
  });

  it('divides a batch total by B*T exactly', () => {
    // B 3, T 3: total = 3 * (2720*3 + 64*9) = 3 * 8736 = 26208 (per-sequence polynomial 2720T + 64T^2), per token 2912.
    expect(exactForwardPerToken(hand, { batch: 3, seq: 3 })).toEqual(rational(2912n));
  });
});

describe('published approximations for GPT-2 XL at T = 1024', () => {
  // N = 2,127,057,600 with embeddings; the table V*d = 80,411,200; without: 2,046,646,400.
  // Exact forward per token = 2L(4d^2 + 3dF) + 2dV + 4LdT
  //   = 3,932,160,000 + 160,822,400 + 314,572,800 = 4,407,555,200.
  it('Kaplan: 2*2,046,646,400 + 2*48*1024*1600 = 4,250,579,200', () => {
    const kaplan = approximation(xl, xlRun, 'kaplan_forward');
    expect(kaplan.value).toBe(4_250_579_200n);
    expect(kaplan.exact).toEqual(rational(4_407_555_200n));
    expect(kaplan.ratio).toEqual(rational(4_250_579_200n, 4_407_555_200n));
    expect(rationalToNumber(kaplan.ratio)).toBeCloseTo(0.964385, 6);
  });

  it('PaLM: 6*2,046,646,400 + 12*48*25*64*1024 = 13,223,596,800 against 13,222,665,600', () => {
    const palm = approximation(xl, xlRun, 'palm_training');
    expect(palm.value).toBe(13_223_596_800n);
    expect(palm.exact).toEqual(rational(13_222_665_600n));
    // The whole difference is 6 x the 155,200 norm gains (97 vectors of 1600).
    expect(palm.value - palm.exact.numerator).toBe(6n * 97n * 1600n);
  });

  it('6N with and without embeddings', () => {
    expect(approximation(xl, xlRun, 'six_n_with_embeddings').value).toBe(12_762_345_600n);
    expect(approximation(xl, xlRun, 'six_n_without_embeddings').value).toBe(12_279_878_400n);
  });

  it('MACs are half the 4,513,336,524,800 forward FLOPs', () => {
    const xlConventions = countingConventions(xl, xlRun);
    expect(xlConventions.forwardFlops).toBe(4_513_336_524_800n);
    expect(xlConventions.forwardMacs).toBe(2_256_668_262_400n);
  });
});
