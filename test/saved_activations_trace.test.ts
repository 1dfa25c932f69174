import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { architectureOf, type ModelConfig, type RunShape } from '../src/config/model_config.js';
import { scope } from '../src/core/scope.js';
import { parameterInventory, summarizeParameters } from '../src/analytic/parameters.js';
import {
  keptBeyondSavedActivations,
  savedActivationBytes,
  savedActivationBytesOfRun,
  savedActivations,
} from '../src/analytic/training/index.js';
import type { BlockCheckpointing, ModelParts } from '../src/model/index.js';
import { trainingVerdictLine } from '../src/views/verify_training_report.js';
import { verifyTraining, type TrainingVerification } from '../src/verify/verify_training.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';
import { latentConfig, smallLatentDims } from './helpers/latent_models.js';
import {
  arbitraryBlockedRun,
  arbitraryLatentMoeRun,
  arbitraryLatentRun,
  arbitraryMoeRun,
  type VariantRun,
} from './helpers/arbitrary_variant_runs.js';

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
const POLICIES = fc.constantFrom<BlockCheckpointing>('none', 'selective', 'full');

/** A planted SwiGLU on tfjs's own gradients: its Multiply keeps sigmoid(x W1) beside x W1. */
const stockSilu: ModelParts['ffn'] = (x, w1, w2, w3, project) => {
  const w1x = scope('w1', () => project(x, w1));
  const w3x = scope('w3', () => project(x, w3));
  const activated = scope('silu', () => tf.mul(w1x, tf.sigmoid(w1x)));
  const gated = scope('gate', () => tf.mul(activated, w3x));
  return scope('w2', () => project(gated as tf.Tensor3D, w2));
};

async function compare(
  config: ModelConfig,
  run: RunShape,
  seed = 0,
  backend: 'cpu' | 'wasm' = 'cpu',
  checkpoint: BlockCheckpointing = 'none',
) {
  const verification = await verifyTraining({ config, run, backend, seed, checkpoint });
  expectKeptIsFormula(verification);
  return verification;
}

function expectKeptIsFormula(verification: TrainingVerification): void {
  const { config, run, checkpoint } = verification;
  const { saved, measured } = verification.memory;
  expect(saved.heldBefore + saved.forward + saved.recompute + saved.backward + saved.optimizer).toBe(saved.peak);
  expect(saved.peak).toBe(BigInt(measured.bufferPeak.bytes));
  const parameters = summarizeParameters(config).total;
  const weightsMomentsAndIds = 12n * parameters + 8n * BigInt(run.batch) * BigInt(run.seq);
  expect(BigInt(measured.tensorBytesBefore)).toBe(weightsMomentsAndIds);
  const kept = saved.keptBuffers.reduce((total, entry) => total + entry.bytes, 0n);
  expect(kept).toBe(saved.keptForBackward);
  // Kept: exactly the formula and the named buffers.
  const formula = savedActivationBytesOfRun(savedActivations(config, { checkpoint }), config, run);
  const named = keptBeyondSavedActivations(config, checkpoint).reduce((total, entry) => total + entry.bytes, 0n);
  expect(saved.formula).toBe(formula);
  expect(saved.keptForBackward).toBe(formula + named);
  expect(saved.keptMatchesFormula).toBe(true);
  // The peak: the formula's peak and the backward pass's buffers, each named. The backward pass
  // frees what each node is done with, so its peak is below everything it made on top of what the
  // forward pass kept.
  expect(saved.formulaPeak).toBe(BigInt(measured.bufferBytesBefore) + formula + named);
  // The loss's gradient, the backward pass's first node: the formula's peak and its three
  // [B, T, Vp] fp32 buffers, whatever the step's own peak.
  const logits = BigInt(run.batch * run.seq) * BigInt(architectureOf(config).padded_vocab_size);
  expect(saved.lossGradientPeak.measured).toBe(saved.formulaPeak + 3n * 4n * logits);
  expect(saved.lossGradientPeak.matches).toBe(true);
  if (saved.peakPhase === 'backward') {
    expect(saved.backwardBuffers.reduce((total, entry) => total + entry.bytes, 0n)).toBe(saved.backward);
    expect(saved.peak <= saved.formulaPeak + saved.recompute + saved.backward).toBe(true);
  }
  // The update's peak: what was held before, every gradient, the loss and three copies of the
  // largest parameter, which the trace's own optimizer kernels name (the largest tensor they make).
  const largest = verification.records
    .filter((record) => record.phase === 'optimizer')
    .flatMap((record) => record.outputs)
    .reduce(
      (most, output) =>
        Math.max(
          most,
          output.shape.reduce((size, extent) => size * extent, 1),
        ),
      0,
    );
  const update = saved.updatePeak;
  expect(update.formula).toBe(weightsMomentsAndIds + 4n * parameters + 4n + 3n * 4n * BigInt(largest));
  expect(update.measured).toBe(update.formula);
  expect(update.matches).toBe(true);
  expectBoundariesAreFormula(verification);
  expect(verification.ok).toBe(true);
}

