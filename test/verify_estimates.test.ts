import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { nonMatmulEstimate, runMemoryEstimate } from '../src/analytic/index.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { InputError } from '../src/core/errors.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { linear, type ModelParts } from '../src/model/index.js';
import { ruleFor } from '../src/trace/index.js';
import { assertRunFitsMemory, WASM_HEAP_BYTES } from '../src/runtime/memory_guard.js';
import { traceForward } from '../src/runtime/traced_run.js';
import { arbitrarySmallModel } from './helpers/arbitrary_small_model.js';
import { tinyConfig } from './helpers/small_configs.js';

/** The hand-worked model of test/verify.test.ts with one layer: N = B*T = 10 tokens, dk = 4. */
const oneLayer: ModelConfig = { ...tinyConfig('hand-small', 'test/verify_estimates.test.ts'), num_layers: 1 };
const run: RunShape = { batch: 2, seq: 5 };

/**
 * The same dimensions as an original-GPT-2-style block with multi-query attention: LayerNorm,
 * GELU MLP, biases, learned positions, a tied and padded (to 12) vocabulary, one key/value head
 * (dkv = 4).
 */
const variantLayer: ModelConfig = {
  ...oneLayer,
  name: 'hand-variant',
  num_kv_heads: 1,
  ffn: 'gelu',
  norm: 'layernorm',
  positions: 'learned',
  bias: true,
  tie_embeddings: true,
  vocab_multiple: 4,
};

/** Random small models whose context is exactly the run's seq. */
const smallConfig = arbitrarySmallModel({
  source: 'test/verify_estimates.test.ts',
  vocabMax: 40,
  layersMax: 3,
  headsMax: 4,
  halfHeadDimMax: 4,
  ffnMax: 24,
  batchMax: 3,
  seqMax: 9,
});

/**
 * Non-matmul FLOPs under the rule table, in closed form (elementwise 1 per output, a mean of d
 * values d per output, softmax 5n - 2 per row), with N = B*T tokens:
 *   per layer: two RMSNorms 2 * (4Nd + 2N), RoPE 6Nd, scale + mask 2BHT^2 + 3T^2 (the offset of
 *              key and query positions, its comparison with 0, the choice of -inf or 0),
 *              softmax BHT(5T - 2), residuals 2Nd, SiLU and gate 3NF
 *   ln_final:  4Nd + 2N
 */
function nonMatmulClosedForm(config: ModelConfig, shape: RunShape): bigint {
  const [L, d, H, F] = [config.num_layers, config.d_model, config.num_heads, config.d_ff].map(BigInt) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const [B, T] = [BigInt(shape.batch), BigInt(shape.seq)];
  const N = B * T;
  const perLayer =
    2n * (4n * N * d + 2n * N) +
    6n * N * d +
    2n * B * H * T * T +
    3n * T * T +
    B * H * T * (5n * T - 2n) +
    2n * N * d +
    3n * N * F;
  return L * perLayer + 4n * N * d + 2n * N;
}

