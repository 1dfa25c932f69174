import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { currentPhase } from '../src/core/phase.js';
import { layerIndexOf } from '../src/core/module_paths.js';
import { evaluatePolynomial, recomputeFlops, savedActivations } from '../src/analytic/training/index.js';
import { disposeAdamW, initAdamW, type AdamWHyperparameters } from '../src/model/adamw.js';
import { softmaxOverKeys } from '../src/model/causal_softmax.js';
import {
  disposeWeights,
  initWeights,
  tokenIds,
  type BlockCheckpointing,
  type ModelParts,
  type TransformerWeights,
} from '../src/model/index.js';
import { targetIds } from '../src/model/target_ids.js';
import { parametersOf, toTrainable } from '../src/model/trainable_weights.js';
import { trainingStep } from '../src/model/training_step.js';
import { useBackend } from '../src/runtime/backend.js';
import { verifyTraining, type TrainingVerification } from '../src/verify/verify_training.js';
import { describeWorkMismatch } from '../src/verify/work_check.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { cli } from './helpers/cli_runner.js';
import { arbitraryLatentDims, latentConfig } from './helpers/latent_models.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';
import { expectFailedRerunFreesEverything } from './helpers/failing_rerun.js';

/**
 * Selective checkpointing in the real training step (src/model/checkpoint.ts): each layer's
 * attention core keeps only q, k and v and reruns in its backward pass. The step must compute
 * what the step without it computes, keep nothing of the core, and rerun exactly the core.
 */
const SOURCE = 'test/train_selective_checkpoint.test.ts';
const tiny = tinyConfig('tiny-selective', SOURCE);
const tinyRun: RunShape = { batch: 2, seq: 8 };

/**
 * AdamW whose first update is proportional to the gradient: with epsilon far above every |g|,
 * lr_t m / (sqrt(v) + eps) is lr_t (1 - beta1) g / eps. Under the defaults the first update is
 * lr * g / |g|, the gradient's sign, which would hide a wrong gradient of the right sign.
 */
const GRADIENT_SIZED: AdamWHyperparameters = {
  learningRate: 1e6,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e6,
  weightDecay: 0,
};

/** One step: the loss and how far every weight moved. */
async function stepValues(config: ModelConfig, run: RunShape, checkpoint: BlockCheckpointing) {
  await useBackend('cpu');
  const weights: TransformerWeights = toTrainable(initWeights(config, { seed: 3, init: 'random' }));
  const before = parametersOf(weights).map((parameter) => parameter.variable.dataSync().slice());
  const optimizer = initAdamW(parametersOf(weights));
  const ids = tokenIds(config, run, { seed: 3, init: 'random' });
  const targets = targetIds(config, run, { seed: 3, init: 'random' });
  try {
    const loss = trainingStep(
      config,
      weights,
      { ids, targets },
      optimizer,
      GRADIENT_SIZED,
      {},
      {
        checkpoint,
        ...(run.attention === undefined ? {} : { attention: run.attention }),
      },
    );
    const value = loss.dataSync()[0]!;
    loss.dispose();
    const moved = parametersOf(weights).map((parameter, i) =>
      Array.from(parameter.variable.dataSync(), (after, j) => after - before[i]![j]!),
    );
    return { loss: value, moved };
  } finally {
    for (const tensor of [ids, targets]) tensor.dispose();
    disposeAdamW(optimizer);
    disposeWeights(weights);
  }
}

/** Storage the forward pass left for the backward pass, by the path of the kernel that made it. */
function keptByPath(verification: TrainingVerification): Map<string, bigint> {
  const kept = new Map<string, bigint>();
  for (const owner of verification.memory.measured.heldAtPhaseStart.backward ?? []) {
    if (owner.phase === 'forward') kept.set(owner.path, (kept.get(owner.path) ?? 0n) + BigInt(owner.bytes));
  }
  return kept;
}

/** The modules of a layer's attention core (one block of them in a blocked run). */
const CORE = /^layers\.\d+\.attn\.(?:scores|softcap|softmax|weighted_sum)(?:\.q\d+(?:_k\d+)?)?$/;