/**
 * Between two blocks the storage is whole tensors: held before; what the blocks run so far
 * (forward) or not yet reached (backward) keep; the gradients made so far; one [B, T, d] stream or
 * dy; and the loss, a rerun's output or what the embeddings made. Checked at every block's forward,
 * rerun and backward and at the embeddings', their first and last written here from the parameter
 * inventory and the definitions, and the embeddings' backward nodes after them.
 */
function weightsMomentsAndIdsOf({ config, run }: TrainingVerification): bigint {
  return 12n * summarizeParameters(config).total + 8n * BigInt(run.batch * run.seq);
}

function expectBoundariesAreFormula(verification: TrainingVerification): void {
  const { config, run, checkpoint } = verification;
  const boundaries = verification.memory.saved.boundaries;
  const L = config.num_layers;
  const head = architectureOf(config).final_softcap === undefined ? 2 : 3;
  expect(boundaries.length).toBe(L + head + (checkpoint === 'full' ? 2 * L : L) + 1);
  const logits = 4n * BigInt(run.batch * run.seq) * BigInt(architectureOf(config).padded_vocab_size);
  for (const boundary of boundaries) {
    const { kind, layer, module } = boundary.formula;
    const where = `${checkpoint} ${kind} ${module ?? layer ?? 'embeddings'}`;
    expect(boundary.measured, where).toBe(boundary.formula.bytes);
    expect(boundary.matches, where).toBe(true);
    // The residual stream or its dy; before lm_head (and a final soft-cap) the logits' gradient.
    const dlogits = module === 'lm_head' || module === 'final_softcap';
    expect(boundary.formula.residual, where).toBe(dlogits ? logits : 4n * BigInt(run.batch * run.seq * config.d_model));
  }
  // After the last block the backward pass runs the soft-cap's, lm_head's and ln_final's nodes.
  expect(boundaries.slice(L, L + head).map((boundary) => boundary.formula.module)).toEqual([
    ...(head === 3 ? ['final_softcap'] : []),
    'lm_head',
    'ln_final',
  ]);
  // Block 0's forward boundary: held before, the stream, and what the embeddings made on the way.
  const architecture = architectureOf(config);
  const stream = 4n * BigInt(run.batch * run.seq * config.d_model);
  const steps = (architecture.scale_embeddings ? 1n : 0n) + (architecture.positions === 'learned' ? 1n : 0n);
  const positionRows = architecture.positions === 'learned' ? 4n * BigInt(run.seq * config.d_model) : 0n;
  expect(boundaries[0]!.formula.kind).toBe('forward');
  expect(boundaries[0]!.measured).toBe(weightsMomentsAndIdsOf(verification) + stream + steps * stream + positionRows);
  // The embeddings' boundary: every gradient but the embeddings' own tables, and no activation
  // but the RoPE tables a checkpointed step holds for its reruns. The loss reaches neither a
  // router's score bias (it only chooses) nor an expert no token chose: their zeros come later,
  // except with full checkpointing, whose block backward makes them as it ends.
  const last = boundaries[boundaries.length - 1]!;
  expect(last.formula.layer).toBeUndefined();
  const unchosen = new Set(
    (verification.routing?.layers ?? []).flatMap((layer) =>
      layer.expertRows.flatMap((rows, e) => (rows === 0 ? [`${layer.path}.experts.${e}.`] : [])),
    ),
  );
  const withoutGradient = parameterInventory(config)
    .filter(
      (row) =>
        row.path === 'position_embeddings' ||
        (row.path === 'token_embeddings' && !architectureOf(config).tie_embeddings) ||
        (checkpoint !== 'full' &&
          (row.name === 'score_bias' || [...unchosen].some((expert) => row.path.startsWith(expert)))),
    )
    .reduce((total, row) => total + row.count, 0n);
  expect(last.formula.gradients).toBe(4n * (summarizeParameters(config).total - withoutGradient));
  // Every peak is a moment with a formula, or lies inside a block or a module after the blocks.
  const saved = verification.memory.saved;
  const moments = [
    saved.lossGradientPeak.formula,
    saved.updatePeak.formula,
    ...saved.embeddingPeaks.map((peak) => peak.formula),
  ];
  expect(
    moments.includes(saved.peak) || saved.peakInBlock !== undefined,
    `peak ${saved.peak} in ${saved.peakPhase} at ${verification.memory.measured.bufferPeak.path}`,
  ).toBe(true);
  // A peak inside a block is that block's start, by formula, and the buffers the block made and
  // freed since, each named: made by the block's own kernels of the peak's pass (or the step's residual sums).
  const inBlock = saved.peakInBlock;
  if (inBlock !== undefined) {
    const start = inBlock.boundary;
    expect(start.formula.layer).toBe(inBlock.layer);
    expect(start.formula.bytes + inBlock.madeBytes - inBlock.freedBytes).toBe(verification.memory.saved.peak);
    const layer = inBlock.layer === undefined ? start.formula.module! : `layers.${inBlock.layer}`;
    for (const entry of inBlock.made) {
      const inPhase =
        saved.peakPhase === 'forward'
          ? entry.phase === 'forward'
          : entry.phase === 'backward' || entry.phase === 'recompute';
      expect(inPhase, entry.path).toBe(true);
      expect(entry.path === '' || entry.path === layer || entry.path.startsWith(`${layer}.`), entry.path).toBe(true);
    }
  }
  // The embeddings' backward nodes, from their boundary (written here from the definitions): the
  // position add's batch sum [T, d] and table gradient [context, d], kept on; the scale's dy sqrt(d)
  // [B, T, d] and its scalar; the lookup's [Vp, d]; with a tied table, the running sum of its two
  // gradients once dy is freed.
  const d = BigInt(config.d_model);
  const positionGradient = architecture.positions === 'learned' ? 4n * BigInt(config.context_length) * d : 0n;
  const table = 4n * BigInt(architecture.padded_vocab_size) * d;
  const expected = [
    ...(architecture.positions === 'learned' ? [last.formula.bytes + 4n * BigInt(run.seq) * d + positionGradient] : []),
    ...(architecture.scale_embeddings ? [last.formula.bytes + positionGradient + stream + 4n] : []),
    last.formula.bytes + positionGradient + table,
    ...(architecture.tie_embeddings ? [last.formula.bytes + positionGradient + 2n * table - stream] : []),
  ];
  const embeddingPeaks = verification.memory.saved.embeddingPeaks;
  expect(embeddingPeaks.map((peak) => peak.formula)).toEqual(expected);
  for (const peak of embeddingPeaks) {
    expect(peak.measured, `${checkpoint} ${peak.module}`).toBe(peak.formula);
    expect(peak.matches).toBe(true);
  }
  // Then the last block first.
  expect(boundaries[L + head]!.formula.layer).toBe(L - 1);
  expect(boundaries[L + head]!.formula.kind).toBe(checkpoint === 'full' ? 'rerun' : 'backward');
}