describe('nonMatmulEstimate', () => {
  it('costs the hand-worked one-layer model at 2,415 + 340 FLOPs', () => {
    const estimate = nonMatmulEstimate(oneLayer, run);
    expect(estimate.total).toBe(2_755n);
    // Per kernel, worked by hand: Square and Mean once per RMSNorm (3 x N*d), Rsqrt 3 x N,
    // Softmax B*H*T = 20 rows of 5*5 - 2 = 23, Sub (key - query position), Greater and Select
    // T^2, Sigmoid N*F; RoPE as x cos + swap(x) sin needs no Sub of its own.
    expect(estimate.byKernel.get('Square')).toBe(240n);
    expect(estimate.byKernel.get('Mean')).toBe(240n);
    expect(estimate.byKernel.get('Rsqrt')).toBe(30n);
    expect(estimate.byKernel.get('Softmax')).toBe(460n);
    expect(estimate.byKernel.get('Greater')).toBe(25n);
    expect(estimate.byKernel.get('Select')).toBe(25n);
    expect(estimate.byKernel.get('Sigmoid')).toBe(120n);
    expect(estimate.byKernel.get('Sub')).toBe(25n);
    // Add: ln eps 2N, RoPE 2Nd, mask B*H*T^2, two residuals 2Nd, ln_final eps N = 20 + 160 + 100 + 160 + 10.
    expect(estimate.byKernel.get('Add')).toBe(450n);
    expect(estimate.byKernel.get('GatherV2')).toBe(0n);
  });

  /**
   * Worked by hand for the variant (N = 10, d = 8, dkv = 4, F = 12, B*H*T^2 = 100, T^2 = 25):
   *   position add Nd = 80; three LayerNorms 3 * (7Nd + 2N) = 1,740; biases on q, k, v, o, w1,
   *   w2: 80 + 40 + 40 + 80 + 120 + 80 = 440; no RoPE; scale and mask 2 * 100 + 3 * 25 = 275;
   *   softmax 20 rows of 23 = 460; residuals 160; GELU (tanh form, 8 kernels) 8 N*F = 960. Total 4,115.
   */
  it('costs the variant block by hand: LayerNorm, biases, learned positions, GELU, no RoPE', () => {
    const estimate = nonMatmulEstimate(variantLayer, run);
    expect(estimate.total).toBe(4_115n);
    expect(estimate.byKernel.get('Tanh')).toBe(120n);
    expect(estimate.byKernel.get('Erf')).toBeUndefined();
    expect(estimate.byKernel.get('Sigmoid')).toBeUndefined();
    expect(estimate.byKernel.get('Reverse')).toBeUndefined();
    // Sub in LayerNorm's x - mean, three of N*d, and the mask's position offset, T^2.
    expect(estimate.byKernel.get('Sub')).toBe(240n + 25n);
    expect(estimate.kernels.some((kernel) => kernel.path === 'position_embeddings' && kernel.kernel === 'Add')).toBe(
      true,
    );
    expect(estimate.kernels.some((kernel) => kernel.path === 'layers.0.ffn.gelu')).toBe(true);
  });

  it('rotates only the key/value heads of k under grouped-query attention', () => {
    const grouped = nonMatmulEstimate({ ...oneLayer, num_kv_heads: 1 }, run);
    const full = nonMatmulEstimate(oneLayer, run);
    // RoPE on k costs 3 * N * dkv instead of 3 * N * d: 3 * 10 * (8 - 4) fewer FLOPs.
    expect(full.total - grouped.total).toBe(120n);
  });

  it('equals the closed form for random configs, and names only kernels the rule table has', () => {
    fc.assert(
      fc.property(smallConfig, ({ config, run: shape }) => {
        const estimate = nonMatmulEstimate(config, shape);
        expect(estimate.total).toBe(nonMatmulClosedForm(config, shape));
        for (const kernel of estimate.kernels) expect(ruleFor(kernel.kernel), kernel.kernel).toBeDefined();
      }),
      { numRuns: 100, seed: 20_240_611 },
    );
  });

  it('equals the closed form for GPT-2 XL at 1,024 tokens', () => {
    const xl: ModelConfig = {
      ...oneLayer,
      name: 'gpt2-xl',
      vocab_size: 50257,
      context_length: 1024,
      num_layers: 48,
      d_model: 1600,
      num_heads: 25,
      d_ff: 6400,
    };
    expect(nonMatmulEstimate(xl, { batch: 1, seq: 1024 }).total).toBe(nonMatmulClosedForm(xl, { batch: 1, seq: 1024 }));
  });
});

