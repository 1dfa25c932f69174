/**
 * Refusing a real training step that would not fit, before anything is allocated (the forward
 * guard's reasoning, src/runtime/memory_guard.ts, for a step). The estimate errs high; each term
 * is what this step's tfjs code holds, measured on the shape-only backend:
 *
 *   weights                   fp32 parameters
 *   + 3 x weights             their gradients and AdamW's m and v
 *   + 1 x weights             the copy of every weight tfjs keeps for its matmul's gradient
 *                             (a clone: a real copy on wasm, shared storage on cpu)
 *   + 6 x largest parameter   the temporaries of one line of the AdamW update of the largest tensor
 *   + 3 x activations         every forward intermediate (runMemoryEstimate, views counted): alive
 *                             until the forward function returns, kept (or cloned) for the
 *                             gradients, and each one's gradient, all held until the backward pass ends
 *   + ids and targets
 *
 * The shape-only meta backend holds no data and is never refused.
 */
import { parameterInventory } from '../analytic/parameters.js';
import { runMemoryEstimate } from '../analytic/run_memory.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { BYTES_PER_ELEMENT } from '../core/counting.js';
import { InputError } from '../core/errors.js';
import { formatSi } from '../core/format.js';
import { modelLabel } from '../config/model_config.js';
import { WASM_HEAP_BYTES } from './memory_guard.js';

export interface TrainingRunEstimate {
  readonly weights: bigint;
  /** Gradients, AdamW's m and v, the kept weight copies and one update's temporaries. */
  readonly optimizer: bigint;
  /** Forward intermediates three times over, ids and targets. */
  readonly activations: bigint;
  readonly total: bigint;
}

export function trainingRunEstimate(config: ModelConfig, run: RunShape): TrainingRunEstimate {
  const forward = runMemoryEstimate(config, run);
  const largest = parameterInventory(config).reduce((most, row) => (row.count > most ? row.count : most), 0n);
  const optimizer = 4n * forward.weights + 6n * largest * BYTES_PER_ELEMENT.fp32;
  const activations = 2n * forward.ids + 3n * forward.activations;
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
      `${bytesText(estimate.total)} on ${backendName} (weights ${bytesText(estimate.weights)}, gradients, AdamW ` +
      `moments, kept copies and update temporaries ${bytesText(estimate.optimizer)}, activations and their gradients ` +
      `${bytesText(estimate.activations)}), over ${limitText}; use --backend meta to trace shapes without data, ` +
      'or lower --seq/--batch',
  );
}