describe('saved activations against a real training step', () => {
  it('the seed architecture on cpu: the kept storage is the formula and the loss, buffer by buffer', async () => {
    const verification = await compare(tiny, tinyRun);
    const { saved, reasons } = verification.memory;
    // With V 11 the logits are small: the step peaks at layers.1's last residual add in the forward
    // pass, where all the block made is still held; its start (a boundary, by formula) and the
    // buffers the block made since account for it, 24,864 + 15,488 bytes.
    expect(saved.peakPhase).toBe('forward');
    expect(saved.peakInBlock?.layer).toBe(1);
    expect(saved.peakInBlock?.boundary.measured).toBe(24_864n);
    expect(saved.peakInBlock?.madeBytes).toBe(15_488n);
    expect(saved.peakInBlock?.freedBytes).toBe(0n);
    expect(saved.peakInBlock?.boundary.matches).toBe(true);
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
      fc.asyncProperty(runs, POLICIES, async ({ config, run, seed }, checkpoint) => {
        await compare(config, run, seed, 'cpu', checkpoint);
      }),
      { numRuns: 25, seed: 20_261_205 },
    );
  });

  it('random architectures on wasm: exactly the formula and the named buffers', async () => {
    const runs = arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 5, spareContextMax: 2, seedMax: 1000 });
    await fc.assert(
      fc.asyncProperty(runs, POLICIES, async ({ config, run, seed }, checkpoint) => {
        await compare(config, run, seed, 'wasm', checkpoint);
      }),
      { numRuns: 12, seed: 20_261_205 },
    );
  });

  it('random architectures whose vocabulary dominates: the peak is the formula and the loss gradient, exactly', async () => {
    const runs = arbitraryDenseRun({ source: SOURCE, batchMax: 2, seqMax: 4, spareContextMax: 0, seedMax: 1000 });
    await expectLossGradientPeak(
      fc.tuple(runs, fc.constantFrom<BlockCheckpointing>('none', 'selective', 'full')).map(([draw, checkpoint]) => ({
        ...draw,
        checkpoint,
      })),
      16,
    );
  });

  it("a planted SwiGLU on tfjs's own gradients keeps sigmoid(x W1) too and is caught with its exact bytes", async () => {
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
    // The sigmoids are still held when the loss's gradient runs: that moment is off its formula by them.
    expect(saved.lossGradientPeak.matches).toBe(false);
    expect(saved.lossGradientPeak.measured! - saved.lossGradientPeak.formula).toBe(2n * 768n);
    expect(trainingVerdictLine(verification)).toContain("the loss gradient's peak: 1,536 bytes more than its formula");
    // Between blocks: each block's sigmoid is held from its forward until its own backward ends:
    // layers.1's forward starts with block 0's (768 over); lm_head's, ln_final's and layers.1's
    // backward with both (1,536); layers.0's backward with block 0's, the embeddings' with none.
    const over = saved.boundaries.map((boundary) => boundary.measured! - boundary.formula.bytes);
    expect(over).toEqual([0n, 768n, 1_536n, 1_536n, 1_536n, 768n, 0n]);
    expect(trainingVerdictLine(verification)).toContain('between blocks: 5 of 7 boundaries off their formula');
  });

  it("with selective checkpointing the tiny model peaks in ln_final's backward: its start by hand, its buffers named", async () => {
    const verification = await compare(tiny, tinyRun, 0, 'cpu', 'selective');
    const { saved } = verification.memory;
    // Held before: 12 bytes for each of P = 2 x 11 x 8 + 8 + 2 (4 x 64 + 3 x 8 x 12 + 2 x 8) = 1,304
    // parameters and the int32 ids and targets (2 x 16 x 4); the loss; each block's kept tensors
    // without P: 4 x 16 (8 x 8 + 4 x 12) + 2 x 4 x 16 = 7,296; the RoPE tables 256; ln_final's input
    // and rstd 512 + 64; lm_head's gradient 4 x 8 x 11; dy 4 x 16 x 8.
    const start = 12n * 1_304n + 128n + 4n + 2n * 7_296n + 256n + 512n + 64n + 352n + 512n;
    expect(start).toBe(32_068n);
    expect(saved.peakPhase).toBe('backward');
    const inBlock = saved.peakInBlock!;
    expect(inBlock.layer).toBeUndefined();
    expect(inBlock.boundary.formula.module).toBe('ln_final');
    expect(inBlock.boundary.measured).toBe(start);
    // Made by the norm's gradient: six [2, 8, 8] products, a difference, the mean [2, 8, 1] and the
    // gain's gradient [8]; nothing freed yet.
    expect(inBlock.made.map((entry) => `${entry.path} ${entry.kernel} ${entry.bytes}`)).toEqual([
      'ln_final Multiply 3072',
      'ln_final Sub 512',
      'ln_final Mean 64',
      'ln_final Sum 32',
    ]);
    expect(inBlock.freedBytes).toBe(0n);
    expect(saved.peak).toBe(start + 3_680n);
  });

  it('between blocks of the backward pass, a small model holds what the definitions say, worked by hand', async () => {
    // V 64, L 3, d 16, H 2 (dh 8), F 40, B 2, T 16: the seed's block (RMSNorm, RoPE, SwiGLU, untied).
    const config: ModelConfig = { ...tiny, vocab_size: 64, context_length: 16, num_layers: 3, d_model: 16, d_ff: 40 };
    const run: RunShape = { batch: 2, seq: 16 };
    // Parameters: per block 4 d^2 + 3 d F + 2 d = 2,976; the embeddings and lm_head V d = 1,024
    // each; ln_final d = 16. In all 3 x 2,976 + 2 x 1,024 + 16 = 10,992.
    const block = 4n * (4n * 16n * 16n + 3n * 16n * 40n + 2n * 16n);
    expect(block).toBe(11_904n);
    // Held before: weights, m and v (12 bytes a parameter) and the int32 ids and targets.
    const heldBefore = 12n * 10_992n + 2n * 4n * 32n;
    // Per block kept (a = 4 bytes, N = B T = 32): N d each for the block's input, ln1's output, q
    // and k after RoPE, v, P v, the mid-block residual and ln2's output; N F each for x W1, x W3,
    // SiLU and their product; P, B H T^2; and the two norms' statistics, N each in fp32.
    const kept = 4n * 32n * (8n * 16n + 4n * 40n) + 4n * 2n * 2n * 16n * 16n + 2n * 4n * 32n;
    expect(kept).toBe(41_216n);
    const rope = 2n * 4n * 16n * 8n; // cos and sin [T, dh], held while a block still reads them
    const dy = 4n * 32n * 16n;
    const loss = 4n;
    const finalGradients = 4n * (64n * 16n + 16n); // lm_head and ln_final
    const none = await verifyTraining({ config, run, backend: 'cpu', seed: 0 });
    // After the loss: lm_head's node holds the final norm's input, rstd and output and the logits'
    // gradient [B, T, V]; ln_final's the norm's input and rstd, lm_head's gradient and dy.
    const lnFinalKept = 4n * 32n * 16n + 4n * 32n;
    const expected = [
      heldBefore + loss + rope + 3n * kept + lnFinalKept + 4n * 32n * 16n + 4n * 32n * 64n,
      heldBefore + loss + rope + 3n * kept + lnFinalKept + 4n * 64n * 16n + dy,
      heldBefore + loss + rope + 3n * kept + finalGradients + dy,
      heldBefore + loss + rope + 2n * kept + finalGradients + block + dy,
      heldBefore + loss + rope + kept + finalGradients + 2n * block + dy,
      heldBefore + loss + finalGradients + 3n * block + dy,
    ];
    expect(expected).toEqual([269_252n, 265_156n, 263_044n, 233_732n, 204_420n, 174_084n]);
    const backward = (verification: TrainingVerification) =>
      verification.memory.saved.boundaries.filter((boundary) => boundary.formula.kind !== 'forward');
    expect(backward(none).map((boundary) => boundary.measured)).toEqual(expected);
    expect(backward(none).map((boundary) => boundary.formula.bytes)).toEqual(expected);
    // The forward pass: held before, the blocks run so far, the stream, and from block 1 on the
    // RoPE tables (made outside any kernel, counted from block 0's first use).
    const forward = none.memory.saved.boundaries.filter((boundary) => boundary.formula.kind === 'forward');
    expect(forward.map((boundary) => boundary.measured)).toEqual([
      heldBefore + dy,
      heldBefore + kept + rope + dy,
      heldBefore + 2n * kept + rope + dy,
    ]);
    // Full checkpointing: a block keeps its input alone; its rerun makes the rest again, and tfjs
    // holds the rerun's output until the rerun's backward returns. The RoPE tables are held for
    // the reruns until the step ends.
    const input = 4n * 32n * 16n;
    const full = await verifyTraining({ config, run, backend: 'cpu', seed: 0, checkpoint: 'full' });
    const rerun = (done: bigint, below: bigint) =>
      heldBefore + loss + rope + below * input + finalGradients + done * block + dy;
    const fullExpected = [
      heldBefore + loss + rope + 3n * input + lnFinalKept + 4n * 32n * 16n + 4n * 32n * 64n,
      heldBefore + loss + rope + 3n * input + lnFinalKept + 4n * 64n * 16n + dy,
      rerun(0n, 3n),
      rerun(0n, 3n) + kept - input + dy,
      rerun(1n, 2n),
      rerun(1n, 2n) + kept - input + dy,
      rerun(2n, 1n),
      rerun(2n, 1n) + kept - input + dy,
      heldBefore + loss + rope + finalGradients + 3n * block + dy,
    ];
    expect(fullExpected.slice(2, 4)).toEqual([145_540n, 186_756n]);
    expect(backward(full).map((boundary) => boundary.measured)).toEqual(fullExpected);
    expect(
      backward(full).map((boundary) => `${boundary.formula.kind} ${boundary.formula.module ?? boundary.formula.layer}`),
    ).toEqual([
      'backward lm_head',
      'backward ln_final',
      'rerun 2',
      'backward 2',
      'rerun 1',
      'backward 1',
      'rerun 0',
      'backward 0',
      'backward undefined',
    ]);
    expect(full.ok).toBe(true);
  });
});

