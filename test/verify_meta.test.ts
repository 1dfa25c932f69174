import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listPresets, loadModelConfig } from '../src/config/index.js';
import { architectureOf, DEFAULT_ARCHITECTURE, type ModelConfig } from '../src/config/model_config.js';
import { UnavailableError } from '../src/core/errors.js';
import { META_KERNELS } from '../src/meta/index.js';
import type { ModelParts } from '../src/model/index.js';
import { verdictLine } from '../src/views/verify_report.js';
import { verifyModel } from '../src/verify/index.js';

/**
 * Forward matmul FLOPs of one sequence in closed form, independently of src/analytic: per layer
 * 2T(4d^2 + 3dF) for the projections and FFN and 4T^2 d for the attention core; 2TdV for lm_head.
 */
function forwardFlops(config: ModelConfig, seq: number): bigint {
  const [L, d, F, V] = [config.num_layers, config.d_model, config.d_ff, config.vocab_size].map(BigInt) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const T = BigInt(seq);
  return L * (2n * T * (4n * d * d + 3n * d * F) + 4n * T * T * d) + 2n * T * d * V;
}

/**
 * Presets of the seed's architecture (multi-head attention, SwiGLU, RMSNorm, RoPE, untied, no
 * biases or padding), checked here against the seed's closed form (9L + 1 matmuls). Every preset,
 * the architecture variants included, is verified at full context in test/verify_variants.test.ts.
 */
function seedArchitecture(config: ModelConfig): boolean {
  const architecture = architectureOf(config);
  return (
    architecture.num_kv_heads === config.num_heads &&
    architecture.ffn === DEFAULT_ARCHITECTURE.ffn &&
    architecture.norm === DEFAULT_ARCHITECTURE.norm &&
    architecture.positions === DEFAULT_ARCHITECTURE.positions &&
    !architecture.any_bias &&
    // None of the newer dense features (test/dense_presets_meta.test.ts verifies those presets).
    architecture.q_dim === config.d_model &&
    !architecture.fused_qkv &&
    !architecture.fused_gate_up &&
    !architecture.qk_norm &&
    !architecture.post_norms &&
    architecture.tie_embeddings === DEFAULT_ARCHITECTURE.tie_embeddings &&
    architecture.padded_vocab_size === config.vocab_size
  );
}

const SEED_ARCHITECTURE_PRESETS = listPresets().filter((name) => seedArchitecture(loadModelConfig(name)));

describe('verify on the meta backend at full size', () => {
  let baseline = 0;

  beforeAll(async () => {
    // The engine's per-kernel leak check: every kernel's outputs must be accounted for.
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
  });

  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('covers the course presets among the seed-architecture presets', () => {
    expect(SEED_ARCHITECTURE_PRESETS).toEqual(
      expect.arrayContaining(['tiny', 'gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl']),
    );
  });

  it.each(SEED_ARCHITECTURE_PRESETS)('verifies %s at its full context length exactly', async (name) => {
    const config = loadModelConfig(name);
    const verification = await verifyModel({ config, run: { batch: 1, seq: config.context_length }, backend: 'meta' });
    expect(verification.backend.name).toBe('meta');
    expect(verification.ok).toBe(true);
    expect(verification.matmulKernelCount).toBe(9 * config.num_layers + 1);
    expect(verification.matmuls.tracedTotal).toBe(forwardFlops(config, config.context_length));
    expect(verification.nonMatmul.uncounted).toEqual([]);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('verifies GPT-2 XL at 1,024 tokens with the seed-problem total of 4,513,336,524,800 FLOPs', async () => {
    const config = loadModelConfig('gpt2-xl');
    const verification = await verifyModel({ config, run: { batch: 1, seq: 1024 }, backend: 'meta' });
    // 48 * (2*1024*(4*1600^2 + 3*1600*6400) + 4*1024^2*1600) + 2*1024*1600*50257, by hand.
    expect(verification.matmuls.expectedTotal).toBe(4_513_336_524_800n);
    expect(verdictLine(verification)).toBe(
      'verified: 433 of 433 matmuls match exactly (4,513,336,524,800 FLOPs) on meta',
    );
  });

  it('verifies GPT-2 XL at 16,384 tokens exactly and releases every tensor', async () => {
    const config = loadModelConfig('gpt2-xl', { context_length: 16_384 });
    const verification = await verifyModel({ config, run: { batch: 1, seq: 16_384 }, backend: 'meta' });
    expect(verification.ok).toBe(true);
    expect(verification.matmuls.matchedCount).toBe(433);
    expect(verification.matmuls.tracedTotal).toBe(forwardFlops(config, 16_384));
    // The attention core grows with T^2: at 16k it is 48 * 4 * 16384^2 * 1600 FLOPs.
    const core = verification.matmuls.byComponent.find((entry) => entry.component === 'attention_core');
    expect(core?.traced).toBe(48n * 4n * 16_384n * 16_384n * 1_600n);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('verifies a batch on meta with the batch folded into the rows', async () => {
    const config = loadModelConfig('gpt2-small');
    const verification = await verifyModel({ config, run: { batch: 4, seq: 256 }, backend: 'meta' });
    expect(verification.ok).toBe(true);
    expect(verification.matmuls.tracedTotal).toBe(4n * forwardFlops(config, 256));
  });

  it('stops with the kernel and the backend named when meta lacks a kernel, and releases every tensor', async () => {
    expect(META_KERNELS).not.toContain('Atan');
    const atanSoftmax: Partial<ModelParts> = { softmax: (scores) => tf.atan(scores) };
    const config = loadModelConfig('tiny');
    const attempt = verifyModel({ config, run: { batch: 1, seq: 8 }, backend: 'meta', parts: atanSoftmax });
    await expect(attempt).rejects.toBeInstanceOf(UnavailableError);
    await expect(
      verifyModel({ config, run: { batch: 1, seq: 8 }, backend: 'meta', parts: atanSoftmax }),
    ).rejects.toThrow(
      'the meta backend has no kernel "Atan" yet; run on --backend wasm or cpu for this model, or add src/meta/kernels/atan.ts',
    );
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
