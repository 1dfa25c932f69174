import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { headDim, type ModelConfig, type RunShape } from '../src/config/model_config.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { trainingMismatchLines, trainingVerdictLine } from '../src/views/verify_training_report.js';
import { backwardMatmulInventory, tracedStepPeaks, type BackwardMatmulRow } from '../src/analytic/training/index.js';
import { verificationExitCode } from '../src/verify/index.js';
import { verifyTraining, type TrainingVerification } from '../src/verify/verify_training.js';
import { arbitrarySmallModel } from './helpers/arbitrary_small_model.js';
import { cli } from './helpers/cli_runner.js';
import { tinyConfig } from './helpers/small_configs.js';

/** Parameters by hand: E and lm_head V*d each, per layer 4 d^2 + 3 d F + 2 gains of d, the final gain d. */
function parametersByHand(config: ModelConfig): bigint {
  const { vocab_size: V, d_model: d, d_ff: F, num_layers: L } = config;
  return BigInt(2 * V * d + L * (4 * d * d + 3 * d * F + 2 * d) + d);
}

/**
 * Forward matmul FLOPs by hand, 2 per multiply-add: per layer the four d x d projections and the
 * three FFN matrices on B*T tokens, scores and weighted sum on B*H heads of T x T x dk; then lm_head.
 */
function forwardFlopsByHand(config: ModelConfig, run: RunShape): bigint {
  const { vocab_size: V, d_model: d, d_ff: F, num_layers: L, num_heads: H } = config;
  const N = BigInt(run.batch * run.seq);
  const [T, dk] = [BigInt(run.seq), BigInt(headDim(config))];
  const perLayer = 2n * N * BigInt(4 * d * d + 3 * d * F) + 2n * 2n * BigInt(run.batch * H) * T * T * dk;
  return BigInt(L) * perLayer + 2n * N * BigInt(d * V);
}

function expectExactTwo(verification: TrainingVerification): void {
  for (const entry of [...verification.modules, ...verification.components, verification.total]) {
    expect(entry.ratio).toEqual({ numerator: 2n, denominator: 1n });
  }
}

const smallConfig = arbitrarySmallModel({
  source: 'test/verify_train.test.ts',
  vocabMax: 24,
  layersMax: 2,
  headsMax: 3,
  halfHeadDimMax: 3,
  ffnMax: 16,
  batchMax: 2,
  seqMax: 6,
  spareContextMax: 3,
  seedMax: 1000,
});

const tiny = tinyConfig('tiny-train', 'test/verify_train.test.ts');
const tinyRun: RunShape = { batch: 2, seq: 8 };

function gpt2Xl(): ModelConfig {
  return {
    name: 'gpt2-xl',
    source: 'test/verify_train.test.ts',
    vocab_size: 50257,
    context_length: 1024,
    num_layers: 48,
    d_model: 1600,
    num_heads: 25,
    d_ff: 6400,
  };
}

/** The inventory with one row replaced; throws if the row is not there, so a plant cannot miss. */
function plant(
  rows: readonly BackwardMatmulRow[],
  path: string,
  operand: string,
  change: (row: BackwardMatmulRow) => BackwardMatmulRow,
): BackwardMatmulRow[] {
  const index = rows.findIndex((row) => row.path === path && row.operand === operand);
  if (index < 0) throw new Error(`no backward row ${operand} at ${path}`);
  return rows.map((row, i) => (i === index ? change(row) : row));
}

const flops = (batch: readonly number[], m: number, k: number, n: number): bigint =>
  2n * BigInt(batch.reduce((total, dim) => total * dim, 1) * m * k * n);