function expectSelectiveExact(verification: TrainingVerification): void {
  const check = verification.checkpointCheck;
  expect(check?.checkpoint).toBe('selective');
  expect(check!.recompute.mismatches).toEqual([]);
  expect(check!.recomputeWork!.mismatches.map(describeWorkMismatch)).toEqual([]);
  expect(check!.kept.filter((entry) => entry.traced !== entry.formula)).toEqual([]);
  expect(check!.kept).toHaveLength(verification.config.num_layers);
  expect(verification.ok).toBe(true);
  // Dense runs rerun every score: checkpointing.ts's count exactly. Blocked runs rerun the inventory's blocks.
  if (verification.run.attention === undefined) {
    expect(check!.recomputeFlops.traced).toBe(check!.recomputeFlops.analytic);
  }
  expect(verification.backward.mismatches).toEqual([]);
}

/**
 * The selective step keeps what the plain step keeps, module by module, but for the core's
 * buffers. A plain blocked core keeps q, k and v as the blocks it cuts them into (at attn, where
 * it slices them), the selective one keeps them whole where they were made (attn.rope, a q/k
 * norm or attn): the same bytes per layer across the attention's modules outside the core.
 */
function expectOnlyCoreFreed(plain: TrainingVerification, selective: TrainingVerification): void {
  const [before, after] = [keptByPath(plain), keptByPath(selective)];
  const blocked = plain.run.attention?.kind === 'blocked';
  const attentionOf = (module: string) => /^layers\.\d+\.attn(\.|$)/.exec(module) !== null && !CORE.test(module);
  const compared = (module: string) => !CORE.test(module) && !(blocked && attentionOf(module));
  const outsideCore = (kept: Map<string, bigint>) =>
    [...kept].filter(([module, bytes]) => compared(module) && bytes > 0n).sort();
  expect(outsideCore(after)).toEqual(outsideCore(before));
  expect([...after.keys()].filter((module) => CORE.test(module))).toEqual([]);
  if (!blocked) return;
  const attentionByLayer = (kept: Map<string, bigint>) => {
    const byLayer = new Map<number, bigint>();
    for (const [module, bytes] of kept) {
      if (!attentionOf(module)) continue;
      const layer = Number(/^layers\.(\d+)/.exec(module)![1]);
      byLayer.set(layer, (byLayer.get(layer) ?? 0n) + bytes);
    }
    return [...byLayer].sort(([a], [b]) => a - b);
  };
  expect(attentionByLayer(after)).toEqual(attentionByLayer(before));
}

/** A sliding window on some layers and a blocked schedule, over the dense random models. */
const windowedRuns = fc
  .tuple(
    arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 6, spareContextMax: 1, seedMax: 1000 }),
    fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  )
  .map(([{ config, run, seed }, window, block]) => ({
    config: window === undefined ? config : { ...config, window, window_layers: 'LG' },
    run: block === undefined ? run : { ...run, attention: { kind: 'blocked' as const, block } },
    seed,
  }));