/**
 * The saved activations of a SwiGLU mixture-of-experts model (RMSNorm, RoPE, every layer routed)
 * in closed form, from the definitions (N = B T tokens make k N routed rows, a = 4 bytes, int32
 * indices 4 bytes, statistics 4 bytes):
 *   attention and ln2, as the seed's: B T (8 a d + 8) + a B H T^2
 *   router p [N, E]; the indices of the picks, of each row, of each row's weight and of its
 *   destination [k N] each; the gathered rows and the experts' outputs [k N, d]; each expert's
 *   x W1, x W3, SiLU(x W1) and the product [k N, Fe]; each row's weight [k N]:
 *                                          B T (a (E + 2 k d + 4 k Fe + k) + 16 k)
 *   renormalised: the picked p [N, k] and their sum [N]: B T a (k + 1)
 *   a shared expert of width Fs with its gate: its FFN, the sigmoid [N] and its output [N, d]:
 *                                          B T a (4 Fs + 1 + d)
 *   after the last block: B T (2 a d + 4 + a V); RoPE's cos and sin once: 2 a T dh.
 */
function moeClosedForm(config: ModelConfig, run: RunShape): bigint {
  const [B, T, L, d, H, E, k, Fe, V] = [
    run.batch,
    run.seq,
    config.num_layers,
    config.d_model,
    config.num_heads,
    config.num_experts!,
    config.experts_per_token!,
    config.expert_d_ff!,
    config.vocab_size,
  ].map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  const a = 4n;
  const dh = d / H;
  const attention = B * T * (8n * a * d + 8n) + a * B * H * T * T;
  const routed = B * T * (a * (E + 2n * k * d + 4n * k * Fe + k) + 16n * k);
  const renormalised = config.normalize_top_k === true ? B * T * a * (k + 1n) : 0n;
  const Fs = config.shared_d_ff === undefined ? undefined : BigInt(config.shared_d_ff);
  const shared = Fs === undefined ? 0n : B * T * a * (4n * Fs + (config.shared_expert_gate === true ? 1n + d : 0n));
  const final = B * T * (2n * a * d + 4n + a * V);
  return L * (attention + routed + renormalised + shared) + final + 2n * a * T * dh;
}

