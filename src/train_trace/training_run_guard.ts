/**
 * Refusing a real training step that would not fit, before anything is allocated (the forward
 * guard's reasoning, src/verify/memory_guard.ts, for a step). The estimate errs high:
 *
 *   forward peak  runMemoryEstimate: weights, ids and every forward intermediate, views counted
 *   + 3 x weights the gradients and AdamW's two moments
 *   + activations again: the tensors kept for the gradients are clones, and on wasm a clone copies
 *
 * The shape-only meta backend holds no data and is never refused.
 */
import { runMemoryEstimate } from '../analytic/run_memory.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { InputError } from '../errors.js';
import { formatSi } from '../report/format.js';
import { modelLabel } from '../report/labels.js';
import { WASM_HEAP_BYTES } from '../verify/memory_guard.js';

export interface TrainingRunEstimate {
  readonly weights: bigint;
  /** Gradients plus AdamW's m and v. */
  readonly optimizer: bigint;
  /** Forward intermediates, ids and the tensors kept for the backward pass. */
  readonly activations: bigint;
  readonly total: bigint;
}

export function trainingRunEstimate(config: ModelConfig, run: RunShape): TrainingRunEstimate {
  const forward = runMemoryEstimate(config, run);
  const optimizer = 3n * forward.weights;
  const activations = forward.ids + 2n * forward.activations;
  return { weights: forward.weights, optimizer, activations, total: forward.weights + optimizer + activations };
}

const bytesText = (bytes: bigint): string => formatSi(bytes, 'B', 3);

/** The estimate, or an InputError naming it, the limit and the fix when it does not fit. */
export function assertTrainingRunFits(
  config: ModelConfig,
  run: RunShape,
  backendName: string,
  budgetBytes: bigint,
): TrainingRunEstimate {
  const estimate = trainingRunEstimate(config, run);
  const heapBound = backendName === 'wasm' && WASM_HEAP_BYTES < budgetBytes;
  const limit = heapBound ? WASM_HEAP_BYTES : budgetBytes;
  if (estimate.total <= limit) return estimate;
  const limitText = heapBound
    ? `the ${bytesText(limit)} a wasm heap can hold (32-bit WebAssembly memory)`
    : `the ${bytesText(limit)} budget (--max-memory)`;
  throw new InputError(
    `a training step of ${modelLabel(config)} at batch ${run.batch} x ${run.seq} tokens needs about ` +
      `${bytesText(estimate.total)} on ${backendName} (weights ${bytesText(estimate.weights)}, gradients and ` +
      `AdamW moments ${bytesText(estimate.optimizer)}, activations ${bytesText(estimate.activations)}), ` +
      `over ${limitText}; use --backend meta to trace shapes without data, or lower --seq/--batch`,
  );
}
