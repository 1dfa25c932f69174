import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { scope } from '../src/core/scope.js';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { keptBeyondSavedActivations, savedActivationBytes, savedActivations } from '../src/analytic/training/index.js';
import type { ModelParts } from '../src/model/index.js';
import { trainingVerdictLine } from '../src/views/verify_training_report.js';
import { verifyTraining, type TrainingVerification } from '../src/verify/verify_training.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

/**
 * The saved-activation formula beside the storage of a real training step: the buffers the
 * forward pass still holds when the backward pass starts are what the step keeps for it. The
 * model's gradients keep what autodiff needs (src/model/lean_gradients.ts and the custom
 * gradients of the norms, RoPE, the activations, the caps and the mask), so the kept storage is
 * the formula exactly, plus named buffers: the loss (the step's output) and, with a zero-centred
 * gain, each norm's 1 + g. Exact identities besides: the named owners add up to the measured
 * storage, what is held before the step is the weights, AdamW's m and v (fp32, 12 bytes per
 * parameter) and the int32 ids and targets, and a peak in the backward pass is the formula's peak
 * plus the backward pass's own buffers, named.
 */
const SOURCE = 'test/saved_activations_trace.test.ts';
const tiny = tinyConfig('tiny', SOURCE);
const tinyRun: RunShape = { batch: 2, seq: 8 };

async function compare(config: ModelConfig, run: RunShape, seed = 0, backend: 'cpu' | 'wasm' = 'cpu') {
  const verification = await verifyTraining({ config, run, backend, seed });
  expectKeptIsFormula(verification);
  return verification;
}

function expectKeptIsFormula(verification: TrainingVerification): void {
  const { config, run } = verification;
  const { saved, measured } = verification.memory;
  expect(saved.heldBefore + saved.forward + saved.backward + saved.optimizer).toBe(saved.peak);
  expect(saved.peak).toBe(BigInt(measured.bufferPeak.bytes));
  const parameters = summarizeParameters(config).total;
  const weightsMomentsAndIds = 12n * parameters + 8n * BigInt(run.batch) * BigInt(run.seq);
  expect(BigInt(measured.tensorBytesBefore)).toBe(weightsMomentsAndIds);
  const kept = saved.keptBuffers.reduce((total, entry) => total + entry.bytes, 0n);
  expect(kept).toBe(saved.keptForBackward);
  // Kept: exactly the formula and the named buffers.
  const formula = savedActivationBytes(savedActivations(config), run.batch, run.seq);
  const named = keptBeyondSavedActivations(config).reduce((total, entry) => total + entry.bytes, 0n);
  expect(saved.formula).toBe(formula);
  expect(saved.keptForBackward).toBe(formula + named);
  expect(saved.keptMatchesFormula).toBe(true);
  // The peak: the formula's peak and the backward pass's buffers, each named.
  expect(saved.formulaPeak).toBe(saved.heldBefore + formula + named);
  if (saved.peakPhase === 'backward') {
    expect(saved.heldBefore).toBe(weightsMomentsAndIds);
    expect(saved.peak).toBe(saved.formulaPeak + saved.backward);
    expect(saved.backwardBuffers.reduce((total, entry) => total + entry.bytes, 0n)).toBe(saved.backward);
  }
  expect(verification.ok).toBe(true);
}