describe('the real training step with selective checkpointing', () => {
  beforeAll(async () => {
    await useBackend('cpu');
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    tf.env().set('IS_TEST', false);
    expect(tf.memory().numTensors).toBe(0);
  });

  it('moves every weight as the step without it does, gradient-sized, for dense, GQA, windowed, blocked, capped and latent attention', async () => {
    const latent = latentConfig(
      { vocab: 9, layers: 2, d: 6, heads: 2, halfRope: 1, nope: 2, value: 3, kvRank: 3, qRank: 2, ffn: 5 },
      8,
      SOURCE,
    );
    const cases: [ModelConfig, RunShape][] = [
      [tiny, tinyRun],
      [everyVariantConfig(SOURCE), tinyRun],
      [
        { ...tiny, window: 3, attn_softcap: 2 },
        { ...tinyRun, attention: { kind: 'blocked', block: 3 } },
      ],
      [latent, tinyRun],
    ];
    for (const [config, run] of cases) {
      const before = tf.memory().numTensors;
      const plain = await stepValues(config, run, 'none');
      const selective = await stepValues(config, run, 'selective');
      expect(tf.memory().numTensors).toBe(before);
      expect(selective.loss).toBe(plain.loss);
      expect(plain.moved.some((values) => values.some((value) => Math.abs(value) > 1e-4))).toBe(true);
      selective.moved.forEach((values, i) => {
        values.forEach((value, j) => expect(value).toBeCloseTo(plain.moved[i]![j]!, 6));
      });
    }
  });

  it('the tiny seed model on cpu, by hand: nothing of the core kept, the core rerun once per layer', async () => {
    const plain = await verifyTraining({ config: tiny, run: tinyRun, backend: 'cpu', seed: 0 });
    const selective = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      seed: 0,
      checkpoint: 'selective',
    });
    expectSelectiveExact(selective);
    expectOnlyCoreFreed(plain, selective);
    // d 8, L 2, H 2 (dh 4), F 12, V 11, B 2, T 8. Without checkpointing each layer's core keeps P alone
    // (B H T^2 fp32 = 1,024 bytes): the scale and the mask keep nothing (src/model/lean_gradients.ts).
    const corePerLayer = 1_024n;
    // The formula, B (L (a (8d + 4F) T + a H T^2 + 8 T) + (2 a d + 4 + a V) T), the RoPE tables once
    // (2 T dh a = 256) and the loss (4): exactly what the plain step keeps.
    expect(plain.memory.saved.keptForBackward).toBe(18_432n + 256n + 4n);
    expect(selective.memory.saved.keptForBackward).toBe(18_692n - 2n * corePerLayer);
    // The formula drops P per layer: L a B H T^2.
    expect(selective.memory.saved.formula).toBe(18_432n - 2n * 4n * 2n * 2n * 64n + 256n);
    expect(selective.memory.saved.keptMatchesFormula).toBe(true);
    expect(evaluatePolynomial(savedActivations(tiny, { checkpoint: 'selective' }).total, 2, 8)).toBe(16_384n);
    // The rerun: per layer q k^T and P v, 2 B H T^2 dh FLOPs each.
    const check = selective.checkpointCheck!;
    expect(check.recomputeFlops.traced).toBe(2n * 2n * (2n * 2n * 2n * 64n * 4n));
    expect(check.recomputeFlops.analytic).toBe(
      evaluatePolynomial(recomputeFlops(tiny, 'selective').total, tinyRun.batch, tinyRun.seq),
    );
    expect(check.recompute.matchedCount).toBe(2 * 2);
    // Its non-matmul work per layer: the scale (B H T^2), the position offset, Greater and Select
    // (T^2 each) and the mask Add (B H T^2) under scores; the softmax, 5n - 2 per row of n = 8 keys
    // over B H T = 32 rows.
    expect(check.recomputeWork!.checks.map((entry) => [entry.path, entry.traced])).toEqual(
      [0, 1].flatMap((i) => [
        [`layers.${i}.attn.scores`, { kernels: 5, flops: 256n + 64n + 64n + 64n + 256n }],
        [`layers.${i}.attn.softmax`, { kernels: 1, flops: 32n * (5n * 8n - 2n) }],
      ]),
    );
    expect(selective.nonMatmul.find((entry) => entry.phase === 'recompute')?.flops).toBe(2n * (704n + 1_216n));
  });

  it('a planted rerun that runs the softmax twice is caught at each softmax with its exact work', async () => {
    const twiceInRerun: ModelParts['softmax'] = (scores) => {
      if (currentPhase() === 'recompute') softmaxOverKeys(scores).dispose();
      return softmaxOverKeys(scores);
    };
    const verification = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      seed: 0,
      checkpoint: 'selective',
      parts: { softmax: twiceInRerun },
    });
    const check = verification.checkpointCheck!;
    expect(verification.ok).toBe(false);
    expect(check.ok).toBe(false);
    expect(check.recompute.ok).toBe(true);
    expect(check.recomputeWork!.mismatches.map(describeWorkMismatch)).toEqual([
      'layers.0.attn.softmax: work: expected 1 kernel, 1,216 FLOPs; traced 2 kernels, 2,432 FLOPs',
      'layers.1.attn.softmax: work: expected 1 kernel, 1,216 FLOPs; traced 2 kernels, 2,432 FLOPs',
    ]);
  });

  it('frees everything when the rerun throws', async () => {
    const failingRerun: ModelParts['softmax'] = (scores) => {
      if (currentPhase() === 'recompute') throw new Error('planted: the rerun fails');
      return softmaxOverKeys(scores);
    };
    await expectFailedRerunFreesEverything(
      tiny,
      tinyRun,
      'selective',
      { softmax: failingRerun },
      'planted: the rerun fails',
    );
  });

  it('random architectures, windows and blocks on cpu: only the core is freed, module by module, and its rerun matches', async () => {
    await fc.assert(
      fc.asyncProperty(windowedRuns, async ({ config, run, seed }) => {
        const plain = await verifyTraining({ config, run, backend: 'cpu', seed });
        const selective = await verifyTraining({ config, run, backend: 'cpu', seed, checkpoint: 'selective' });
        expectSelectiveExact(selective);
        expectOnlyCoreFreed(plain, selective);
        expect(selective.loss).toBe(plain.loss);
        // The formula's saving is each layer's T^2 tensors: P, and tanh of the capped scores.
        const saving =
          evaluatePolynomial(savedActivations(config).total, run.batch, run.seq) -
          evaluatePolynomial(savedActivations(config, { checkpoint: 'selective' }).total, run.batch, run.seq);
        const caps = config.attn_softcap === undefined ? 1n : 2n;
        expect(saving).toBe(caps * 4n * BigInt(config.num_layers * run.batch * config.num_heads * run.seq * run.seq));
      }),
      { numRuns: 20, seed: 20_261_205 },
    );
  });

  it('random latent-attention models on cpu: the core reruns from q, k and v exactly', async () => {
    const dims = arbitraryLatentDims({ vocab: 9, d: 6, nope: 2, value: 3, kvRank: 3, qRank: 2, ffn: 5 });
    await fc.assert(
      fc.asyncProperty(dims, fc.integer({ min: 1, max: 5 }), async (latentDims, seq) => {
        const config = latentConfig(latentDims, seq, SOURCE);
        const selective = await verifyTraining({
          config,
          run: { batch: 2, seq },
          backend: 'cpu',
          seed: 1,
          checkpoint: 'selective',
        });
        expectSelectiveExact(selective);
      }),
      { numRuns: 6, seed: 20_261_205 },
    );
  });

  it('random architectures on wasm: the core keeps nothing and reruns exactly', async () => {
    // The per-kernel leak check stays on: a clone shares its storage on wasm too (src/runtime/wasm_shared_clones.ts).
    await fc.assert(
      fc.asyncProperty(windowedRuns, async ({ config, run, seed }) => {
        const selective = await verifyTraining({ config, run, backend: 'wasm', seed, checkpoint: 'selective' });
        expectSelectiveExact(selective);
        const coreKept = [...keptByPath(selective).keys()].filter(
          (module) => CORE.test(module) && layerIndexOf(module) !== undefined,
        );
        expect(coreKept).toEqual([]);
      }),
      { numRuns: 8, seed: 20_261_205 },
    );
  });
});

