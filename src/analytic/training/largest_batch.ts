import type { ModelConfig } from '../../config/model_config.js';
import { InputError } from '../../core/errors.js';
import { trainingMemoryPolynomial } from './memory_polynomial.js';

export type LargestBatch =
  | { readonly batch: number; readonly bytesAtBatch: bigint; readonly bytesAtNext: bigint }
  | { readonly batch: 0; readonly reason: string };

/**
 * The largest batch whose peak training memory fits in `memoryBytes`:
 * floor((M - constant) / perBatch), exact in bigints. When not even one sequence fits, batch 0
 * and a reason that names what does not fit.
 */
export function largestBatch(config: ModelConfig, seq: number, memoryBytes: bigint): LargestBatch {
  const { constant, perBatch } = trainingMemoryPolynomial(config, seq);
  if (memoryBytes < constant) {
    return {
      batch: 0,
      reason:
        `parameters, gradients and AdamW moments alone take ${constant} bytes, ` +
        `more than the ${memoryBytes} bytes available`,
    };
  }
  const batch = (memoryBytes - constant) / perBatch;
  if (batch === 0n) {
    return {
      batch: 0,
      reason:
        `one sequence of ${seq} tokens needs ${constant + perBatch} bytes ` +
        `(${constant} for the weights' state and ${perBatch} of activations), more than the ${memoryBytes} bytes available`,
    };
  }
  if (batch > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(
      `memory: ${memoryBytes} bytes hold more than ${Number.MAX_SAFE_INTEGER} sequences; give a smaller memory`,
    );
  }
  return {
    batch: Number(batch),
    bytesAtBatch: constant + perBatch * batch,
    bytesAtNext: constant + perBatch * (batch + 1n),
  };
}
