import { BYTES_PER_ELEMENT, type StorageDtype } from '../core/counting.js';
import type { ModelConfig } from '../config/model_config.js';
import { summarizeParameters } from './parameters.js';

/** Bytes to hold the weights alone in one storage dtype (no activations, gradients or optimizer state). */
export interface MemoryRow {
  dtype: StorageDtype;
  bytesPerParameter: bigint;
  bytes: bigint;
}

/** One row per storage dtype; GB/GiB are a formatting choice left to the report. */
export function parameterMemory(config: ModelConfig): MemoryRow[] {
  const { total } = summarizeParameters(config);
  return (Object.keys(BYTES_PER_ELEMENT) as StorageDtype[]).map((dtype) => ({
    dtype,
    bytesPerParameter: BYTES_PER_ELEMENT[dtype],
    bytes: total * BYTES_PER_ELEMENT[dtype],
  }));
}