describe('runMemoryEstimate', () => {
  /**
   * Worked by hand for the one-layer model (N = 10, d = 8, F = 12, V = 11, H = 2, T = 5, dk = 4):
   *   weights  (2Vd + L(4d^2 + 3dF + 2d) + d) * 4 = (176 + 560 + 8) * 4           = 2,976 B
   *   ids      N * 4                                                              =    40 B
   *   floats per layer: 45 tensors of N*d (norms 6, q k v 3 and their 6 views, 6 head
   *     tensors, 12 of RoPE, P v, merge 2, output 1 + 2 views, residuals 2, w1/w3 input
   *     views 2, w2 output and view 2) + 6 of N + 8 of N*F + 4 of B*H*T^2 + 7 of T^2
   *     (the key - query offset, the fills, their copies, the mask) + 4 positions of T
   *     = 3,600 + 60 + 960 + 400 + 175 + 20                                      = 5,215
   *   floats once: rope tables 2 T*dk + embedding N*d + ln_final 3Nd + 3N + lm_head
   *     input view N*d + logits and view 2NV = 40 + 80 + 270 + 80 + 220          =   690
   *   plus one bool T x T (25 B)
   *   activations (5,215 + 690) * 4 + 25                                         = 23,645 B
   */
  it('matches a hand computation for a one-layer model', () => {
    const estimate = runMemoryEstimate(oneLayer, run);
    expect(estimate.weights).toBe(2_976n);
    expect(estimate.ids).toBe(40n);
    expect(estimate.activations).toBe(23_645n);
    expect(estimate.total).toBe(26_661n);
  });

  /**
   * The variant block by hand (floats unless named): E[ids], positions and their slice 80 + 80 +
   * 40; LayerNorm 5 Nd + 4N = 440 (three times); q and its bias 160, k, v and their biases 160,
   * flattened inputs and q's output 320, k and v outputs 80; heads: q 160, k and v 160, repeated
   * to H heads 320; scores 300 (+ 25 B bool) and their two per-query-head views 200, positions
   * 20, key - query offset 25, mask 150, P 100, P v 80, merge 160,
   * output and bias 160, its views 160, residuals 160; w1 and bias 240, its views 80 + 120, GELU
   * 8 x 120 = 960; w2 input 120, output, view and bias 240; lm_head input 80, E^T 96, logits and
   * view 240, cut to V 110. 6,681 floats = 26,724 B, + 25 B = 26,749 B.
   */
  it('matches a hand computation for the variant block', () => {
    const estimate = runMemoryEstimate(variantLayer, run);
    expect(estimate.activations).toBe(26_749n);
    // Packed for wasm: q, k, v, o (72 + 36 + 36 + 72), w1, w2 (108 + 104) and the tied table (96), biases included.
    expect(runMemoryEstimate(variantLayer, run, { packedMatmulWeights: true }).packedWeights).toBe(524n * 4n);
  });

  it('adds a packed copy of every matmul weight when asked (wasm), and nothing else', () => {
    const plain = runMemoryEstimate(oneLayer, run);
    const packed = runMemoryEstimate(oneLayer, run, { packedMatmulWeights: true });
    expect(plain.packedWeights).toBe(0n);
    // q, k, v, o (4 d^2 = 256), w1, w3, w2 (3dF = 288), lm_head (Vd = 88): 632 floats; not E or the gains.
    expect(packed.packedWeights).toBe(632n * 4n);
    expect(packed.total - plain.total).toBe(2_528n);
  });

  it('scales the per-layer rows with num_layers and the logits with V', () => {
    const one = runMemoryEstimate(oneLayer, run);
    const two = runMemoryEstimate({ ...oneLayer, num_layers: 2 }, run);
    // One more layer: 5,215 floats and 25 bool bytes more activations.
    expect(two.activations - one.activations).toBe(5_215n * 4n + 25n);
    const wider = runMemoryEstimate({ ...oneLayer, vocab_size: 12 }, run);
    // One more vocabulary entry: two logits-sized tensors grow by N floats each.
    expect(wider.activations - one.activations).toBe(2n * 10n * 4n);
  });

  describe('against the bytes tfjs really holds', () => {
    beforeAll(async () => {
      registerMetaBackend();
      await tf.setBackend('cpu');
    });

    it('is above the engine peak of a real forward pass on cpu and on wasm', async () => {
      for (const backend of ['cpu', 'wasm'] as const) {
        let peak = 0;
        // Every intermediate stays alive until forward's tidy ends, so the engine's count after the
        // last projection (lm_head) is the pass's peak.
        const sampling: Partial<ModelParts> = {
          linear: (x, weight) => {
            const y = linear(x, weight);
            peak = Math.max(peak, tf.memory().numBytes);
            return y;
          },
        };
        const before = tf.memory().numBytes;
        const traced = await traceForward({ config: { ...oneLayer, num_layers: 2 }, run, backend, parts: sampling });
        expect(tf.memory().numBytes).toBe(before);
        const estimate = traced.memoryEstimate!;
        // The engine counts tensors; wasm's packed weight copies live outside them.
        const tensorBytes = estimate.total - estimate.packedWeights;
        expect(estimate.packedWeights > 0n, backend).toBe(backend === 'wasm');
        expect(peak - before, backend).toBeGreaterThan(0);
        expect(BigInt(peak - before), backend).toBeLessThanOrEqual(tensorBytes);
        // An estimate that errs high, not wildly: within 1.5x of what the engine counted.
        expect(Number(tensorBytes) / (peak - before), backend).toBeLessThan(1.5);
      }
    });

    it('is above the engine peak on wasm where the scores dominate and the core runs per head', async () => {
      // 8 heads over d 32 at 512 tokens: each block's scores (8 x 512^2 floats, 8.4 MB) dwarf
      // everything else, and per head on wasm the slices and products add two more sets of them.
      const scoresHeavy: ModelConfig = { ...oneLayer, d_model: 32, num_heads: 8, d_ff: 64, context_length: 512 };
      const shape: RunShape = { batch: 1, seq: 512 };
      await tf.setBackend('wasm');
      const before = tf.memory().numBytes;
      let estimate: bigint | undefined;
      const profile = await tf.profile(async () => {
        const traced = await traceForward({ config: scoresHeavy, run: shape, backend: 'wasm' });
        estimate = traced.memoryEstimate!.total - traced.memoryEstimate!.packedWeights;
      });
      expect(tf.memory().numBytes).toBe(before);
      const peak = BigInt(profile.peakBytes - before);
      expect(peak).toBeGreaterThan(3n * 8n * 512n * 512n * 4n);
      expect(peak).toBeLessThanOrEqual(estimate!);
      await tf.setBackend('cpu');
    });

    it('is above every tensor a meta forward pass makes, for random configs', async () => {
      await fc.assert(
        fc.asyncProperty(smallConfig, async ({ config, run: shape }) => {
          const traced = await traceForward({ config, run: shape, backend: 'meta' });
          let made = 0n;
          for (const record of traced.records) {
            for (const output of record.outputs) {
              const elements = BigInt(output.shape.reduce((size, dim) => size * dim, 1));
              made += elements * (output.dtype === 'bool' ? 1n : 4n);
            }
          }
          // The RoPE tables are uploaded without a kernel: T * dk/2 floats each for cos and sin.
          made += 2n * BigInt(shape.seq * (config.d_model / config.num_heads / 2)) * 4n;
          const estimate = runMemoryEstimate(config, shape);
          expect(made).toBeLessThanOrEqual(estimate.activations);
        }),
        { numRuns: 40, seed: 7 },
      );
    });
  });
});

