import { runMemoryEstimate, type RunMemoryEstimate } from '../analytic/run_memory.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { formatSi } from '../core/format.js';
import { modelLabel } from '../config/model_config.js';

/**
 * Refusing a real run that would not fit, before anything is allocated: a forward pass that runs
 * out of memory either swaps the machine to a halt, is killed, or (on wasm) dies with "memory
 * access out of bounds". The shape-only meta backend holds no data and is never refused.
 */

/**
 * The wasm backend's heap is one 32-bit WebAssembly memory: it cannot grow past 2^32 bytes
 * (4.29 GB) whatever the machine has, so GPT-2 large's and XL's fp32 weights never fit there.
 */
export const WASM_HEAP_BYTES = 2n ** 32n;

const MEMORY_SI_DIGITS = 3;

function bytesText(bytes: bigint): string {
  return formatSi(bytes, 'B', MEMORY_SI_DIGITS);
}

/**
 * The estimate for a real run of `config` at `run` on `backendName`; throws InputError naming the
 * estimate, the limit it exceeds and the fix when it does not fit in `budgetBytes` (or, on wasm,
 * in the wasm heap).
 */
export function assertRealRunFits(
  config: ModelConfig,
  run: RunShape,
  backendName: string,
  budgetBytes: bigint,
): RunMemoryEstimate {
  const estimate = runMemoryEstimate(config, run, { packedMatmulWeights: backendName === 'wasm' });
  const heapBound = backendName === 'wasm' && WASM_HEAP_BYTES < budgetBytes;
  const limit = heapBound ? WASM_HEAP_BYTES : budgetBytes;
  if (estimate.total <= limit) return estimate;

  const limitText = heapBound
    ? `the ${bytesText(limit)} a wasm heap can hold (32-bit WebAssembly memory)`
    : `the ${bytesText(limit)} budget (--max-memory)`;
  const weights = estimate.weights + estimate.packedWeights;
  const fix =
    weights > limit
      ? 'use --backend meta to trace shapes without data (the weights alone do not fit)'
      : 'use --backend meta to trace shapes without data, or lower --seq/--batch';
  throw new InputError(
    `${modelLabel(config)} at batch ${run.batch} x ${run.seq} tokens needs about ${bytesText(estimate.total)} ` +
      `on ${backendName} (weights ${bytesText(estimate.weights)}` +
      (estimate.packedWeights > 0n ? ` + their packed copies ${bytesText(estimate.packedWeights)}` : '') +
      ` + activations ${bytesText(estimate.total - weights)}), ` +
      `over ${limitText}; ${fix}`,
  );
}