describe('verify --train --checkpoint', () => {
  it('traces the chosen checkpointing and reports its checks', async () => {
    const { code, stdout, stderr } = await cli(
      ...[
        'verify',
        'tiny',
        '--backend',
        'cpu',
        '--seq',
        '8',
        '--train',
        '--checkpoint',
        'selective',
        '--format',
        'json',
      ],
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const checkpoint = (JSON.parse(stdout) as { training: { checkpoint: Record<string, unknown> } }).training
      .checkpoint;
    expect(checkpoint['policy']).toBe('selective');
    expect(checkpoint['ok']).toBe(true);
    const flops = checkpoint['recompute_flops'] as { traced: string; analytic: string };
    expect(flops.traced).toBe(flops.analytic);
  });

  it.each([
    [['--checkpoint', 'selective'], '--checkpoint needs --train; add --train to trace a training step'],
    [['--train', '--checkpoint', 'partial'], '--checkpoint: "partial" is not a checkpointing policy'],
    [
      ['--decode', '--prompt', '2', '--generate', '2', '--checkpoint', 'full'],
      '--checkpoint does not go with --decode: checkpointing belongs to a training step (--train)',
    ],
  ])('refuses %j on one line, exit 2', async (flags, message) => {
    const { code, stdout, stderr } = await cli('verify', 'tiny', '--backend', 'meta', ...flags);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toContain(`flopledger: ${message}`);
  });
});
