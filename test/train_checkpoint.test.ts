import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { currentPhase } from '../src/core/phase.js';
import {
  runtimeSavedWithFullCheckpointing,
  savedActivationBytes,
  savedActivations,
} from '../src/analytic/training/index.js';
import { DEFAULT_ADAMW, disposeAdamW, initAdamW } from '../src/model/adamw.js';
import { disposeWeights, initWeights, linear, tokenIds, type TransformerWeights } from '../src/model/index.js';
import { targetIds } from '../src/model/target_ids.js';
import { parametersOf, toTrainable } from '../src/model/trainable_weights.js';
import { trainingStep } from '../src/model/training_step.js';
import { useBackend } from '../src/runtime/backend.js';
import { verifyTraining, type TrainingVerification } from '../src/verify/verify_training.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';
import { expectFailedRerunFreesEverything } from './helpers/failing_rerun.js';

const SOURCE = 'test/train_checkpoint.test.ts';
const tiny = tinyConfig('tiny-checkpoint', SOURCE);
const tinyRun: RunShape = { batch: 2, seq: 8 };

/** One training step with or without checkpointing: the loss and every weight after the update. */
async function stepValues(config: ModelConfig, run: RunShape, checkpoint: 'none' | 'full') {
  await useBackend('cpu');
  const weights: TransformerWeights = toTrainable(initWeights(config, { seed: 3, init: 'random' }));
  const optimizer = initAdamW(parametersOf(weights));
  const ids = tokenIds(config, run, { seed: 3, init: 'random' });
  const targets = targetIds(config, run, { seed: 3, init: 'random' });
  try {
    const loss = trainingStep(config, weights, { ids, targets }, optimizer, DEFAULT_ADAMW, {}, { checkpoint });
    const value = loss.dataSync()[0]!;
    loss.dispose();
    const updated = parametersOf(weights).map((parameter) => Array.from(parameter.variable.dataSync()));
    return { loss: value, updated };
  } finally {
    ids.dispose();
    targets.dispose();
    disposeAdamW(optimizer);
    disposeWeights(weights);
  }
}

function expectCheckpointExact(verification: TrainingVerification): void {
  const check = verification.checkpointCheck;
  expect(check).toBeDefined();
  expect(check!.recompute.mismatches).toEqual([]);
  expect(check!.kept.filter((entry) => entry.traced !== entry.formula)).toEqual([]);
  expect(check!.keptOk).toBe(true);
  expect(verification.ok).toBe(true);
  // The rerun is one more forward pass of every block, the dense core included.
  if (verification.run.attention === undefined)
    expect(check!.recomputeFlops.traced).toBe(check!.recomputeFlops.analytic);
  // The backward pass runs the same matmuls as without checkpointing: the rerun is its own phase.
  expect(verification.backward.mismatches).toEqual([]);
}

/** The textbook's saved activations with full checkpointing, from the definitions: L inputs, then the final tensors. */
function textbookByHand(config: ModelConfig, run: RunShape, stats: number, vocabPadded: number): bigint {
  const { d_model: d, num_layers: L } = config;
  const tokens = BigInt(run.batch * run.seq);
  // Each block's input; ln_final's input, statistics and output; the loss's softmax.
  return 4n * tokens * BigInt(L * d) + 4n * tokens * BigInt(2 * d + stats + vocabPadded);
}