/**
 * The saved activations of a latent-attention model (RMSNorm, SwiGLU FFN) in closed form, from
 * DeepSeek's definitions: per block ln1's input, output and rstd; a query latent's norm input,
 * output and rstd [rq]; the kv latent's likewise [r]; q and k joined, H (dn + dr) each; P
 * [B, H, T, T]; v and P v, H dv each; ln2 and the FFN as the seed's. After the last block as the
 * seed's; RoPE's cos and sin only dr wide.
 */
function latentClosedForm(config: ModelConfig, run: RunShape): bigint {
  const n = (value: number | undefined) => BigInt(value ?? 0);
  const [B, T, L, d, H, F, V] = [
    run.batch,
    run.seq,
    config.num_layers,
    config.d_model,
    config.num_heads,
    config.d_ff,
    config.vocab_size,
  ].map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  const [dn, dr, dv, r, rq] = [
    config.qk_nope_head_dim,
    config.qk_rope_head_dim,
    config.v_head_dim,
    config.kv_lora_rank,
    config.q_lora_rank,
  ].map(n) as [bigint, bigint, bigint, bigint, bigint];
  const a = 4n;
  const norm = (width: bigint) => B * T * (2n * a * width + 4n);
  const queryLatent = config.q_lora_rank === undefined ? 0n : norm(rq);
  const layer =
    norm(d) +
    queryLatent +
    norm(r) +
    2n * a * B * T * H * (dn + dr) +
    a * B * H * T * T +
    2n * a * B * T * H * dv +
    norm(d) +
    4n * a * B * T * F;
  const final = B * T * (2n * a * d + 4n + a * V);
  return L * layer + final + 2n * a * T * dr;
}

