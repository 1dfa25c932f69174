import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { summarizeParameters } from '../parameters.js';
import { optimizerPeak, type OptimizerPeak } from './optimizer_peak.js';
import { keptBeyondSavedActivations } from './runtime_saved.js';
import { savedActivationBytesOfRun, savedActivations } from './saved_activations.js';
import { heldBeforeStep, stepBoundaries, type StepBoundary } from './step_boundaries.js';

/**
 * Two moments of this project's fp32 training step (src/model/training_step.ts) whose storage is
 * exact, as the step frees what it is done with (src/model/backward_release.ts): `verify --train`
 * checks both against the trace on every step.
 *
 *   loss gradient  the backward pass's first node: what was held before the step (weights, m, v:
 *                  12 bytes per parameter; the int32 ids and targets), the saved activations and
 *                  the named buffers the step keeps besides (the loss, a zero-centred gain's 1 + g),
 *                  and the gradient's three [B, T, Vp] fp32 buffers (one-hot, softmax, their
 *                  difference). Nothing kept is freed yet and no gradient is made.
 *   update         the AdamW update: held before, every gradient (4 bytes per parameter), the
 *                  loss, and three copies of the largest parameter (optimizer_peak.ts).
 *
 * Between them, the storage at every block boundary has a formula too (step_boundaries.ts); the
 * largest is given here. The step's peak is at least the largest of these. Where the logits
 * outweigh the rest, as in real language models, it is the loss gradient's; a small model with a
 * small vocabulary may peak in the update, inside a block (above that block's boundary by the
 * block's own buffers) or at a node of the final norm, lm_head or a final soft-cap.
 */
export interface TracedStepPeaks {
  readonly heldBefore: bigint;
  /** The saved-activation formula at this run and the named buffers kept besides. */
  readonly kept: bigint;
  /** The loss gradient's three [B, T, Vp] fp32 buffers. */
  readonly lossGradientScratch: bigint;
  readonly lossGradient: bigint;
  readonly gradients: bigint;
  /** The largest parameter tensor, whose three copies the update holds at its peak. */
  readonly largestParameter: OptimizerPeak['largest'];
  /** Three copies of the largest parameter. */
  readonly updateScratch: bigint;
  readonly update: bigint;
  /** The largest storage between two blocks (step_boundaries.ts). */
  readonly largestBoundary: StepBoundary;
}

const FLOAT_BYTES = 4n;
const LOSS_BYTES = 4n;
/** One-hot, softmax and their difference (src/model/cross_entropy.ts). */
const LOSS_GRADIENT_BUFFERS = 3n;

export function tracedStepPeaks(
  config: ModelConfig,
  run: RunShape,
  checkpoint: 'none' | 'selective' | 'full' = 'none',
): TracedStepPeaks {
  const parameters = summarizeParameters(config).total;
  const tokens = BigInt(run.batch) * BigInt(run.seq);
  const heldBefore = heldBeforeStep(parameters, run);
  const beyond = keptBeyondSavedActivations(config, checkpoint).reduce((total, entry) => total + entry.bytes, 0n);
  const kept = savedActivationBytesOfRun(savedActivations(config, { checkpoint }), config, run) + beyond;
  const lossGradientScratch =
    LOSS_GRADIENT_BUFFERS * FLOAT_BYTES * tokens * BigInt(architectureOf(config).padded_vocab_size);
  const gradients = FLOAT_BYTES * parameters;
  const update = optimizerPeak(config);
  return {
    heldBefore,
    kept,
    lossGradientScratch,
    lossGradient: heldBefore + kept + lossGradientScratch,
    gradients,
    largestParameter: update.largest,
    updateScratch: update.scratch,
    update: heldBefore + gradients + LOSS_BYTES + update.scratch,
    largestBoundary: stepBoundaries(config, run, checkpoint).reduce((most, boundary) =>
      boundary.bytes > most.bytes ? boundary : most,
    ),
  };
}
