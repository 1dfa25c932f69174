import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../src/config/model_config.js';
import { loadPreset } from '../src/config/presets.js';
import { evaluatePolynomial, savedActivations } from '../src/analytic/training/index.js';

const POINTS: readonly (readonly [number, number])[] = [
  [1, 1],
  [2, 7],
  [3, 64],
  [8, 1024],
];

/** Saved bytes of the whole step at B sequences of T tokens. */
const savedAt = (config: ModelConfig, batch: number, seq: number, activationBytes = 4n, lossBytes = activationBytes) =>
  evaluatePolynomial(savedActivations(config, { activationBytes, lossBytes }).total, batch, seq);

describe('saved activations of the seed architecture (RMSNorm, RoPE, SwiGLU, untied, no biases)', () => {
  /**
   * From the definitions, per block and token, in elements of a bytes each unless fp32:
   *   ln1: its input x (d) and rstd (1, fp32); q, k, v: their shared input (d), held once
   *   q k^T: q and k after RoPE (d + d); softmax: P (H T per token), which P v reads too; P v: v (d)
   *   output_proj: the weighted sum (d); ln2: its input (d) and rstd (1, fp32); w1, w3: their shared input (d)
   *   SiLU: x W1 (F); the product: SiLU(x W1) and x W3 (2F); w2: the product (F)
   * = a (8 d + 4 F) + a H T + 2 x 4 bytes; after the last block ln_final's input and rstd, its output
   * (lm_head's input) and the loss's softmax over V: a 2 d + 4 + l V.
   */
  const closedForm = (config: ModelConfig, B: number, T: number, a: bigint, l: bigint) => {
    const [b, t] = [BigInt(B), BigInt(T)];
    const { d_model: d, d_ff: F, num_heads: H, vocab_size: V, num_layers: L } = config;
    const perLayer = a * (8n * BigInt(d) + 4n * BigInt(F)) * t + a * BigInt(H) * t * t + 8n * t;
    return b * (BigInt(L) * perLayer + (2n * a * BigInt(d) + 4n + l * BigInt(V)) * t);
  };
  const seed: ModelConfig = {
    name: 'seed',
    source: 'test:seed',
    vocab_size: 11,
    context_length: 1024,
    num_layers: 3,
    d_model: 8,
    num_heads: 2,
    d_ff: 12,
  };

  for (const config of [seed, loadPreset('llama-2-7b')]) {
    it(`${config.name}: fp32 and bf16 with an fp32 loss, at every (B, T)`, () => {
      for (const [B, T] of POINTS) {
        expect(savedAt(config, B, T)).toBe(closedForm(config, B, T, 4n, 4n));
        expect(savedAt(config, B, T, 2n, 4n)).toBe(closedForm(config, B, T, 2n, 4n));
      }
    });
  }

  it('holds a tensor several backward passes read once, naming every reader', () => {
    const { perLayer } = savedActivations(seed);
    const readers = (name: string) => perLayer.tensors.filter((tensor) => tensor.name === name).map((t) => t.readBy);
    expect(readers('ln1 output')).toEqual([['attn.q_proj', 'attn.k_proj', 'attn.v_proj']]);
    expect(readers('softmax output P')).toEqual([['attn.softmax', 'attn.weighted_sum']]);
    expect(readers('ln2 output')).toEqual([['ffn.w1', 'ffn.w3']]);
    // No scores tensor: the softmax's backward reads its output, and the mask is added, not selected.
    expect(perLayer.tensors.filter((tensor) => tensor.symbolic.includes('H'))).toHaveLength(1);
  });
});

