/**
 * Multi-head latent attention built and traced: the tfjs model computes what DeepSeek's modeling
 * code computes (checked against a reference written here in plain numbers), and its trace
 * equals the formulas exactly, forward and training step, on cpu, wasm and meta.
 *
 * The closed forms below are written from the architecture (transformers' DeepseekV3Attention),
 * not from src/analytic. With N = B T tokens, H heads, dqk = dn + dr, per layer:
 *   query     2N (d rq + rq H dqk), or 2N d H dqk with a full-rank q_proj
 *   kv_down   2N d (r + dr);  kv_up 2N r H (dn + dv)
 *   core      2 B H T^2 dqk (scores) + 2 B H T^2 dv (weighted sum), every score then the mask
 *   o_proj    2N H dv d;  SwiGLU FFN 6 N d F
 * and lm_head 2 N d V once.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { arbitraryLatentDims, latentConfig, smallLatentDims, untimed } from './helpers/latent_models.js';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { currentModulePath } from '../src/core/scope.js';
import { DENSE_ATTENTION } from '../src/config/attention_schedule.js';
import {
  defaultAttentionParts,
  disposeWeights,
  initWeights,
  latentAttention,
  linear,
  rmsNorm,
  ropeTables,
  type ModelParts,
} from '../src/model/index.js';
import { ExitCode } from '../src/core/errors.js';
import { describeMismatch, verificationExitCode, verifyModel } from '../src/verify/index.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { verdictLine } from '../src/views/verify_report.js';

const SOURCE = 'test/mla_verify.test.ts';

/** Forward matmul FLOPs by the closed form in the file comment. */
function latentForwardFlops(config: ModelConfig, run: RunShape): bigint {
  const n = (value: number | undefined) => BigInt(value ?? 0);
  const [L, d, H, F, V] = [config.num_layers, config.d_model, config.num_heads, config.d_ff, config.vocab_size].map(
    n,
  ) as [bigint, bigint, bigint, bigint, bigint];
  const [r, dr, dn, dv] = [
    config.kv_lora_rank,
    config.qk_rope_head_dim,
    config.qk_nope_head_dim,
    config.v_head_dim,
  ].map(n) as [bigint, bigint, bigint, bigint];
  const [B, T] = [n(run.batch), n(run.seq)];
  const N = B * T;
  const dqk = dn + dr;
  const rq = config.q_lora_rank;
  const query = rq === undefined ? 2n * N * d * H * dqk : 2n * N * (d * n(rq) + n(rq) * H * dqk);
  const latent = 2n * N * d * (r + dr) + 2n * N * r * H * (dn + dv);
  const core = 2n * B * H * T * T * (dqk + dv);
  const layer = query + latent + core + 2n * N * H * dv * d + 6n * N * d * F;
  return L * layer + 2n * N * d * V;
}

/** Matmul kernels of a forward pass: per layer q (one or two), kv_down, kv_up, the core's two, o_proj, w1, w3, w2; then lm_head. */
const forwardKernels = (config: ModelConfig) => config.num_layers * (config.q_lora_rank === undefined ? 9 : 10) + 1;

/** Random small dense latent-attention models, with and without a query latent. */
const latentModel = fc
  .record({
    dims: arbitraryLatentDims({ vocab: 16, d: 10, nope: 4, value: 5, kvRank: 6, qRank: 6, ffn: 8 }),
    batch: fc.integer({ min: 1, max: 2 }),
    seq: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ dims, batch, seq }) => ({ config: latentConfig(dims, seq, SOURCE), run: { batch, seq } }));

/**
 * One token's worth of DeepSeek's attention, written in plain numbers (float64) from the weights:
 * queries through the query latent, the latent and rope key from kv_down, keys and values per
 * head from the normed latent, RoPE on the rope parts (pairs (2i, 2i+1) rotated by
 * t / theta^(2i / dr)), softmax over the causal keys scaled by 1 / sqrt(dn + dr), o_proj.
 */