describe('verify --train on cpu', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it('30 seeded random small configs: every backward and forward matmul matches exactly, backward is 2x forward everywhere', async () => {
    await fc.assert(
      fc.asyncProperty(smallConfig, async ({ config, run, seed }) => {
        const verification = await verifyTraining({ config, run, backend: 'cpu', seed });
        const matmuls = 9 * config.num_layers + 1;
        expect(verification.backward.mismatches).toEqual([]);
        expect(verification.forward.mismatches).toEqual([]);
        expect(verification.ok).toBe(true);
        expect(verification.forward.matchedCount).toBe(matmuls);
        expect(verification.backward.matchedCount).toBe(2 * matmuls);
        expect(verification.backward.tracedCount).toBe(2 * matmuls);
        expect(verification.skippedBackwardRows).toEqual([]);
        const forward = forwardFlopsByHand(config, run);
        expect(verification.total.forward).toBe(forward);
        expect(verification.total.backward).toBe(2n * forward);
        expectExactTwo(verification);
        const parameters = parametersByHand(config);
        expect(verification.optimizer.traced).toBe(14n * parameters);
        expect(verification.sixN[0]!.estimate).toBe(6n * parameters * BigInt(run.batch * run.seq));
        // Weights, m and v in fp32 and two int32 [B, T] id tensors, nothing else, before the step.
        expect(verification.memory.measured.tensorBytesBefore).toBe(Number(12n * parameters) + 8 * run.batch * run.seq);
        expect(Number.isFinite(verification.loss)).toBe(true);
        expect(tf.memory().numTensors).toBe(0);
      }),
      { numRuns: 30, seed: 20_260_611 },
    );
  });

  it('a planted weight gradient for w2 taken the wrong way round (d_model x d_ff) is caught with its exact line', async () => {
    const rows = backwardMatmulInventory(tiny, tinyRun);
    const N = tinyRun.batch * tinyRun.seq; // 16 tokens
    const planted = plant(rows, 'layers.0.ffn.w2', 'W', (row) => ({ ...row, m: tiny.d_model, k: N, n: tiny.d_ff }));
    const verification = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      backwardInventory: planted,
    });
    expect(verification.ok).toBe(false);
    expect(verificationExitCode(verification)).toBe(1);
    expect(trainingMismatchLines(verification)).toEqual([
      // dW2 = h^T dy is [F, N] x [N, d] = [12,16] x [16,8]; the plant says [8,16] x [16,12]: same FLOPs, wrong shape.
      'backward layers.0.ffn.w2: shape: expected [8,16] x [16,12] = 3,072 FLOPs; traced BatchMatMul [12,16] x [16,8] = 3,072 FLOPs',
    ]);
    expect(trainingVerdictLine(verification)).toBe(
      'training step NOT verified: backward 37 of 38 match (1 shape); traced 91,648 FLOPs, expected 91,648; forward 19 of 19 match; on cpu',
    );
    expect(tf.memory().numTensors).toBe(0);
  });

  it('a planted attention gradient that forgets dk is caught with its exact line and count', async () => {
    const rows = backwardMatmulInventory(tiny, tinyRun);
    const { batch: B, seq: T } = tinyRun;
    const H = tiny.num_heads;
    // dP = dO v^T contracts over dk = 4; the plant contracts over nothing.
    const planted = plant(rows, 'layers.1.attn.weighted_sum', 'P', (row) => ({
      ...row,
      k: 1,
      flops: flops([B, H], T, 1, T),
      macs: flops([B, H], T, 1, T) / 2n,
    }));
    const verification = await verifyTraining({
      config: tiny,
      run: tinyRun,
      backend: 'cpu',
      backwardInventory: planted,
    });
    expect(trainingMismatchLines(verification)).toEqual([
      'backward layers.1.attn.weighted_sum: shape: expected [32,1] x [1,8] = 512 FLOPs; traced BatchMatMul [32,4] x [4,8] = 2,048 FLOPs',
    ]);
    const expectedTotal = 91_648n - 2_048n + 512n;
    expect(verification.backward.expectedTotal).toBe(expectedTotal);
    expect(trainingVerdictLine(verification)).toBe(
      `training step NOT verified: backward 37 of 38 match (1 shape); traced 91,648 FLOPs, expected 90,112; forward 19 of 19 match; on cpu`,
    );
    expect(verificationExitCode(verification)).toBe(1);
  });

  it('an inventory that forgets the lm_head input gradient reports it as an extra traced kernel', async () => {
    const rows = backwardMatmulInventory(tiny, tinyRun).filter(
      (row) => !(row.path === 'lm_head' && row.operand === 'x'),
    );
    const verification = await verifyTraining({ config: tiny, run: tinyRun, backend: 'cpu', backwardInventory: rows });
    expect(trainingMismatchLines(verification)).toEqual([
      'backward lm_head: extra: expected no matmul; traced BatchMatMul [16,11] x [11,8] = 2,816 FLOPs',
    ]);
  });
});

