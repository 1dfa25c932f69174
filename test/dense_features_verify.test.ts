import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runMemoryEstimate } from '../src/analytic/index.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { traceForward, traceTrainingStep } from '../src/runtime/traced_run.js';
import { verifyModel } from '../src/verify/index.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { recordSignature } from './helpers/meta_signatures.js';

/**
 * The newer dense features (head_dim, q/k norms, split biases, fused projections, GeGLU, scaled
 * embeddings, zero-centred gains, post-norms, soft-caps) against a trace of the real model, on
 * random configs that mix them with each other and with the older variants.
 *
 * The sizes below are written from the definitions and share no code with src/analytic:
 * dq = H dh and dkv = Hkv dh the widths of q and of k and v; Vp = V padded; c = 3 FFN matrices
 * for a gated FFN (SwiGLU, GeGLU; a fused gate_up counts as its two), 2 for the GELU MLP.
 */
function sizes(config: ModelConfig) {
  const H = config.num_heads;
  const Hkv = config.num_kv_heads ?? H;
  const dh = config.head_dim ?? config.d_model / H;
  const multiple = config.vocab_multiple ?? 1;
  const gated = config.ffn !== 'gelu';
  return {
    H,
    Hkv,
    dh,
    dq: H * dh,
    dkv: Hkv * dh,
    Vp: Math.ceil(config.vocab_size / multiple) * multiple,
    gated,
    c: gated ? 3 : 2,
    normVectors: config.norm === 'layernorm' ? 2 : 1,
  };
}

/** Matmul kernels of one forward pass: per layer q, k, v (or qkv), scores, weighted sum, output, then w1, w3, w2 (or gate_up, w2; or w1, w2); then lm_head. */
function matmulCount(config: ModelConfig): number {
  const { gated } = sizes(config);
  const projections = config.fused_qkv === true ? 1 : 3;
  const ffn = gated ? (config.fused_gate_up === true ? 2 : 3) : 2;
  return config.num_layers * (projections + 3 + ffn) + 1;
}

/** Forward matmul FLOPs: per layer 2N (d dq + 2 d dkv + dq d + c d F) + 4 B H T^2 dh; then 2 N d Vp. */
function forwardFlops(config: ModelConfig, run: RunShape): bigint {
  const { H, dh, dq, dkv, Vp, c } = sizes(config);
  const [d, F, L] = [config.d_model, config.d_ff, config.num_layers].map(BigInt) as [bigint, bigint, bigint];
  const [B, T] = [BigInt(run.batch), BigInt(run.seq)];
  const N = B * T;
  const projections = 2n * N * (2n * d * BigInt(dq) + 2n * d * BigInt(dkv) + BigInt(c) * d * F);
  const core = 4n * B * BigInt(H) * T * T * BigInt(dh);
  return L * (projections + core) + 2n * N * d * BigInt(Vp);
}

/**
 * Parameters: Vp d (+ ctx d learned) + L (attention + FFN + norms + biases) + n d (+ d Vp untied),
 * attention d dq + 2 d dkv + dq d, q/k norms 2 n dh, FFN c d F, norms 2 n d (4 with post-norms);
 * biases q/k/v dq + 2 dkv, output d, FFN (c - 1) F + d (a fused gate_up's 2F bias is w1's and w3's).
 */
function parameters(config: ModelConfig): bigint {
  const { dh, dq, dkv, Vp, c, normVectors: n } = sizes(config);
  const [d, F, L] = [config.d_model, config.d_ff, config.num_layers];
  const bias = config.bias ?? false;
  const [qkvBias, outputBias, mlpBias] = [config.qkv_bias ?? bias, config.output_bias ?? bias, config.mlp_bias ?? bias];
  const attention = 2 * d * dq + 2 * d * dkv + (config.qk_norm === true ? 2 * n * dh : 0);
  const biases = (qkvBias ? dq + 2 * dkv : 0) + (outputBias ? d : 0) + (mlpBias ? (c - 1) * F + d : 0);
  const norms = (config.post_norms === true ? 4 : 2) * n * d;
  const perLayer = attention + c * d * F + norms + biases;
  const positions = config.positions === 'learned' ? config.context_length * d : 0;
  const lmHead = config.tie_embeddings === true ? 0 : d * Vp;
  return BigInt(Vp * d + positions) + BigInt(L) * BigInt(perLayer) + BigInt(n * d + lmHead);
}

const denseRun = arbitraryDenseRun({
  source: 'test/dense_features_verify.test.ts',
  batchMax: 2,
  seqMax: 5,
  spareContextMax: 2,
  seedMax: 1000,
});