function referenceLatentAttention(
  x: number[][],
  w: Record<'q_down' | 'q_up' | 'kv_down' | 'kv_up' | 'output_proj', number[][]>,
  widths: { H: number; dn: number; dr: number; dv: number; r: number; theta: number },
): number[][] {
  const { H, dn, dr, dv, r, theta } = widths;
  const matmul = (a: number[][], b: number[][]) =>
    a.map((row) => b[0]!.map((_, j) => row.reduce((sum, value, k) => sum + value * b[k]![j]!, 0)));
  const rms = (row: number[]) => {
    const scale = 1 / Math.sqrt(row.reduce((sum, value) => sum + value * value, 0) / row.length + 1e-5);
    return row.map((value) => value * scale); // the gains are 1 at initialisation
  };
  const rotate = (part: number[], t: number) =>
    part.map((value, c) => {
      const pair = Math.floor(c / 2);
      const angle = t * theta ** ((-2 * pair) / dr);
      const partner = part[c ^ 1]!;
      return c % 2 === 0
        ? value * Math.cos(angle) - partner * Math.sin(angle)
        : value * Math.cos(angle) + partner * Math.sin(angle);
    });
  const q = matmul(matmul(x, w.q_down).map(rms), w.q_up); // (T, H dqk)
  const compressed = matmul(x, w.kv_down); // (T, r + dr)
  const keysValues = matmul(
    compressed.map((row) => rms(row.slice(0, r))),
    w.kv_up,
  ); // (T, H (dn + dv))
  const ropeKeys = compressed.map((row, t) => rotate(row.slice(r), t)); // (T, dr), one for all heads
  const dqk = dn + dr;
  const merged = x.map(() => [] as number[]);
  for (let h = 0; h < H; h++) {
    const query = q.map((row, t) => {
      const head = row.slice(h * dqk, (h + 1) * dqk);
      return [...head.slice(0, dn), ...rotate(head.slice(dn), t)];
    });
    const key = keysValues.map((row, t) => [...row.slice(h * (dn + dv), h * (dn + dv) + dn), ...ropeKeys[t]!]);
    const value = keysValues.map((row) => row.slice(h * (dn + dv) + dn, (h + 1) * (dn + dv)));
    query.forEach((qt, t) => {
      const scores = key.slice(0, t + 1).map((ks) => qt.reduce((sum, a, c) => sum + a * ks[c]!, 0) / Math.sqrt(dqk));
      const top = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - top));
      const total = weights.reduce((sum, p) => sum + p, 0);
      for (let c = 0; c < dv; c++) {
        merged[t]!.push(weights.reduce((sum, p, s) => sum + (p / total) * value[s]![c]!, 0));
      }
    });
  }
  return matmul(merged, w.output_proj); // (T, d)
}

describe('multi-head latent attention in the tfjs model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it("computes DeepSeek's attention: a reference in plain numbers agrees within 1e-5", () => {
    const config: ModelConfig = {
      name: 'latent',
      source: SOURCE,
      vocab_size: 7,
      context_length: 5,
      num_layers: 1,
      d_model: 6,
      num_heads: 2,
      d_ff: 4,
      kv_lora_rank: 4,
      q_lora_rank: 3,
      qk_rope_head_dim: 4,
      qk_nope_head_dim: 2,
      v_head_dim: 3,
    };
    const before = tf.memory().numTensors;
    const weights = initWeights(config, { seed: 7, init: 'random' });
    const layer = weights.layers[0]!;
    const x = tf.randomNormal<tf.Rank.R3>([1, 5, 6], 0, 1, 'float32', 3);
    const heads = { heads: 2, nope: 2, rope: 4, value: 3 };
    const rope = ropeTables(5, 4, 10000);
    const norm = (input: tf.Tensor3D, gain: tf.Tensor1D) => rmsNorm(input, gain);
    const out = tf.tidy(() =>
      latentAttention(
        x,
        layer,
        heads,
        rope,
        defaultAttentionParts,
        { window: undefined, schedule: DENSE_ATTENTION },
        norm,
      ),
    );
    const rows = (t: tf.Tensor | undefined) => t!.arraySync() as number[][];
    const expected = referenceLatentAttention(
      x.arraySync()[0]!,
      {
        q_down: rows(layer.q_down),
        q_up: rows(layer.q_up),
        kv_down: rows(layer.kv_down),
        kv_up: rows(layer.kv_up),
        output_proj: rows(layer.output_proj),
      },
      { H: 2, dn: 2, dr: 4, dv: 3, r: 4, theta: 10000 },
    );
    const actual = out.arraySync()[0]!;
    expect(actual.length).toBe(5);
    actual.forEach((row, t) => row.forEach((value, c) => expect(value).toBeCloseTo(expected[t]![c]!, 5)));
    for (const tensor of [out, x, rope.cos, rope.sin]) tensor.dispose();
    disposeWeights(weights);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('forward and training step verify exactly on cpu for random configs; meta traces what cpu traces', async () => {
    let verified = 0;
    await fc.assert(
      fc.asyncProperty(latentModel, fc.integer({ min: 0, max: 1_000 }), async ({ config, run }, seed) => {
        const before = tf.memory().numTensors;
        const forwardCpu = await verifyModel({ config, run, backend: 'cpu', seed });
        expect(forwardCpu.matmuls.mismatches.map(describeMismatch)).toEqual([]);
        expect(forwardCpu.work.mismatches).toEqual([]);
        expect(forwardCpu.matmuls.tracedTotal).toBe(latentForwardFlops(config, run));
        expect(forwardCpu.matmulKernelCount).toBe(forwardKernels(config));
        expect(forwardCpu.nonMatmul.uncounted).toEqual([]);
        expect(forwardCpu.ok).toBe(true);
        const stepCpu = await verifyTraining({ config, run, backend: 'cpu', seed });
        expect(stepCpu.backward.mismatches.map(describeMismatch)).toEqual([]);
        expect(stepCpu.ok).toBe(true);
        // Calculus: each matmul's two gradients cost twice its forward FLOPs, latent projections included.
        expect(stepCpu.backward.tracedTotal).toBe(2n * latentForwardFlops(config, run));
        const forwardMeta = await verifyModel({ config, run, backend: 'meta', seed });
        const stepMeta = await verifyTraining({ config, run, backend: 'meta', seed });
        expect(forwardMeta.ok && stepMeta.ok).toBe(true);
        expect(untimed(forwardMeta.records)).toEqual(untimed(forwardCpu.records));
        expect(untimed(stepMeta.records)).toEqual(untimed(stepCpu.records));
        await tf.setBackend('cpu');
        expect(tf.memory().numTensors).toBe(before);
        verified += 1;
      }),
      { numRuns: 16, seed: 271_828 },
    );
    expect(verified).toBe(16);
  }, 240_000);

  it('forward and training step verify exactly on wasm, with and without a query latent', async () => {
    const base = latentConfig(smallLatentDims, 6, SOURCE);
    const run = { batch: 2, seq: 6 };
    for (const config of [base, { ...base, q_lora_rank: 3 }]) {
      const forward = await verifyModel({ config, run, backend: 'wasm', seed: 5 });
      expect(forward.backend.name).toBe('wasm');
      expect(forward.ok).toBe(true);
      expect(forward.matmuls.tracedTotal).toBe(latentForwardFlops(config, run));
      const step = await verifyTraining({ config, run, backend: 'wasm', seed: 5 });
      expect(step.ok).toBe(true);
      expect(step.backward.tracedTotal).toBe(2n * latentForwardFlops(config, run));
    }
  }, 120_000);
});