describe('verify --train on wasm', () => {
  // Off on wasm: the leak check counts the loss's saved logits as a leak there, where a clone copies
  // (src/model/cross_entropy.ts). Tensor counts are still checked.
  beforeAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('a small config passes exactly and releases every tensor', async () => {
    const verification = await verifyTraining({ config: tiny, run: tinyRun, backend: 'wasm', seed: 4 });
    expect(verification.backend.name).toBe('wasm');
    expect(verification.ok).toBe(true);
    expect(verification.backward.matchedCount).toBe(38);
    expectExactTwo(verification);
    expect(verification.optimizer.traced).toBe(14n * parametersByHand(tiny));
    expect(tf.memory().numTensors).toBe(0);
  });
});

describe('verify --train on meta at full size', () => {
  let verification: TrainingVerification;
  const config = gpt2Xl();
  const run: RunShape = { batch: 1, seq: 1024 };

  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    registerMetaBackend();
    verification = await verifyTraining({ config, run, backend: 'meta' });
  });

  it('GPT-2 XL: 866 backward and 433 forward matmuls match exactly, with the leak check on and every tensor released', () => {
    expect(verification.backend.name).toBe('meta');
    expect(verification.ok).toBe(true);
    expect(verification.backward.matchedCount).toBe(866);
    expect(verification.forward.matchedCount).toBe(433);
    expectExactTwo(verification);
    expect(verification.loss).toBeUndefined();
    expect(tf.memory().numTensors).toBe(0);
  });

  it('GPT-2 XL FLOPs against hand-worked closed forms', () => {
    // design.md's anchor: 4.513 TFLOP forward at 1 x 1024 tokens.
    expect(forwardFlopsByHand(config, run)).toBe(4_513_336_524_800n);
    expect(verification.total.forward).toBe(4_513_336_524_800n);
    expect(verification.total.backward).toBe(9_026_673_049_600n);
    // N = 2,127,057,600 (the seed's count); AdamW 14 per parameter as it runs.
    expect(parametersByHand(config)).toBe(2_127_057_600n);
    expect(verification.optimizer.traced).toBe(29_778_806_400n);
    expect(verification.optimizer.tracedPerParameter).toEqual({ numerator: 14n, denominator: 1n });
    const [withEmbeddings, withoutEmbeddings] = verification.sixN;
    expect(withEmbeddings!.estimate).toBe(6n * 2_127_057_600n * 1024n);
    expect(withoutEmbeddings!.parameters).toBe(2_127_057_600n - 50_257n * 1_600n);
    expect(withEmbeddings!.traced).toBe(3n * 4_513_336_524_800n);
  });

  it('peak memory: measured shapes beside the estimate, the difference explained', () => {
    const { measured, analytic, reasons } = verification.memory;
    // Weights, m and v (12 bytes per parameter) and the ids and targets.
    expect(measured.tensorBytesBefore).toBe(12 * 2_127_057_600 + 8 * 1024);
    expect(measured.bufferBytesBefore).toBe(measured.tensorBytesBefore);
    expect(measured.tensorPeak.bytes).toBeGreaterThan(Number(analytic.total));
    expect(measured.bufferPeak.bytes).toBeLessThanOrEqual(measured.tensorPeak.bytes);
    // The forward pass frees each block's intermediates and the backward pass what each node is
    // done with, so the step peaks in the loss's gradient: what was held before, the saved
    // activations, the 4-byte loss and its three [B, T, V] fp32 buffers (one-hot, softmax, their
    // difference). Before, everything the backward pass made stayed to its end: 91,437,579,276 bytes.
    const saved = verification.memory.saved;
    expect(measured.bufferPeak.phase).toBe('backward');
    expect(measured.bufferPeak.path).toBe('loss');
    expect(BigInt(measured.bufferPeak.bytes)).toBe(saved.formulaPeak + 3n * 4n * 1_024n * 50_257n);
    expect(saved.formulaPeak).toBe(25_524_699_392n + saved.formula + 4n);
    expect(measured.bufferPeak.bytes).toBe(38_945_050_884);
    // The same figure from the formulas alone, as `train` states it.
    expect(tracedStepPeaks(verification.config, verification.run).lossGradient).toBe(38_945_050_884n);
    // The update's peak by hand: held before, 4P of gradients, the loss, three copies of the table V x d.
    const update = verification.memory.saved.updatePeak;
    expect(update.formula).toBe(25_524_699_392n + 4n * 2_127_057_600n + 4n + 3n * 4n * 50_257n * 1_600n);
    expect(update.measured).toBe(34_997_864_196n);
    expect(update.matches).toBe(true);
    // Between blocks, 48 forward and 51 backward boundaries (lm_head's and ln_final's among them), each exactly its formula. The last, before the embeddings'
    // backward: held before, the loss, every gradient but the token table's (P - V d = 2,046,646,400
    // parameters) and one [1, 1024, 1600] fp32 dy.
    const boundaries = verification.memory.saved.boundaries;
    expect(boundaries).toHaveLength(99);
    expect(boundaries.every((boundary) => boundary.matches === true)).toBe(true);
    expect(boundaries.at(-1)!.measured).toBe(25_524_699_392n + 4n + 4n * 2_046_646_400n + 4n * 1_024n * 1_600n);
    expect(boundaries.at(-1)!.measured).toBe(33_717_838_596n);
    // The lookup's gradient then scatters every row into a [50,257, 1,600] fp32 table.
    const [lookup] = verification.memory.saved.embeddingPeaks;
    expect(lookup!.module).toBe('token_embeddings');
    expect(lookup!.measured).toBe(33_717_838_596n + 4n * 50_257n * 1_600n);
    expect(lookup!.measured).toBe(34_039_483_396n);
    // After the step only the returned loss, one float32, is new.
    expect(measured.tensorBytesAfter).toBe(measured.tensorBytesBefore + 4);
    expect(reasons[0]).toBe(
      "Before the step, weights, AdamW's m and v, ids and targets held 25,524,699,392 bytes; the estimate's parameters " +
        'and moments are 25,524,691,200 bytes: the difference is exactly the ids and targets (2 x B x T int32, 8,192 bytes).',
    );
    expect(reasons.at(-1)).toContain('On meta no byte is held');
  });
});