describe('the real training step with full checkpointing', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    tf.env().set('IS_TEST', false);
    expect(tf.memory().numTensors).toBe(0);
  });

  it('computes the same loss and the same update as the step without it', async () => {
    for (const config of [tiny, everyVariantConfig(SOURCE)]) {
      const plain = await stepValues(config, tinyRun, 'none');
      const rerun = await stepValues(config, tinyRun, 'full');
      expect(rerun.loss).toBe(plain.loss);
      rerun.updated.forEach((values, i) => {
        values.forEach((value, j) => expect(value).toBeCloseTo(plain.updated[i]![j]!, 6));
      });
    }
    expect(tf.memory().numTensors).toBe(0);
  });

  it('frees everything when the rerun throws', async () => {
    const failingRerun = (x: tf.Tensor3D, w: tf.Tensor2D, b?: tf.Tensor1D) => {
      if (currentPhase() === 'recompute') throw new Error('planted: the rerun fails');
      return linear(x, w, b);
    };
    await expectFailedRerunFreesEverything(tiny, tinyRun, 'full', { linear: failingRerun }, 'planted: the rerun fails');
  });

  it('the tiny seed model on cpu: kept storage by hand, the difference from the textbook named', async () => {
    const verification = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      seed: 0,
      checkpoint: 'full',
    });
    expectCheckpointExact(verification);
    const runtime = verification.checkpointCheck!.runtime!;
    // d 8, L 2, H 2 (dh 4), F 12, V 11 (no padding), B 2, T 8: a (B, T, d) tensor is 512 bytes.
    // The textbook: the block inputs, ln_final's input, rstd and output, the logits, RoPE's two [8, 4] tables once.
    expect(runtime.textbookBytes).toBe(textbookByHand(tiny, tinyRun, 1, 11) + 2n * 8n * 4n * 4n);
    expect(runtime.textbookBytes).toBe(2n * 512n + 512n + 64n + 512n + 704n + 256n);
    // Kept: all of it and the loss, a scalar.
    expect(runtime.runtimeBytes).toBe(runtime.textbookBytes + 4n);
    expect(verification.memory.saved.keptForBackward).toBe(3_076n);
    // The one named difference: the loss, the step's output.
    const extras = runtime.kept
      .filter((entry) => entry.textbook === undefined)
      .map((entry) => [entry.tensor, entry.bytes]);
    expect(extras).toEqual([['the loss', 4n]]);
    // The rerun: per block q, k, v, output (2 B T d^2 each), the core (2 x 2 B H T^2 dh) and the FFN (3 x 2 B T d F).
    const perBlock = 4n * 2n * 16n * 64n + 2n * 2n * 2n * 2n * 64n * 4n + 3n * 2n * 16n * 96n;
    expect(verification.checkpointCheck!.recomputeFlops.traced).toBe(2n * perBlock);
    expect(verification.checkpointCheck!.recompute.matchedCount).toBe(2 * 9);
  });

  it('a planted lm_head that keeps one more (B, T, Vp) tensor is caught at lm_head with its exact bytes', async () => {
    // Abs's gradient keeps its input (the logits, already kept) and the loss keeps Abs's output: one more buffer.
    const keepsMore = (x: tf.Tensor3D, w: tf.Tensor2D, b?: tf.Tensor1D) => tf.abs(linear(x, w, b));
    const verification = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      seed: 0,
      checkpoint: 'full',
      parts: { linear: keepsMore },
    });
    const check = verification.checkpointCheck!;
    expect(check.keptOk).toBe(false);
    expect(verification.ok).toBe(false);
    expect(check.kept.filter((entry) => entry.traced !== entry.formula)).toEqual([
      { module: 'lm_head', traced: 2n * 704n, formula: 704n },
    ]);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`random architectures on ${backend}: kept storage equals what tfjs keeps, module by module, and the rerun matches`, async () => {
      const runs = arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 5, spareContextMax: 2, seedMax: 1000 });
      // Clones share storage on wasm as on cpu (src/runtime/wasm_shared_clones.ts): one runtime list for both.
      await fc.assert(
        fc.asyncProperty(runs, async ({ config, run, seed }) => {
          const verification = await verifyTraining({ config, run, backend, seed, checkpoint: 'full' });
          expectCheckpointExact(verification);
          // The runtime's list holds every textbook tensor, and beyond it only the loss and a zero-centred 1 + g.
          const runtime = runtimeSavedWithFullCheckpointing(config, run, 'shared');
          const textbook = runtime.kept.filter((entry) => entry.textbook !== undefined);
          expect(textbook.reduce((total, entry) => total + entry.bytes, 0n)).toBe(
            savedActivationBytes(savedActivations(config, { checkpoint: 'full' }), run.batch, run.seq),
          );
          const gain = config.zero_centered_gain === true ? 4n * BigInt(config.d_model) : 0n;
          expect(runtime.runtimeBytes - runtime.textbookBytes).toBe(4n + gain);
          expect(verification.memory.saved.keptForBackward).toBe(runtime.runtimeBytes);
        }),
        { numRuns: backend === 'cpu' ? 25 : 12, seed: 20_261_204 },
      );
    });
  }
});
