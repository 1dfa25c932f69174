/**
 * Which part of a training step is running: a synchronous stack like the module-path scope
 * (src/core/scope.ts), read by the tracer's `phaseOf` option so every kernel record says whether it
 * belongs to the forward pass, the backward pass or the optimizer update.
 */
import type { KernelPhase } from './kernel_record.js';

const phases: KernelPhase[] = [];

/** Run `fn` with `phase` as the current phase; the previous one comes back afterwards, also on a throw. */
export function withPhase<T>(phase: KernelPhase, fn: () => T): T {
  phases.push(phase);
  try {
    return fn();
  } finally {
    phases.pop();
  }
}

/** The innermost phase, or undefined outside every training step. */
export function currentPhase(): KernelPhase | undefined {
  return phases[phases.length - 1];
}