describe('saved activations of the variants in closed form, against a real training step', () => {
  it('a mixture of experts: p, the routed rows, their indices and weights, and each expert at its rows', async () => {
    const config: ModelConfig = {
      ...tinyConfig('tiny-moe', SOURCE),
      num_experts: 3,
      experts_per_token: 2,
      expert_d_ff: 2,
    };
    const run: RunShape = { batch: 1, seq: 4 };
    // L 2 of d 8, H 2, E 3, k 2, Fe 2, V 11 at B 1, T 4 (N 4, 8 routed rows), a layer's attention
    // and ln2 4 (256 + 8) + 4 x 2 x 16 = 1,184 and routing 4 (4 (3 + 32 + 16 + 2) + 32) = 976;
    // final 4 (64 + 4 + 44) = 448; RoPE 2 x 4 x 4 x 4 = 128.
    expect(moeClosedForm(config, run)).toBe(2n * (1_184n + 976n) + 448n + 128n);
    for (const backend of ['cpu', 'wasm'] as const) {
      const { memory } = await compare(config, run, 0, backend);
      expect(memory.saved.formula).toBe(moeClosedForm(config, run));
      expect(memory.saved.keptForBackward).toBe(moeClosedForm(config, run) + 4n);
      // The MoE layers' buffers by kernel, both layers and every expert together: whichever
      // experts the router chose, 8 routed rows a layer.
      const moeBytes = (pattern: RegExp) =>
        memory.saved.keptBuffers
          .filter((entry) => pattern.test(`${entry.module} ${entry.kernel}`))
          .reduce((total, entry) => total + entry.bytes, 0n);
      // p [N, E]: 2 x 4 x 3 x 4; the picks' indices [k N] int32: 2 x 8 x 4; the destinations' likewise.
      expect(moeBytes(/^moe\.router \(made outside a kernel\)$/)).toBe(96n);
      expect(moeBytes(/^moe\.top_k \(made outside a kernel\)$/)).toBe(64n);
      expect(moeBytes(/^moe\.combine \(made outside a kernel\)$/)).toBe(64n);
      // Each expert's gathered rows [n, d] and weights [n], and its two index lists [n]: 2 x 8 x (32 + 4), 2 x 8 x 8.
      expect(moeBytes(/^moe\.experts\.\d+ GatherV2$/)).toBe(576n);
      expect(moeBytes(/^moe\.experts\.\d+ \(made outside a kernel\)$/)).toBe(128n);
      // x W1, x W3, SiLU(x W1) and the product [n, Fe]; the expert's output [n, d]: 2 x 8 x (4 x 8), 2 x 8 x 32.
      expect(moeBytes(/^moe\.experts\.\d+\.(w1|w3|silu|gate) /)).toBe(512n);
      expect(moeBytes(/^moe\.experts\.\d+\.w2 /)).toBe(512n);
      // Nothing else of the layer: the logits, the joins, the weighted rows and the scatter's sum are not kept.
      expect(moeBytes(/^moe/)).toBe(96n + 64n + 64n + 576n + 128n + 512n + 512n);
    }
    // Renormalised picks, a gated shared expert and a routing scale, on cpu at B 2, T 3.
    const deepseek: ModelConfig = {
      ...config,
      normalize_top_k: true,
      shared_d_ff: 3,
      shared_expert_gate: true,
      routed_scaling_factor: 2.5,
    };
    const { memory } = await compare(deepseek, { batch: 2, seq: 3 });
    expect(memory.saved.formula).toBe(moeClosedForm(deepseek, { batch: 2, seq: 3 }));
  });

  it('latent attention: the latents normed, q and k joined at H (dn + dr), v and P v at H dv', async () => {
    const config = latentConfig(smallLatentDims, 5, SOURCE);
    const run: RunShape = { batch: 2, seq: 5 };
    // d 8, H 2, dn 3, dr 2, dv 4, r 5, F 6, V 9, L 2 at B 2, T 5 (10 tokens), a layer:
    // ln1 10 (64 + 4) = 680, kv latent 10 (40 + 4) = 440, q and k 2 x 4 x 10 x 2 x 5 = 800,
    // P 4 x 2 x 2 x 25 = 400, v and P v 2 x 4 x 10 x 2 x 4 = 640, ln2 680, FFN 4 x 4 x 10 x 6 = 960;
    // final 10 (64 + 4 + 36) = 1,040; RoPE 2 x 5 x 2 x 4 = 80.
    expect(latentClosedForm(config, run)).toBe(2n * 4_600n + 1_040n + 80n);
    for (const backend of ['cpu', 'wasm'] as const) {
      const { memory } = await compare(config, run, 0, backend);
      expect(memory.saved.formula).toBe(10_320n);
      expect(memory.saved.keptForBackward).toBe(10_324n);
    }
    // A query latent of rank 3 adds its norm's input, output and rstd: 10 (24 + 4) per layer.
    const withQueryLatent = latentConfig({ ...smallLatentDims, qRank: 3 }, 5, SOURCE);
    expect(latentClosedForm(withQueryLatent, run)).toBe(10_320n + 2n * 280n);
    const { memory } = await compare(withQueryLatent, run);
    expect(memory.saved.formula).toBe(10_320n + 560n);
  });

  it('a blocked schedule with a window on one layer: P kept over the computed blocks only', async () => {
    const config: ModelConfig = { ...tinyConfig('tiny-windowed', SOURCE), window: 3, window_layers: 'LG' };
    const run: RunShape = { batch: 2, seq: 7, attention: { kind: 'blocked', block: 3 } };
    // P's elements per query head, pair by pair: query block a keeps key block b when some query
    // q of a keeps some key k of b (k <= q, and q - k < w with a window), R_a x C_b each.
    const keptScores = (window: number | undefined) => {
      let elements = 0n;
      for (let a = 0; a * 3 < 7; a++) {
        for (let b = 0; b <= a; b++) {
          const queries = Array.from({ length: 3 }, (_, r) => a * 3 + r).filter((q) => q < 7);
          const keys = Array.from({ length: 3 }, (_, c) => b * 3 + c).filter((k) => k < 7);
          const kept = queries.some((q) => keys.some((k) => k <= q && (window === undefined || q - k < window)));
          if (kept) elements += BigInt(queries.length * keys.length);
        }
      }
      return elements;
    };
    // Blocks 0..2, 3..5, 6: 9 + 18 + 7 = 34 without the window, 9 + 18 + 4 = 31 with w 3.
    expect([keptScores(3), keptScores(undefined)]).toEqual([31n, 34n]);
    // The seed's closed form (the first test) at B 2, T 7 with a H x scores for a H T^2 per layer:
    // B (L (a (8d + 4F) T + 8 T) + a H (31 + 34) + (2 a d + 4 + a V) T) + 2 a T dh.
    const perBatch = 2n * (4n * (64n + 48n) * 7n + 56n) + 4n * 2n * (31n + 34n) + (64n + 4n + 44n) * 7n;
    expect(2n * perBatch + 2n * 7n * 4n * 4n).toBe(15_600n);
    for (const backend of ['cpu', 'wasm'] as const) {
      const { memory } = await compare(config, run, 0, backend);
      expect(memory.saved.formula).toBe(15_600n);
      // The same model on the dense schedule keeps every T^2 score: 2 x 4 x 2 x (2 x 49 - 65) more.
      const dense = savedActivationBytes(savedActivations(config), run.batch, run.seq);
      expect(dense - memory.saved.formula).toBe(528n);
    }
  });

  it("a planted SwiGLU expert on tfjs's own gradients keeps sigmoid(x W1) at every routed row, caught with its bytes", async () => {
    const config: ModelConfig = {
      ...tinyConfig('tiny-moe', SOURCE),
      num_experts: 3,
      experts_per_token: 2,
      expert_d_ff: 2,
    };
    const verification = await verifyTraining({
      config,
      run: { batch: 1, seq: 4 },
      backend: 'cpu',
      seed: 0,
      parts: { ffn: stockSilu },
    });
    const { saved } = verification.memory;
    expect(verification.ok).toBe(false);
    expect(saved.keptMatchesFormula).toBe(false);
    // One sigmoid per routed row and expert width: L k N Fe x 4 = 2 x 2 x 4 x 2 x 4 bytes.
    expect(saved.keptForBackward - saved.formula - 4n).toBe(128n);
    expect(trainingVerdictLine(verification)).toContain(
      'kept for the backward pass: 128 bytes more than the formula and its named buffers',
    );
  });
});

