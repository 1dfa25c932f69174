import type { ModelConfig } from '../../config/model_config.js';
import { parameterInventory } from '../parameters.js';

/**
 * The storage of this project's AdamW update (src/model/adamw.ts) at its peak, beside what the
 * step already holds. The update runs one parameter and one line (m, v, the step) at a time and
 * frees each kernel's result once the next kernel has read it, so a line holds at most three
 * tensors of its parameter's shape: the two operands of the Add or Sub that joins them and its
 * result (a kernel that reads a scalar holds two and the 4-byte scalar). The peak is therefore
 * three copies of the largest parameter, reached in the first line that joins two of its tensors.
 * What is held meanwhile does not change: each assignment frees the old m, v or weight as the
 * new one takes its place.
 */
export interface OptimizerPeak {
  /** The largest parameter tensor: its module path and name, and its bytes in fp32. */
  readonly largest: { readonly path: string; readonly name: string; readonly bytes: bigint };
  /** Three copies of it: what the update adds at its peak. */
  readonly scratch: bigint;
}

/** How many tensors of one parameter's shape a line of the update holds at once, at most. */
const ADAMW_LINE_TENSORS = 3n;

const FLOAT_BYTES = 4n;

export function optimizerPeak(config: ModelConfig): OptimizerPeak {
  const largest = parameterInventory(config).reduce((best, row) => (row.count > best.count ? row : best));
  const bytes = largest.count * FLOAT_BYTES;
  return { largest: { path: largest.path, name: largest.name, bytes }, scratch: ADAMW_LINE_TENSORS * bytes };
}
