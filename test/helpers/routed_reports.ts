/**
 * The verdicts a routed (mixture-of-experts) model must reach on a backend with values: every
 * comparison of the report empty of mismatches, the routing included.
 */
import { expect } from 'vitest';

import type { VerifyReport } from '../../src/verify/verify_model.js';
import type { TrainingVerification } from '../../src/verify/verify_training.js';

/** The forward pass: matmuls, work, bytes and routing exact, and every non-matmul kernel counted as estimated. */
export function expectRoutedForwardExact(forward: VerifyReport): void {
  expect(forward.matmuls.mismatches).toEqual([]);
  expect(forward.work.mismatches).toEqual([]);
  expect(forward.bytes.mismatches).toEqual([]);
  expect(forward.routing?.mismatches).toEqual([]);
  expect(forward.ok).toBe(true);
  expect(forward.nonMatmul.uncounted).toEqual([]);
  expect(forward.nonMatmul.traced).toBe(forward.nonMatmul.estimate);
}

/** The training step: forward and backward matmuls exact, the routing checked, the verdict ok. */
export function expectRoutedTrainingExact(training: TrainingVerification): void {
  expect(training.forward.mismatches).toEqual([]);
  expect(training.backward.mismatches).toEqual([]);
  expect(training.routing?.ok).toBe(true);
  expect(training.ok).toBe(true);
}
