/**
 * The bytes every kernel of a traced training step moves, against the analytic lists, as the
 * forward pass's are checked (test/kernel_bytes.test.ts): each backward matmul against the backward
 * matmul inventory's row with both operands and the output at fp32, and the forward phase's kernels
 * against the forward list. A hand-worked model, random configs across the dense feature space on
 * cpu and meta (held also to closed forms written here from the calculus), and planted faults on
 * either side, one the FLOP check cannot see.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardKernelCosts, matmulRowCost, splitTotal, type KernelCost } from '../src/analytic/bytes.js';
import { backwardMatmulInventory } from '../src/analytic/training/backward_matmuls.js';
import { backwardMatmulKernelCosts } from '../src/analytic/training/step_kernels.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { recordBytes } from '../src/core/byte_rules.js';
import { linear } from '../src/model/linear.js';
import { describeBytesMismatch } from '../src/verify/bytes_check.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { trainingMismatchLines, trainingVerdictLine } from '../src/views/verify_training_report.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { tinyConfig } from './helpers/small_configs.js';

const SOURCE = 'test/training_kernel_bytes.test.ts';
const tiny = tinyConfig('tiny', SOURCE);
const run = { batch: 2, seq: 4 };

describe('the backward matmuls of the hand-worked tiny model (V 11, d 8, H 2, dk 4, F 12; B 2, T 4: 8 tokens)', () => {
  it('each reads both operands once and writes its output once, at 4 bytes, the weight apart', async () => {
    const verification = await verifyTraining({ config: tiny, run, backend: 'meta' });
    const listed = (path: string) =>
      backwardMatmulKernelCosts(tiny, run, 'fp32')
        .kernels.filter((kernel) => kernel.path === path)
        .map((kernel) => [kernel.read.weights, kernel.read.activations, splitTotal(kernel.written)]);
    const traced = (path: string) =>
      verification.records
        .filter((record) => record.phase === 'backward' && record.matmul !== undefined && record.path === path)
        .map(recordBytes)
        .map((bytes) => [bytes.readWeights, bytes.readActivations, bytes.written]);
    // dx = dy [8, 8] @ W2^T with W2 [12, 8], writing [8, 12]; dW2 = x^T @ dy with x [8, 12], writing [12, 8]
    const w2 = [
      [384n, 256n, 384n],
      [0n, 384n + 256n, 384n],
    ];
    expect(listed('layers.0.ffn.w2')).toEqual(w2);
    expect(traced('layers.0.ffn.w2')).toEqual(w2);
    // dq = dS [2, 2, 4, 4] @ k [2, 2, 4, 4] and dk = dS^T @ q: 64 + 64 elements read, 64 written, each
    const scores = [
      [0n, 512n, 256n],
      [0n, 512n, 256n],
    ];
    expect(listed('layers.1.attn.scores')).toEqual(scores);
    expect(traced('layers.1.attn.scores')).toEqual(scores);
    expect(verification.backwardBytes.mismatches).toEqual([]);
    // per layer 7 linear layers (dx, dW) and 2 core matmuls (2 gradients each), then lm_head's dx and dW
    expect(verification.backwardBytes.kernels).toBe(2 * (7 * 2 + 2 * 2) + 2);
    // every matrix read once, by its dx: per layer q, k, v, o of 8 x 8 and w1, w3, w2 of 8 x 12; lm_head 8 x 11
    expect(verification.backwardBytes.tracedTotals.readWeights).toBe(4n * (2n * (4n * 64n + 3n * 96n) + 88n));
    expect(verification.forwardBytes.mismatches).toEqual([]);
    expect(verification.forwardBytes.kernels).toBe(forwardKernelCosts(tiny, run, 'fp32').kernels.length);
    expect(verification.ok).toBe(true);
  });
});

/**
 * Bytes of every backward matmul of one step, from the calculus and nothing in src/analytic. A
 * linear layer x [N, din] @ W [din, dout] has dx = dy W^T (reads dy and W, writes dx) and
 * dW = x^T dy (reads x and dy, writes dW): 2 (din dout + N din + N dout) elements. Per layer the
 * core's dq = dS k, dk = dS^T q, dP = dO v^T and dv = P^T dO read and write 4 B T (H T + H dh + Hkv dh)
 * elements, keys and values once per key/value head. All at 4 bytes.
 */
function backwardClosedForm(config: ModelConfig, shape: RunShape) {
  const H = config.num_heads;
  const Hkv = config.num_kv_heads ?? H;
  const dh = config.head_dim ?? config.d_model / H;
  const multiple = config.vocab_multiple ?? 1;
  const Vp = Math.ceil(config.vocab_size / multiple) * multiple;
  const [d, F, dq, dkv] = [config.d_model, config.d_ff, H * dh, Hkv * dh];
  const attention: [number, number][] =
    config.fused_qkv === true
      ? [[d, dq + 2 * dkv]]
      : [
          [d, dq],
          [d, dkv],
          [d, dkv],
        ];
  const up: [number, number][] =
    config.ffn === 'gelu'
      ? [[d, F]]
      : config.fused_gate_up === true
        ? [[d, 2 * F]]
        : [
            [d, F],
            [d, F],
          ];
  const perLayer: [number, number][] = [...attention, [dq, d], ...up, [F, d]];
  const linears: [number, number][] = [...Array.from({ length: config.num_layers }, () => perLayer).flat(), [d, Vp]];
  const [B, T, N] = [BigInt(shape.batch), BigInt(shape.seq), BigInt(shape.batch * shape.seq)];
  let [weights, elements] = [0n, 0n];
  for (const [din, dout] of linears.map(([a, b]) => [BigInt(a), BigInt(b)] as const)) {
    weights += din * dout;
    elements += 2n * (din * dout + N * din + N * dout);
  }
  elements += BigInt(config.num_layers) * 4n * B * T * (BigInt(H) * T + BigInt(H * dh) + BigInt(Hkv * dh));
  return { readWeights: 4n * weights, moved: 4n * elements, kernels: 2 * linears.length + 4 * config.num_layers };
}

