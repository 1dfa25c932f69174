import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listPresets, loadModelConfig } from '../src/config/index.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { registerMetaBackend } from '../src/meta/index.js';
import type { ModelParts } from '../src/model/index.js';
import { path } from '../src/core/module_paths.js';
import { verifyModel } from '../src/verify/index.js';
import type { MatmulComparison } from '../src/verify/matmul_check.js';
import { verifyTraining, type TrainingVerification } from '../src/verify/verify_training.js';
import { arbitraryVariantRun } from './helpers/arbitrary_small_model.js';
import { everyVariantConfig } from './helpers/small_configs.js';

/**
 * The sizes every check below compares against, written from the architecture's definition and
 * independent of src/analytic: Vp = V rounded up to vocab_multiple, dkv = Hkv * d / H, c = 3 FFN
 * matrices (SwiGLU) or 2 (GELU MLP), n = 1 vector per norm (RMSNorm) or 2 (LayerNorm).
 */
function sizes(config: ModelConfig) {
  const multiple = config.vocab_multiple ?? 1;
  const Vp = Math.ceil(config.vocab_size / multiple) * multiple;
  const Hkv = config.num_kv_heads ?? config.num_heads;
  const dk = config.head_dim ?? config.d_model / config.num_heads;
  const matrices = config.ffn === 'gelu' ? 2 : 3;
  const normVectors = config.norm === 'layernorm' ? 2 : 1;
  return { Vp, Hkv, dk, dq: config.num_heads * dk, dkv: Hkv * dk, G: config.num_heads / Hkv, matrices, normVectors };
}

/**
 * Matmul kernels of one forward pass: per layer q, k, v, scores, weighted sum, output and the FFN's
 * matrices; then lm_head. A fused qkv_proj is one kernel for three, a fused gate_up one for two.
 */
function matmulCount(config: ModelConfig): number {
  const fused = (config.fused_qkv === true ? 2 : 0) + (config.fused_gate_up === true ? 1 : 0);
  return config.num_layers * (6 + sizes(config).matrices - fused) + 1;
}

/**
 * Parameters: Vp d + [learned] ctx d + L (2 d^2 + 2 d dkv + c d F + 2 n d + [bias] (2d + 2 dkv + (c - 1) F + d))
 * + n d + [untied] d Vp. A tied table is counted once.
 */
function parameters(config: ModelConfig): bigint {
  const { Vp, dkv, matrices, normVectors } = sizes(config);
  const [d, F, L] = [config.d_model, config.d_ff, config.num_layers];
  const biases = config.bias === true ? 2 * d + 2 * dkv + (matrices - 1) * F + d : 0;
  const perLayer = 2 * d * d + 2 * d * dkv + matrices * d * F + 2 * normVectors * d + biases;
  const positions = config.positions === 'learned' ? config.context_length * d : 0;
  const lmHead = config.tie_embeddings === true ? 0 : d * Vp;
  return BigInt(Vp * d + positions) + BigInt(L) * BigInt(perLayer) + BigInt(normVectors * d + lmHead);
}

/**
 * Forward matmul FLOPs, 2 per multiply-add, N = B T tokens: per layer 2N (2 d dq + 2 d dkv + c d F) for
 * the projections and FFN, 4 B T^2 dq for the core (H score matrices of T x T x dk, and the weighted
 * sums, whatever Hkv); then 2 N d Vp for lm_head. dq = H dk is d unless head_dim is its own.
 */
function forwardFlops(config: ModelConfig, run: RunShape): bigint {
  const { Vp, dq, dkv, matrices } = sizes(config);
  const [d, F, L] = [config.d_model, config.d_ff, config.num_layers].map(BigInt) as [bigint, bigint, bigint];
  const [B, T] = [BigInt(run.batch), BigInt(run.seq)];
  const N = B * T;
  // q and the attention output are dq = H dh wide (d unless head_dim is its own).
  const perLayer =
    2n * N * (2n * d * BigInt(dq) + 2n * d * BigInt(dkv) + BigInt(matrices) * d * F) + 4n * B * T * T * BigInt(dq);
  return L * perLayer + 2n * N * d * BigInt(Vp);
}

const variantRun = arbitraryVariantRun({
  source: 'test/verify_variants.test.ts',
  vocabMax: 24,
  vocabMultiples: [1, 4, 8],
  batchMax: 2,
  seqMax: 6,
  spareContextMax: 3,
  seedMax: 1000,
});