describe('multi-head latent attention with every block checkpointed', () => {
  it('reruns each block exactly and keeps RoPE tables only dr wide: 2 x T x dr x 4 bytes', async () => {
    const config: ModelConfig = {
      name: 'latent',
      source: SOURCE,
      vocab_size: 11,
      context_length: 8,
      num_layers: 2,
      d_model: 8,
      num_heads: 2,
      d_ff: 12,
      kv_lora_rank: 6,
      q_lora_rank: 5,
      qk_rope_head_dim: 2,
      qk_nope_head_dim: 3,
      v_head_dim: 4,
    };
    const run = { batch: 2, seq: 5 };
    for (const backend of ['cpu', 'meta'] as const) {
      const step = await verifyTraining({ config, run, backend, seed: 1, checkpoint: 'full' });
      expect(step.checkpointCheck?.recompute.mismatches).toEqual([]);
      // The tables are [T, dr] = [5, 2], cos and sin: 80 bytes, where [T, dn + dr] would be 200.
      expect(step.checkpointCheck?.kept.find((entry) => entry.module === 'layers.0.attn.rope')).toEqual({
        module: 'layers.0.attn.rope',
        traced: 80n,
        formula: 80n,
      });
      expect(step.ok).toBe(true);
    }
  }, 60_000);
});

describe('a latent projection applied twice is caught (cpu)', () => {
  /**
   * One layer, B 1, T 4 (N 4), d 6, H 2, dn 2, dr 2, dv 3, r 4, full-rank query, F 5, V 7.
   * Matmuls by hand: q_proj 2*4*6*8 = 384, kv_down 2*4*6*6 = 288, kv_up [4,4] x [4,10] = 320,
   * scores 2*2*4*4*4 = 256, weighted sum 2*2*4*4*3 = 192, o_proj 2*4*6*6 = 288, w1 w3 w2 240 each,
   * lm_head 2*4*6*7 = 336: 10 kernels, 2,784 FLOPs. kv_up run twice (keys from one call, values
   * from another) adds a kernel of 320: 3,104 traced.
   */
  const config: ModelConfig = {
    name: 'planted',
    source: SOURCE,
    vocab_size: 7,
    context_length: 4,
    num_layers: 1,
    d_model: 6,
    num_heads: 2,
    d_ff: 5,
    kv_lora_rank: 4,
    qk_rope_head_dim: 2,
    qk_nope_head_dim: 2,
    v_head_dim: 3,
  };
  const run = { batch: 1, seq: 4 };

  it('the unplanted model verifies; kv_up run twice fails with its exact report', async () => {
    await tf.setBackend('cpu');
    expect((await verifyModel({ config, run, backend: 'cpu', seed: 1 })).ok).toBe(true);
    const twice: ModelParts['linear'] = (x, weight, bias) => {
      if (currentModulePath().endsWith('attn.kv_up')) linear(x, weight, bias).dispose();
      return linear(x, weight, bias);
    };
    const verification = await verifyModel({ config, run, backend: 'cpu', seed: 1, parts: { linear: twice } });
    expect(verification.ok).toBe(false);
    expect(verificationExitCode(verification)).toBe(ExitCode.mismatch);
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.kv_up: extra: expected no matmul; traced BatchMatMul [4,4] x [4,10] = 320 FLOPs',
    ]);
    expect(verdictLine(verification)).toBe(
      'NOT verified: 10 of 10 expected matmuls match exactly; 1 mismatches (1 extra); 11 matmul kernels traced, ' +
        "10 expected (9 per layer + lm_head); the bytes of 1 of 20 modules' kernels differ; traced 3,104 FLOPs, " +
        'expected 2,784, on cpu',
    );
  });
});