describe('random configs across the dense feature space', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  const denseRun = arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 4, spareContextMax: 1, seedMax: 1000 });

  it.each(['cpu', 'meta'] as const)(
    'every backward matmul and forward kernel of a step moves the analytic bytes on %s',
    async (backend) => {
      await fc.assert(
        fc.asyncProperty(denseRun, async ({ config, run: shape, seed }) => {
          const verification = await verifyTraining({ config, run: shape, backend, seed });
          expect(verification.backwardBytes.mismatches.map(describeBytesMismatch)).toEqual([]);
          expect(verification.forwardBytes.mismatches.map(describeBytesMismatch)).toEqual([]);
          const expected = backwardClosedForm(config, shape);
          const totals = verification.backwardBytes.tracedTotals;
          expect(verification.backwardBytes.kernels).toBe(expected.kernels);
          expect(totals.readWeights).toBe(expected.readWeights);
          expect(totals.readWeights + totals.readActivations + totals.written).toBe(expected.moved);
          expect(verification.forwardBytes.kernels).toBe(forwardKernelCosts(config, shape, 'fp32').kernels.length);
          expect(verification.ok).toBe(true);
          expect(tf.memory().numTensors).toBe(0);
        }),
        { numRuns: 20, seed: 18_2026 },
      );
    },
    120_000,
  );
});

describe('planted faults', () => {
  it('catches a backward matmul that reads a transposed copy of its weight, which the FLOP check passes', async () => {
    // W2 [12, 8] is the tiny model's only [F, d] matrix: dx = dy @ transpose(W2), a copy, not W2 itself.
    const transposedCopy = (x: tf.Tensor3D, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor3D => {
      if (weight.shape[0] !== 12) return linear(x, weight, bias);
      const [B, T, dIn] = x.shape;
      const project = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const [tokens, w] = inputs as [tf.Tensor2D, tf.Tensor2D];
        (inputs[2] as tf.GradSaveFunc)([tokens, w]);
        const value = tf.matMul<tf.Tensor2D>(tokens, w); // (B*T, d_out)
        const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const [savedTokens, savedWeight] = saved as [tf.Tensor2D, tf.Tensor2D];
          return [tf.matMul(dy, tf.transpose(savedWeight)), tf.matMul(savedTokens, dy, true, false)];
        };
        return { value, gradFunc };
      });
      const tokens = tf.reshape<tf.Rank.R2>(x, [B * T, dIn]); // (B*T, d_in)
      return tf.reshape<tf.Rank.R3>(project(tokens, weight), [B, T, weight.shape[1]]); // (B, T, d_out)
    };
    const verification = await verifyTraining({
      config: tiny,
      run,
      backend: 'meta',
      parts: { linear: transposedCopy },
    });
    expect(verification.backward.ok).toBe(true);
    expect(verification.ok).toBe(false);
    // dx reads dy [8, 8] and the [8, 12] copy, no weight; dW2 is as it should be
    const mismatch = (layer: number) =>
      `layers.${layer}.ffn.w2: bytes: expected MatMul (reads 384 B of weights, 256 B of activations; writes 384 B); ` +
      'traced MatMul (reads 0 B of weights, 640 B of activations; writes 384 B)';
    expect(verification.backwardBytes.mismatches.map(describeBytesMismatch)).toEqual([mismatch(0), mismatch(1)]);
    expect(trainingMismatchLines(verification)).toEqual([`backward ${mismatch(0)}`, `backward ${mismatch(1)}`]);
    expect(trainingVerdictLine(verification)).toContain("; the bytes of 2 of 19 modules' backward matmuls differ; ");
    expect(verification.forwardBytes.ok).toBe(true);
  });

  it('catches an analytic row at the wrong operand dtype: one weight gradient listed at bf16', async () => {
    const rows = backwardMatmulInventory(tiny, run);
    const planted: KernelCost[] = rows.map((row) =>
      matmulRowCost(row, tiny, row.path === 'layers.0.attn.q_proj' && row.gradient === 'weight' ? 'bf16' : 'fp32'),
    );
    const verification = await verifyTraining({
      config: tiny,
      run,
      backend: 'meta',
      backwardKernelBytes: { kernels: planted, omitted: [] },
    });
    expect(verification.ok).toBe(false);
    // dWq = x^T [8, 8] @ dy [8, 8]: 128 elements read, 64 written, at 2 bytes listed and 4 traced
    expect(verification.backwardBytes.mismatches.map(describeBytesMismatch)).toEqual([
      'layers.0.attn.q_proj: bytes: expected MatMul (reads 0 B of weights, 256 B of activations; writes 128 B); ' +
        'traced MatMul (reads 0 B of weights, 512 B of activations; writes 256 B)',
    ]);
  });
});