/**
 * `runs` with the vocabulary and the length raised until the logits dominate, the regime of real
 * language models: three tokens per model dimension (at least 16) and four vocabulary entries per
 * head and token (at least 256), so the logits' gradient outweighs the update's three copies of
 * the largest parameter (at most Vp x d), the gradients, and the attention core's [B, H, T, T]
 * tensors. No final soft-cap: its own gradient comes after the loss's, over the same logits.
 */
function withDominantVocabulary(
  runs: fc.Arbitrary<VariantRun>,
): fc.Arbitrary<VariantRun & { backend: 'cpu' | 'wasm' }> {
  return fc
    .tuple(runs, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom('cpu', 'wasm'))
    .map(([{ config, run, seed, checkpoint }, extraVocab, extraTokens, backend]) => {
      const seq = Math.max(16, 3 * config.d_model) + extraTokens;
      const vocab = Math.max(256, 4 * config.num_heads * seq) + extraVocab;
      return {
        config: { ...config, vocab_size: vocab, context_length: seq, final_softcap: undefined },
        run: { batch: run.batch, seq },
        seed,
        checkpoint,
        backend,
      };
    });
}

/**
 * Where the logits dominate, the step peaks in the loss's gradient, before anything kept is
 * freed: what was held before, the formula, the loss and the gradient's three [B, T, Vp] fp32
 * buffers (the one-hot, the softmax and their difference), with no other term.
 */