describe('saved activations against a real training step', () => {
  it('the seed architecture on cpu: the kept storage is the formula and the loss, buffer by buffer', async () => {
    const verification = await compare(tiny, tinyRun);
    const { saved, reasons } = verification.memory;
    // B (L (a (8d + 4F) T + a H T^2 + 8 T) + (2 a d + 4 + a V) T) at a = 4, L 2, d 8, H 2, F 12, V 11, B 2, T 8,
    // and RoPE's cos and sin [T, dh] once: 2 x 8 x 4 x 4.
    const perBatch =
      2n * (4n * (8n * 8n + 4n * 12n) * 8n + 4n * 2n * 64n + 8n * 8n) + (2n * 4n * 8n + 4n + 4n * 11n) * 8n;
    expect(saved.formula).toBe(2n * perBatch + 256n);
    expect(saved.formula).toBe(18_432n + 256n);
    expect(saved.keptForBackward).toBe(18_692n);
    const kept = new Map(saved.keptBuffers.map((entry) => [`${entry.module} ${entry.kernel}`, entry.bytes]));
    const take = (name: string) => {
      const bytes = kept.get(name);
      expect(bytes, name).toBeDefined();
      kept.delete(name);
      return bytes!;
    };
    // L 2: a (B, T, d) tensor is 512 bytes, (B, T, F) 768, (B, H, T, T) 1,024, a [B, T] statistic 64.
    // Block 0's input; the residual adds: each block's mid-point and output (block 1's and ln_final's input).
    expect(take('token_embeddings GatherV2')).toBe(512n);
    expect(take(' Add')).toBe(2n * 2n * 512n);
    // The norms' outputs (the projections' input) and rstd.
    expect(take('ln1 Multiply') + take('ln2 Multiply')).toBe(2n * 2n * 512n);
    expect(take('ln_final Multiply')).toBe(512n);
    expect(take('ln1 Rsqrt') + take('ln2 Rsqrt') + take('ln_final Rsqrt')).toBe(5n * 64n);
    // q and k after RoPE; v and the merged heads P v (the head transposes); P.
    expect(take('attn.rope Add')).toBe(2n * 2n * 512n);
    expect(take('attn Transpose')).toBe(2n * 2n * 512n);
    expect(take('attn.softmax (made outside a kernel)')).toBe(2n * 1_024n);
    // x W1 (SiLU's input), x W3, SiLU(x W1) and the gated product (w2's input).
    expect(take('ffn.w1 BatchMatMul') + take('ffn.w3 BatchMatMul')).toBe(2n * 2n * 768n);
    expect(take('ffn.silu Multiply') + take('ffn.gate Multiply')).toBe(2n * 2n * 768n);
    // The logits, whose softmax the loss recomputes; the RoPE tables once; the loss.
    expect(take('lm_head BatchMatMul')).toBe(4n * 16n * 11n);
    expect(take('attn.rope (made outside a kernel)')).toBe(2n * 8n * 4n * 4n);
    expect(take('loss Mean')).toBe(4n);
    expect([...kept]).toEqual([]);
    expect(
      reasons.some((reason) => reason.includes('the step keeps exactly that plus 4 bytes named: loss the loss 4')),
    ).toBe(true);
  });

  it('GPT-2 block with grouped-query attention and a padded, tied vocabulary, on cpu and wasm', async () => {
    const config = everyVariantConfig(SOURCE);
    const cpu = await compare(config, tinyRun);
    const wasm = await compare(config, tinyRun, 0, 'wasm');
    // Clones share storage on wasm as on cpu (src/runtime/wasm_shared_clones.ts): the same buffers.
    expect(wasm.memory.saved.keptBuffers).toEqual(cpu.memory.saved.keptBuffers);
  });

  it('random architectures across the newer features on cpu: exactly the formula and the named buffers', async () => {
    const runs = arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 5, spareContextMax: 2, seedMax: 1000 });
    await fc.assert(
      fc.asyncProperty(runs, async ({ config, run, seed }) => {
        await compare(config, run, seed);
      }),
      { numRuns: 25, seed: 20_261_205 },
    );
  });

  it('random architectures on wasm: exactly the formula and the named buffers', async () => {
    const runs = arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 5, spareContextMax: 2, seedMax: 1000 });
    await fc.assert(
      fc.asyncProperty(runs, async ({ config, run, seed }) => {
        await compare(config, run, seed, 'wasm');
      }),
      { numRuns: 12, seed: 20_261_205 },
    );
  });

  it("a planted SwiGLU on tfjs's own gradients keeps sigmoid(x W1) too and is caught with its exact bytes", async () => {
    const stockSilu: ModelParts['ffn'] = (x, w1, w2, w3, project) => {
      const w1x = scope('w1', () => project(x, w1));
      const w3x = scope('w3', () => project(x, w3));
      const activated = scope('silu', () => tf.mul(w1x, tf.sigmoid(w1x)));
      const gated = scope('gate', () => tf.mul(activated, w3x));
      return scope('w2', () => project(gated as tf.Tensor3D, w2));
    };
    const verification = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      seed: 0,
      parts: { ffn: stockSilu },
    });
    const { saved } = verification.memory;
    expect(verification.ok).toBe(false);
    expect(saved.keptMatchesFormula).toBe(false);
    // One (B, T, F) sigmoid per layer: 2 x 768.
    expect(saved.keptForBackward - saved.formula - 4n).toBe(2n * 768n);
    expect(trainingVerdictLine(verification)).toContain(
      'kept for the backward pass: 1,536 bytes more than the formula and its named buffers',
    );
  });
});