describe('saved activations of GPT-2 as OpenAI released it (LayerNorm, GELU MLP, biases, learned positions, tied)', () => {
  /**
   * Per block and token: ln1 input (d) with mean and rstd (2, fp32); the q/k/v input (d); q, k (2d);
   * P (H T); v (d); the weighted sum (d); ln2 input (d) with mean and rstd; the w1 input (d); x W1 (F)
   * for GELU; GELU(x W1) (F) for w2 = a (8 d + 2 F) + a H T + 4 x 4 bytes. The biases, the position
   * add and the tied table keep nothing. After the last block: a 2 d + 8 + l V.
   */
  const closedForm = (config: ModelConfig, B: number, T: number, a: bigint, l: bigint) => {
    const [b, t] = [BigInt(B), BigInt(T)];
    const { d_model: d, d_ff: F, num_heads: H, vocab_size: V, num_layers: L } = config;
    const perLayer = a * (8n * BigInt(d) + 2n * BigInt(F)) * t + a * BigInt(H) * t * t + 16n * t;
    return b * (BigInt(L) * perLayer + (2n * a * BigInt(d) + 8n + l * BigInt(V)) * t);
  };
  for (const name of ['gpt2-original-small', 'gpt2-original-xl']) {
    const config = loadPreset(name);
    it(`${name}: fp32 and bf16 with an fp32 loss, at every (B, T)`, () => {
      for (const [B, T] of POINTS) {
        expect(savedAt(config, B, T)).toBe(closedForm(config, B, T, 4n, 4n));
        expect(savedAt(config, B, T, 2n, 4n)).toBe(closedForm(config, B, T, 2n, 4n));
      }
    });
  }

  it("is Korthikanti et al.'s 34 s b h + 5 a s^2 b per layer without its dropout, plus the norms' statistics", () => {
    // Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
    // section 4.1, 16-bit activations, F = 4h: 34 s b h + 5 a s^2 b. Without dropout the three
    // masks (s b h twice, a s^2 b once) go, and the dropout's output over P is P itself, held
    // once (2 a s^2 b fewer): 32 s b h + 2 a s^2 b. The paper leaves out LayerNorm's fp32 mean and
    // rstd, 2 x 2 x 4 = 16 bytes per token.
    const config = loadPreset('gpt2-original-medium');
    const { perLayer } = savedActivations(config, { activationBytes: 2n });
    const [s, b, h, a] = [1024n, 4n, BigInt(config.d_model), BigInt(config.num_heads)];
    expect(BigInt(config.d_ff)).toBe(4n * h);
    expect(evaluatePolynomial(perLayer.bytes, 4, 1024)).toBe(
      34n * s * b * h + 5n * a * s * s * b - 2n * s * b * h - 3n * a * s * s * b + 16n * s * b,
    );
  });
});

describe('saved activations of the newer architectures', () => {
  it('counts q/k norms per head, a soft-cap, post-norms, fused projections, GeGLU and head_dim by hand', () => {
    // d 16, H 4, Hkv 2, head_dim 8 (dq 32, dkv 16), F 24, fp32. Per block and token:
    //   ln1 input + rstd          16 + 1        q/k/v input (fused)   16
    //   q_norm input + rstd/head  32 + 4        k_norm input + rstd   16 + 2
    //   q, k after RoPE           32 + 16       v                     16
    //   weighted sum              32            post_attn_norm        16 + 1
    //   ln2 input + rstd          16 + 1        gate_up input         16
    //   [x W1 | x W3]             48            GELU(x W1), product   24 + 24
    //   post_ffn_norm             16 + 1
    // = 346 elements (all 4 bytes) per token, plus per token and T: tanh of the capped scores and P, 2 H.
    const config: ModelConfig = {
      name: 'modern',
      source: 'test:modern',
      vocab_size: 100,
      vocab_multiple: 64,
      context_length: 16,
      num_layers: 2,
      d_model: 16,
      num_heads: 4,
      num_kv_heads: 2,
      head_dim: 8,
      d_ff: 24,
      ffn: 'geglu',
      qk_norm: true,
      fused_qkv: true,
      fused_gate_up: true,
      post_norms: true,
      attn_softcap: 50,
      final_softcap: 30,
      scale_embeddings: true,
    };
    const saved = savedActivations(config);
    expect(saved.perLayer.bytes.perSequence).toEqual([0n, 4n * 346n, 4n * 2n * 4n]);
    // After the last block: ln_final input, rstd and output (16 + 1 + 16), tanh of the capped logits and the
    // loss's softmax over the padded vocabulary (2 x 128).
    expect(saved.final.bytes.perSequence).toEqual([0n, 4n * (33n + 256n)]);
  });
});