describe('the newer dense features, verified on cpu', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it('random configs across the feature space match exactly, forward and training step', async () => {
    await fc.assert(
      fc.asyncProperty(denseRun, async ({ config, run, seed }) => {
        const matmuls = matmulCount(config);
        const flops = forwardFlops(config, run);
        const forward = await verifyModel({ config, run, backend: 'cpu', seed });
        expect(forward.matmuls.mismatches).toEqual([]);
        expect(forward.ok).toBe(true);
        expect(forward.matmulKernelCount).toBe(matmuls);
        expect(forward.matmuls.tracedTotal).toBe(flops);
        // The non-matmul estimate, written from the math, equals the traced work kernel by kernel.
        expect(forward.nonMatmul.uncounted).toEqual([]);
        expect(forward.nonMatmul.byKernel.filter((entry) => entry.difference !== 0n)).toEqual([]);
        expect(forward.nonMatmul.traced).toBe(forward.nonMatmul.estimate);

        const training = await verifyTraining({ config, run, backend: 'cpu', seed });
        expect(training.forward.mismatches).toEqual([]);
        expect(training.backward.mismatches).toEqual([]);
        expect(training.ok).toBe(true);
        expect(training.backward.matchedCount).toBe(2 * matmuls);
        expect(training.skippedBackwardRows).toEqual([]);
        expect(training.total.backward).toBe(2n * flops);
        // AdamW touched every parameter once (a tied table once): 14 FLOPs each.
        const P = parameters(config);
        expect(training.optimizer.parameterCount).toBe(P);
        expect(training.optimizer.traced).toBe(14n * P);
        expect(Number.isFinite(training.loss)).toBe(true);
        expect(tf.memory().numTensors).toBe(0);
      }),
      { numRuns: 40, seed: 13_2026 },
    );
  });
});

describe('the newer dense features on meta: the kernels cpu runs, record for record', () => {
  beforeAll(() => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
  });

  it('forward and training step, for random configs across the feature space', async () => {
    await fc.assert(
      fc.asyncProperty(denseRun, async ({ config, run, seed }) => {
        const forwardCpu = await traceForward({ config, run, backend: 'cpu', seed });
        const forwardMeta = await traceForward({ config, run, backend: 'meta', seed });
        expect(forwardMeta.records.map(recordSignature)).toEqual(forwardCpu.records.map(recordSignature));
        expect(forwardMeta.logitsShape).toEqual(forwardCpu.logitsShape);

        const stepCpu = await traceTrainingStep({ config, run, backend: 'cpu', seed });
        const stepMeta = await traceTrainingStep({ config, run, backend: 'meta', seed });
        expect(stepMeta.records.map(recordSignature)).toEqual(stepCpu.records.map(recordSignature));
        expect(stepMeta.records.length).toBeGreaterThan(forwardMeta.records.length);

        // The memory guard's estimate errs high: above every tensor the forward pass makes.
        let made = 0n;
        for (const record of forwardMeta.records) {
          for (const output of record.outputs) {
            made += BigInt(output.shape.reduce((size, dim) => size * dim, 1)) * (output.dtype === 'bool' ? 1n : 4n);
          }
        }
        // The RoPE tables are uploaded without a kernel: cos and sin of T x dh.
        if (config.positions !== 'learned') made += 2n * BigInt(run.seq * sizes(config).dh) * 4n;
        expect(made).toBeLessThanOrEqual(runMemoryEstimate(config, run).activations);
      }),
      { numRuns: 25, seed: 14_2026 },
    );
  });
});

describe('the newer dense features on wasm', () => {
  // Off on wasm: a clone copies there, so the loss's kept logits count as a leak (src/model/cross_entropy.ts).
  beforeAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('every feature at once (Gemma 2 with Qwen3 q/k norms, Qwen2 biases, Phi-3 fusion): forward and training step exact', async () => {
    const config: ModelConfig = {
      name: 'every-dense-feature',
      source: 'test/dense_features_verify.test.ts',
      vocab_size: 11,
      context_length: 8,
      num_layers: 2,
      d_model: 12,
      num_heads: 4,
      d_ff: 10,
      num_kv_heads: 2,
      head_dim: 4,
      ffn: 'geglu',
      qkv_bias: true,
      qk_norm: true,
      fused_qkv: true,
      fused_gate_up: true,
      scale_embeddings: true,
      zero_centered_gain: true,
      post_norms: true,
      attn_softcap: 50,
      final_softcap: 30,
      tie_embeddings: true,
    };
    const run = { batch: 2, seq: 8 };
    const forward = await verifyModel({ config, run, backend: 'wasm', seed: 3 });
    expect(forward.backend.name).toBe('wasm');
    expect(forward.ok).toBe(true);
    expect(forward.matmulKernelCount).toBe(matmulCount(config)); // 2 x (qkv, scores, weighted sum, output, gate_up, w2) + lm_head = 13
    expect(forward.matmuls.tracedTotal).toBe(forwardFlops(config, run));
    const training = await verifyTraining({ config, run, backend: 'wasm', seed: 3 });
    expect(training.ok).toBe(true);
    expect(training.backward.matchedCount).toBe(2 * 13);
    expect(training.total.backward).toBe(2n * forwardFlops(config, run));
    expect(training.optimizer.parameterCount).toBe(parameters(config));
    expect(tf.memory().numTensors).toBe(0);
  });
});