/** The traced kernel shapes at `modulePath`, batch dims folded into rows: "rows x k x n". */
function tracedShapesAt(comparison: MatmulComparison, modulePath: string): string[] {
  return comparison.checks
    .filter((check) => check.path === modulePath && check.traced !== undefined)
    .map(({ traced }) => `${traced!.shape.rows}x${traced!.shape.k}x${traced!.shape.n}`)
    .sort();
}

function expectExactTwo(verification: TrainingVerification): void {
  const labelled = [
    ...verification.modules.map((entry) => [entry.path, entry.ratio] as const),
    ...verification.components.map((entry) => [entry.component, entry.ratio] as const),
    ['total', verification.total.ratio] as const,
  ];
  for (const [label, ratio] of labelled) expect(ratio, label).toEqual({ numerator: 2n, denominator: 1n });
}

describe('verify every variant on cpu, forward and training step', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it('30 seeded random configs across all variant combinations match exactly, forward and backward', async () => {
    await fc.assert(
      fc.asyncProperty(variantRun, async ({ config, run, seed }) => {
        const matmuls = matmulCount(config);
        const flops = forwardFlops(config, run);
        const forward = await verifyModel({ config, run, backend: 'cpu', seed });
        expect(forward.matmuls.mismatches).toEqual([]);
        expect(forward.ok).toBe(true);
        expect(forward.matmulKernelCount).toBe(matmuls);
        expect(forward.matmuls.tracedTotal).toBe(flops);

        const training = await verifyTraining({ config, run, backend: 'cpu', seed });
        expect(training.forward.mismatches).toEqual([]);
        expect(training.backward.mismatches).toEqual([]);
        expect(training.ok).toBe(true);
        expect(training.forward.matchedCount).toBe(matmuls);
        expect(training.backward.matchedCount).toBe(2 * matmuls);
        expect(training.skippedBackwardRows).toEqual([]);
        expect(training.total.forward).toBe(flops);
        expect(training.total.backward).toBe(2n * flops);
        expectExactTwo(training);

        const { Vp, Hkv, G, dk } = sizes(config);
        const [B, T, d, N] = [run.batch, run.seq, config.d_model, run.batch * run.seq];
        // lm_head's two gradients: a tied table's is formed in its own [Vp, d] layout.
        expect(tracedShapesAt(training.backward, path.lmHead)).toEqual(
          [`${N}x${Vp}x${d}`, config.tie_embeddings === true ? `${Vp}x${N}x${d}` : `${d}x${N}x${Vp}`].sort(),
        );
        // The scores' gradients: dq per query head, dk per shared key head summed over its G query heads.
        expect(tracedShapesAt(training.backward, path.scores(0))).toEqual(
          [`${B * config.num_heads * T}x${T}x${dk}`, `${B * Hkv * T}x${G * T}x${dk}`].sort(),
        );

        // AdamW touched every parameter once (a tied table once): 14 FLOPs each as the update runs.
        const P = parameters(config);
        expect(training.optimizer.parameterCount).toBe(P);
        expect(training.optimizer.traced).toBe(14n * P);
        // Weights, m and v in fp32 and the int32 ids and targets, nothing else, before the step.
        expect(training.memory.measured.tensorBytesBefore).toBe(Number(12n * P) + 8 * N);
        expect(Number.isFinite(training.loss)).toBe(true);
        expect(tf.memory().numTensors).toBe(0);
      }),
      { numRuns: 30, seed: 7_07_2026 },
    );
  });

  it('releases every tensor when a variant module throws in a training step', async () => {
    const config: ModelConfig = {
      name: 'gpt-like',
      source: 'test/verify_variants.test.ts',
      vocab_size: 9,
      context_length: 6,
      num_layers: 2,
      d_model: 8,
      num_heads: 4,
      d_ff: 8,
      num_kv_heads: 2,
      tie_embeddings: true,
      ffn: 'gelu',
      norm: 'layernorm',
      positions: 'learned',
      bias: true,
    };
    const plantings: Partial<ModelParts>[] = [
      {
        geluMlp: () => {
          throw new Error('planted failure in the forward pass');
        },
      },
      {
        // A norm whose backward pass throws, after the forward pass has run.
        layerNorm: (x) =>
          tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
            value: tf.mul(inputs[0] as tf.Tensor, 1),
            gradFunc: () => {
              throw new Error('planted failure in the backward pass');
            },
          }))(x) as tf.Tensor3D,
      },
    ];
    for (const parts of plantings) {
      await expect(verifyTraining({ config, run: { batch: 2, seq: 6 }, backend: 'cpu', parts })).rejects.toThrow(
        'planted failure',
      );
      expect(tf.memory().numTensors).toBe(0);
    }
  });
});