describe('the verify command with --train', () => {
  it('adds the training step to the forward verification and exits 0 when everything matches', async () => {
    const { code, stdout, stderr } = await cli(
      'verify',
      'tiny',
      '--backend',
      'cpu',
      '--seq',
      '8',
      '--train',
      '--format',
      'json',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const json = JSON.parse(stdout) as { ok: boolean; training: Record<string, unknown> };
    expect(json.ok).toBe(true);
    expect(json.training['ok']).toBe(true);
    // tiny: L = 2, so 19 forward and 38 backward matmuls.
    expect((json.training['backward'] as Record<string, unknown>)['matched_count']).toBe(38);
    expect((json.training['forward'] as Record<string, unknown>)['matched_count']).toBe(19);
    expect(json.training['verdict']).toBe(
      'training step verified: 38 of 38 backward matmuls and 19 of 19 forward matmuls match exactly; traced backward/forward = 2 exactly, on cpu',
    );
  });

  it('prints the training tables after the forward ones, ending with the training verdict', async () => {
    const { code, stdout: text } = await cli('verify', 'tiny', '--backend', 'meta', '--train', '--depth', '1');
    expect(code).toBe(0);
    expect(text.indexOf('Verification of tiny')).toBeLessThan(text.indexOf('Training step of tiny'));
    expect(text).toContain('The 6N rule against the traced forward + backward matmul FLOPs');
    expect(text).toContain('Peak memory of the step');
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'training step verified: 38 of 38 backward matmuls and 19 of 19 forward matmuls match exactly; traced backward/forward = 2 exactly, on meta',
    );
  });

  it('at depth 2 lists every boundary between blocks, its parts beside the measured storage', async () => {
    const { code, stdout: text } = await cli('verify', 'tiny', '--backend', 'cpu', '--train', '--depth', '2');
    expect(code).toBe(0);
    const start = text.indexOf('Storage between blocks');
    expect(start).toBeGreaterThan(text.indexOf('Peak memory of the step'));
    const rows = text
      .slice(start)
      .split('\n')
      .filter((line) => /^│ (layers|embeddings|lm_head|ln_final)/.test(line));
    // tiny, L 2: two forward boundaries, lm_head's and ln_final's, two blocks' backward and the embeddings'.
    expect(rows.map((row) => row.split('│')[1]!.trim())).toEqual([
      'layers.0 forward',
      'layers.1 forward',
      'lm_head backward',
      'ln_final backward',
      'layers.1 backward',
      'layers.0 backward',
      "embeddings' backward",
    ]);
    expect(rows.every((row) => row.includes(' equal '))).toBe(true);
    // The stream or its dy: [1, 64, 64] fp32 (tiny: d 64, at its context of 64 tokens); before
    // lm_head, the logits' gradient [1, 64, 256].
    expect(rows.map((row) => row.split('│')[4]!.trim())).toEqual([
      '16,384',
      '16,384',
      '65,536',
      '16,384',
      '16,384',
      '16,384',
      '16,384',
    ]);
  });

  it('a real step that cannot fit is refused on one line before anything runs, exit 2', async () => {
    // gpt2-small by hand: P = 2 V d + L (4 d^2 + 3 d F + 2 d) + d; weights, gradients, m, v and the kept
    // copies are 5 x 4P bytes, XNNPACK's packed copies of the matmul weights 4 (L (4 d^2 + 3 d F) + V d),
    // one AdamW line on the embedding table adds 3 x 4 V d: past the 2^32-byte wasm heap already.
    const [V, d, F, L] = [50_257n, 768n, 3_072n, 12n];
    const P = 2n * V * d + L * (4n * d * d + 3n * d * F + 2n * d) + d;
    const packed = 4n * (L * (4n * d * d + 3n * d * F) + V * d);
    expect(packed).toBe(607_374_336n);
    expect(5n * 4n * P + packed + 3n * 4n * V * d).toBeGreaterThan(2n ** 32n);
    const { code, stdout, stderr } = await cli(
      'verify',
      'gpt2-small',
      '--backend',
      'wasm',
      '--seq',
      '32',
      '--train',
      '--max-memory',
      '100GB',
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^flopledger: a training step of gpt2-small at batch 1 x 32 tokens needs about [\d.]+ GB on wasm \(weights 762 MB \+ their packed copies 607 MB \+ gradients, AdamW moments, kept copies and update temporaries [\d.]+ GB \+ activations and their gradients [\d.]+ MB\), over the 4\.29 GB a wasm heap can hold \(32-bit WebAssembly memory\); use --backend meta to trace shapes without data, or lower --seq\/--batch$/,
    );
  });

  it('without --train the output has no training step', async () => {
    const { code, stdout } = await cli('verify', 'tiny', '--backend', 'meta', '--format', 'json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).not.toHaveProperty('training');
  });
});
