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

  it('the seed architecture: every byte tfjs keeps beyond the formula, named and summed by hand', async () => {
    const verification = await compare(tinyConfig('tiny', 'test/saved_activations_trace.test.ts'), {
      batch: 2,
      seq: 8,
    });
    const { saved } = verification.memory;
    const kept = new Map(saved.keptBuffers.map((entry) => [`${entry.module} ${entry.kernel}`, entry.bytes]));
    const take = (name: string) => {
      const bytes = kept.get(name);
      expect(bytes, name).toBeDefined();
      kept.delete(name);
      return bytes!;
    };
    // L 2, d 8, H 2, F 12, V 11, B 2, T 8: a (B, T, d) tensor is 512 bytes, (B, T, F) 768, (B, H, T, T) 1,024.
    // The formula's tensors, as tfjs holds them: the block inputs and ln_final's input are the embedding
    // lookup and the four residual adds; q, k, v and P v the rotations and the head transposes.
    const transposes = take('attn Transpose'); // per layer q and k before RoPE, v, and the merged heads P v
    expect(transposes).toBe(2n * 4n * 512n);
    const formulaTensors =
      take('token_embeddings GatherV2') +
      take(' Add') +
      take('ln1 Multiply') +
      take('ln2 Multiply') +
      take('ln_final Multiply') +
      take('attn.rope Add') +
      (transposes - 2n * 2n * 512n) +
      take('attn.softmax (made outside a kernel)') +
      take('ffn.w1 BatchMatMul') +
      take('ffn.w3 BatchMatMul') +
      take('ffn.silu Multiply') +
      take('ffn.gate Multiply') +
      take('lm_head BatchMatMul');
    // The formula less the five norms' rstd [B, T] (64 bytes each), which the norms recompute.
    expect(formulaTensors).toBe(saved.formula - 5n * 64n);
    // Kept only for a shape: q, k, v before the head split; output_proj and w2 before the residual adds;
    // RoPE's two products; the scaled scores, before the mask's Add.
    const forShape =
      take('attn.q_proj BatchMatMul') +
      take('attn.k_proj BatchMatMul') +
      take('attn.v_proj BatchMatMul') +
      take('attn.output_proj BatchMatMul') +
      take('ffn.w2 BatchMatMul') +
      take('attn.rope Multiply') +
      take('attn.scores Multiply');
    expect(forShape).toBe(3_072n + 2_048n + 4_096n + 2_048n);
    // Operands of a multiply by a constant: the raw scores; q and k before RoPE and their swapped halves.
    const multiplied = take('attn.scores BatchMatMul') + 2n * 2n * 512n + take('attn.rope Reverse');
    expect(multiplied).toBe(2_048n + 2_048n + 2_048n);
    const sigmoid = take('ffn.silu (made outside a kernel)');
    expect(sigmoid).toBe(2n * 768n);
    // The mask: Select's -inf or 0 (T^2 fp32), Greater (T^2 bool), two position ranges (T int32), 1/sqrt(dk).
    const mask =
      take('attn.scores Select') +
      take('attn.scores Greater') +
      take('attn.scores Range') +
      take('attn.scores (made outside a kernel)');
    expect(mask).toBe(2n * (256n + 64n + 64n + 4n));
    const tables = take('attn.rope (made outside a kernel)');
    expect(tables).toBe(2n * 8n * 4n * 4n);
    const loss = take('loss Mean');
    expect(loss).toBe(4n);
    expect([...kept]).toEqual([]);
    expect(saved.keptForBackward).toBe(saved.formula - 320n + 19_980n);
    expect(forShape + multiplied + sigmoid + mask + tables + loss).toBe(19_980n);
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