describe('assertRunFitsMemory for a forward pass', () => {
  it('passes a run within the budget and returns its estimate', () => {
    expect(assertRunFitsMemory(oneLayer, run, 'forward', 'cpu', 26_661n).total).toBe(26_661n);
  });

  it('refuses a run over the budget with the estimate, the limit and the fix on one line', () => {
    let error: unknown;
    try {
      assertRunFitsMemory(oneLayer, run, 'forward', 'cpu', 26_660n);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems).toEqual([
      'hand-small at batch 2 x 5 tokens needs about 26.7 kB on cpu (weights 2.98 kB + activations 23.7 kB), ' +
        'over the 26.7 kB budget (--max-memory); use --backend meta to trace shapes without data, or lower --seq/--batch',
    ]);
  });

  it('says when the weights alone do not fit', () => {
    expect(() => assertRunFitsMemory(oneLayer, run, 'forward', 'cpu', 2_000n)).toThrow(
      'over the 2.00 kB budget (--max-memory); use --backend meta to trace shapes without data (the weights alone do not fit)',
    );
  });

  it('holds wasm to its 32-bit heap even when the budget is larger', () => {
    expect(WASM_HEAP_BYTES).toBe(4_294_967_296n);
    // GPT-2 XL's fp32 weights alone are 8,508,230,400 bytes (the seed's anchor); its matmul
    // weights (all but the 80,411,200-entry embedding and the gains) are packed once more.
    const xl: ModelConfig = {
      ...oneLayer,
      name: 'gpt2-xl',
      vocab_size: 50257,
      context_length: 1024,
      num_layers: 48,
      d_model: 1600,
      num_heads: 25,
      d_ff: 6400,
    };
    expect(() => assertRunFitsMemory(xl, { batch: 1, seq: 8 }, 'forward', 'wasm', 10n ** 12n)).toThrow(
      /^gpt2-xl at batch 1 x 8 tokens needs about 16\.\d GB on wasm \(weights 8\.51 GB \+ their packed copies 8\.19 GB \+ activations \d+(\.\d+)? MB\), over the 4\.29 GB a wasm heap can hold \(32-bit WebAssembly memory\); use --backend meta to trace shapes without data \(the weights alone do not fit\)$/,
    );
    // The same run on cpu with that budget fits.
    expect(assertRunFitsMemory(xl, { batch: 1, seq: 8 }, 'forward', 'cpu', 10n ** 12n).weights).toBe(8_508_230_400n);
  });
});