async function expectLossGradientPeak(runs: fc.Arbitrary<VariantRun>, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(withDominantVocabulary(runs), async ({ config, run, seed, checkpoint, backend }) => {
      const verification = await compare(config, run, seed, backend, checkpoint);
      const { saved, measured } = verification.memory;
      const Vp = BigInt(architectureOf(config).padded_vocab_size);
      expect(measured.bufferPeak.phase).toBe('backward');
      expect(measured.bufferPeak.path).toBe('loss');
      expect(saved.peak).toBe(saved.formulaPeak + 3n * 4n * BigInt(run.batch * run.seq) * Vp);
    }),
    { numRuns, seed: 20_261_206 },
  );
}

/** Every variant's draw, checked on `backend`: the kept storage is the formula and the named buffers, exactly. */
async function expectVariantsExact(runs: fc.Arbitrary<VariantRun>, backend: 'cpu' | 'wasm', numRuns: number) {
  await fc.assert(
    fc.asyncProperty(runs, async ({ config, run, seed, checkpoint }) => {
      await compare(config, run, seed, backend, checkpoint);
    }),
    { numRuns, seed: 20_261_206 },
  );
}

describe('saved activations of the variants, with and without checkpointing, against a real training step', () => {
  const ranges = { source: SOURCE, batchMax: 2, seqMax: 5 };
  for (const [variant, runs] of [
    ['mixture-of-experts layers', arbitraryMoeRun(ranges)],
    ['latent attention', arbitraryLatentRun(ranges)],
    ['blocked attention schedules and sliding windows', arbitraryBlockedRun(ranges)],
    ['latent attention with experts, dense or blocked', arbitraryLatentMoeRun(ranges)],
  ] as const) {
    it(`${variant} on cpu: exactly the formula and the named buffers`, async () => {
      await expectVariantsExact(runs, 'cpu', 30);
    }, 120_000);

    it(`${variant} on wasm: exactly the formula and the named buffers`, async () => {
      await expectVariantsExact(runs, 'wasm', 6);
    }, 120_000);

    it(`${variant} whose vocabulary dominates: the peak is the formula and the loss gradient, exactly`, async () => {
      await expectLossGradientPeak(runs, 8);
    }, 120_000);
  }
});
