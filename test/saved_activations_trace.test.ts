import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

/**
 * The saved-activation formula beside the storage of a real training step on cpu: the buffers
 * the forward pass still holds when the backward pass starts are what tfjs keeps for it. tfjs
 * keeps every intermediate of the forward function until its gradients are done, so it holds at
 * least what autodiff needs and the difference is named buffer by buffer. Exact identities:
 * the named owners add up to the measured storage, and what is held before the step is the
 * weights, AdamW's m and v (fp32, 12 bytes per parameter) and the int32 ids and targets.
 */
async function compare(config: ModelConfig, run: RunShape, seed = 0) {
  const verification = await verifyTraining({ config, run, backend: 'cpu', seed });
  const { saved, measured } = verification.memory;
  expect(saved.heldBefore + saved.forward + saved.backward + saved.optimizer).toBe(saved.peak);
  expect(saved.peak).toBe(BigInt(measured.bufferPeak.bytes));
  const parameters = summarizeParameters(config).total;
  const weightsMomentsAndIds = 12n * parameters + 8n * BigInt(run.batch) * BigInt(run.seq);
  expect(BigInt(measured.tensorBytesBefore)).toBe(weightsMomentsAndIds);
  // AdamW replaces weights and moments as it goes, so a peak inside the update holds only part of them.
  if (saved.peakPhase === 'optimizer') expect(saved.heldBefore).toBeLessThanOrEqual(weightsMomentsAndIds);
  else expect(saved.heldBefore).toBe(weightsMomentsAndIds);
  const kept = saved.keptBuffers.reduce((total, entry) => total + entry.bytes, 0n);
  expect(kept).toBe(saved.keptForBackward);
  expect(saved.keptForBackward).toBeGreaterThanOrEqual(saved.formula);
  return verification;
}

describe('saved activations against a real training step on cpu', () => {
  it('the seed architecture: tfjs keeps the formula and names what it keeps beyond it', async () => {
    const verification = await compare(tinyConfig('tiny', 'test/saved_activations_trace.test.ts'), {
      batch: 2,
      seq: 8,
    });
    const { saved, reasons } = verification.memory;
    // The raw and scaled scores are kept though the softmax's backward reads only its output.
    const kept = (module: string, kernel: string) =>
      saved.keptBuffers.find((entry) => entry.module === module && entry.kernel === kernel)?.bytes;
    // Two blocks of one (B, H, T, T) = 2 x 2 x 8 x 8 fp32 tensor each: 2 x 1,024 bytes.
    expect(kept('attn.scores', 'BatchMatMul')).toBe(2n * 4n * 2n * 2n * 8n * 8n);
    expect(kept('attn.scores', 'Multiply')).toBe(2n * 4n * 2n * 2n * 8n * 8n);
    // B (L (a (8d + 4F) T + a H T^2 + 8 T) + (2 a d + 4 + a V) T) at a = 4, L 2, d 8, H 2, F 12, V 11, B 2, T 8.
    expect(reasons.some((reason) => reason.includes('(the saved-activation formula) is 18,432 bytes'))).toBe(true);
  });

  it('GPT-2 block with grouped-query attention and a padded, tied vocabulary', async () => {
    await compare(everyVariantConfig('test/saved_activations_trace.test.ts'), { batch: 2, seq: 8 });
  });

  it('random architectures across the newer features', async () => {
    const runs = arbitraryDenseRun({
      source: 'test/saved_activations_trace.test.ts',
      batchMax: 2,
      seqMax: 5,
      spareContextMax: 2,
      seedMax: 1000,
    });
    await fc.assert(
      fc.asyncProperty(runs, async ({ config, run, seed }) => {
        await compare(config, run, seed);
      }),
      { numRuns: 12 },
    );
  });
});