describe('verify a variant model on wasm', () => {
  // Off on wasm: a clone copies there, so the loss's kept logits count as a leak (src/model/cross_entropy.ts).
  beforeAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('grouped-query attention, the GELU MLP, LayerNorm, learned positions, biases, tied and padded vocabulary: forward and training step exact', async () => {
    const config = everyVariantConfig('test/verify_variants.test.ts');
    const run = { batch: 2, seq: 8 };
    const forward = await verifyModel({ config, run, backend: 'wasm', seed: 3 });
    expect(forward.backend.name).toBe('wasm');
    expect(forward.ok).toBe(true);
    expect(forward.matmulKernelCount).toBe(17); // 8 per GELU layer + lm_head
    const training = await verifyTraining({ config, run, backend: 'wasm', seed: 3 });
    expect(training.ok).toBe(true);
    expect(training.backward.matchedCount).toBe(34);
    expectExactTwo(training);
    expect(training.optimizer.traced).toBe(14n * parameters(config));
    expect(tf.memory().numTensors).toBe(0);
  });
});

const NEW_PRESETS = [
  'gpt2-original-small',
  'gpt2-original-medium',
  'gpt2-original-large',
  'gpt2-original-xl',
  'llama-2-7b',
  'llama-3-8b',
  'mistral-7b',
  'tinyllama-1.1b',
];

describe('every preset on meta at its full context length', () => {
  let baseline = 0;

  beforeAll(async () => {
    // The engine's per-kernel leak check: every kernel's outputs must be accounted for.
    tf.env().set('IS_TEST', true);
    registerMetaBackend();
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
  });

  afterAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('covers the seed GPT-2 presets and the eight variant presets', () => {
    expect(listPresets()).toEqual(
      expect.arrayContaining(['tiny', 'gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl', ...NEW_PRESETS]),
    );
  });

  // The mixture-of-experts presets verify at full context in test/moe_presets_meta.test.ts, with closed forms of their own.
  it.each(listPresets().filter((name) => loadModelConfig(name).num_experts === undefined))(
    'verifies %s exactly',
    async (name) => {
      const config = loadModelConfig(name);
      const run = { batch: 1, seq: config.context_length };
      const verification = await verifyModel({ config, run, backend: 'meta' });
      expect(verification.backend.name).toBe('meta');
      expect(verification.matmuls.mismatches).toEqual([]);
      expect(verification.ok).toBe(true);
      expect(verification.matmulKernelCount).toBe(matmulCount(config));
      expect(verification.matmuls.tracedTotal).toBe(forwardFlops(config, run));
      expect(verification.nonMatmul.uncounted).toEqual([]);
      expect(tf.memory().numTensors).toBe(baseline);
    },
  );

  it('Mistral-7B at 32,768 tokens: 32 x 4 T^2 d of attention core, the same as with 32 key/value heads', async () => {
    const config = loadModelConfig('mistral-7b');
    expect(config.context_length).toBe(32_768);
    const verification = await verifyModel({ config, run: { batch: 1, seq: 32_768 }, backend: 'meta' });
    const core = verification.matmuls.byComponent.find((entry) => entry.component === 'attention_core');
    // 32 layers * 4 * 32768^2 * 4096 = 562,949,953,421,312.
    expect(core?.traced).toBe(562_949_953_421_312n);
    // k and v project to dkv = 8 * 128 = 1024: 2 * 32768 * 4096 * 1024 FLOPs each.
    const kProj = verification.matmuls.checks.find((check) => check.path === path.attnProjection(0, 'k_proj'));
    expect(kProj?.traced?.flops).toBe(274_877_906_944n);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it.each(['gpt2-original-small', 'tinyllama-1.1b'])(
    'verifies a training step of %s at full context exactly',
    async (name) => {
      const config = loadModelConfig(name);
      const run = { batch: 1, seq: config.context_length };
      const training = await verifyTraining({ config, run, backend: 'meta' });
      expect(training.ok).toBe(true);
      expect(training.backward.matchedCount).toBe(2 * matmulCount(config));
      expect(training.total.backward).toBe(2n * forwardFlops(config, run));
      expect(training.optimizer.parameterCount).toBe(parameters(config));
      expect(tf.memory().numTensors).toBe(baseline);
    },
  );
});
