/**
 * How each number in the report was verified. A number is either checked against a traced run
 * of the real model (on a named backend, matching or not) or comes from the formulas alone;
 * the report prints the mark next to it and never lets a formula pass for a trace.
 */
import { type ModelConfig, type RunShape, modelLabel } from '../config/model_config.js';
import { groupDigits } from '../core/format.js';

export type Verification =
  | {
      readonly method: 'trace';
      readonly backend: string;
      readonly ok: boolean;
      /** The first mismatch, or what was compared, in words. */
      readonly detail?: string;
    }
  | {
      readonly method: 'formula';
      /** Why no trace backs it, e.g. "verifier not available". */
      readonly reason?: string;
    };

/** One model at one run shape and how its counts were verified. */
export interface RunVerification {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly verification: Verification;
}

export const FORMULA_ONLY: Verification = { method: 'formula' };

/** The short mark printed beside a number: "✓ trace (meta)", "✗ trace mismatch (meta)" or "formula only". */
export function verificationMark(verification: Verification): string {
  if (verification.method === 'formula') return 'formula only';
  return verification.ok ? `✓ trace (${verification.backend})` : `✗ trace mismatch (${verification.backend})`;
}

/** "gpt2-xl, 1 x 1,024 tokens" — the name a verification is listed under. */
export function runName(config: ModelConfig, run: RunShape): string {
  return `${modelLabel(config)}, ${groupDigits(BigInt(run.batch))} x ${groupDigits(BigInt(run.seq))} tokens`;
}

function sameRun(entry: RunVerification, config: ModelConfig, run: RunShape): boolean {
  return (
    entry.run.batch === run.batch &&
    entry.run.seq === run.seq &&
    entry.config.name === config.name &&
    entry.config.vocab_size === config.vocab_size &&
    entry.config.num_layers === config.num_layers &&
    entry.config.d_model === config.d_model &&
    entry.config.num_heads === config.num_heads &&
    entry.config.d_ff === config.d_ff
  );
}

/**
 * The verification recorded for this model and run. A run nobody verified is formula only:
 * absence of a trace is never read as a pass. context_length is not compared: raising it to fit a
 * longer run changes no count.
 */
export function verificationOf(entries: readonly RunVerification[], config: ModelConfig, run: RunShape): Verification {
  return entries.find((entry) => sameRun(entry, config, run))?.verification ?? FORMULA_ONLY;
}

export function anyMismatch(entries: readonly RunVerification[]): boolean {
  return entries.some((entry) => entry.verification.method === 'trace' && !entry.verification.ok);
}
