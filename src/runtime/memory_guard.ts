/**
 * The one memory guard. Every real-compute run (a traced forward pass, a traced training step, a
 * timing run) is estimated here and refused, before any tensor exists, when it would not fit: a
 * run that runs out of memory either swaps the machine to a halt, is killed, or (on wasm) dies
 * with "memory access out of bounds". The shape-only meta backend holds no data and is never
 * refused. The estimates err high; each term is what the code in src/model and src/timing holds.
 *
 *   forward        weights (fp32) + wasm's packed copies of the matmul weights + token ids + every
 *                  intermediate of one pass (analytic/run_memory.ts: forward() frees them only
 *                  when it returns)
 *   training step  weights
 *                  + 3 x weights       their gradients and AdamW's m and v
 *                  + 1 x weights       the copy of every weight tfjs keeps for its matmul's
 *                                      gradient (a clone: shared storage on cpu and wasm,
 *                                      counted anyway so the estimate errs high)
 *                  + 3 x largest parameter   one line of the AdamW update of the largest tensor
 *                                      (analytic/training/optimizer_peak.ts)
 *                  + wasm's packed copies of the matmul weights
 *                  + 3 x intermediates every forward intermediate, its kept clone and its
 *                                      gradient, as if all were held at once (blocks free theirs
 *                                      as they end, and the backward pass frees each once used:
 *                                      model/backward_release.ts)
 *                  + ids and targets
 *   decode         a forward pass over the whole sequence (the prefill covers fewer positions, a
 *                  step fewer queries) + the fp32 KV cache at its full length, twice: a step
 *                  builds the extended cache before the old one is released
 *   timing         a forward pass as above, repeated: warm-up, timed and traced passes free their
 *                  intermediates after each pass, but the next pass's tensors do not land exactly
 *                  where the last one's were, so the wasm heap grows by up to REPEAT_SLACK of the
 *                  intermediates from the first pass to the second (measured: see the constant)
 *                  + the bare-matmul calibration: the largest matmul's two operands, its output
 *                  and, on wasm, the packed copy of its right operand
 */
import { forwardMatmulInventory } from '../analytic/forward_matmuls.js';
import { storageFormat } from '../analytic/inference/formats.js';
import { kvCacheBytesPerSequence, kvCacheLayers } from '../analytic/inference/kv_cache.js';
import { optimizerPeak } from '../analytic/training/optimizer_peak.js';
import { runMemoryEstimate, type RunMemoryEstimate } from '../analytic/run_memory.js';
import { assertRunFits } from '../analytic/run_shape.js';
import { modelLabel, type ModelConfig, type RunShape } from '../config/model_config.js';
import { BYTES_PER_ELEMENT, product } from '../core/counting.js';
import { InputError } from '../core/errors.js';
import { formatSi } from '../core/format.js';
import { defaultRealRunBudget } from './memory_budget.js';

/**
 * The wasm backend's heap is one 32-bit WebAssembly memory: it cannot grow past 2^32 bytes
 * (4.29 GB) whatever the machine has, so GPT-2 large's and XL's fp32 weights never fit there.
 */
export const WASM_HEAP_BYTES = 2n ** 32n;

/** The runs the guard knows: what the model code allocates differs between them. */
export type RunKind = 'forward' | 'training step' | 'timing' | 'decode';

/**
 * Growth of the wasm heap over repeated forward passes, as a share of one pass's intermediates,
 * in percent. The heap never shrinks, so its size after a run is the run's peak. Measured on the
 * single-thread build, heap after the first pass, then after each further pass (MB), against
 * this guard's forward estimate:
 *   d=256, L=4, V=8192 at 512 tokens     260, then 312 from the 2nd pass on (12 passes)   est. 350
 *   gpt2-small, 1 layer, 1,024 tokens   1191, then 1412 from the 2nd pass on (20 passes) est. 1436
 *   gpt2-small, 2 layers, 1,024 tokens  1630, then 1836 (12 passes)                       est. 1982
 *   gpt2-small, 4 layers, 1,024 tokens  2477, 2683, 2683, 2683, 2888, 3094, then 3300 from
 *                                       the 7th pass on (17 passes and calibration)     est. 3072
 * The growth comes in steps of the logits' size ([1, 1024, 50257] fp32, 206 MB), which no longer
 * fits the hole the last pass left; the worst case passed the forward estimate by 228 MB, a tenth
 * of its 2,307 MB of intermediates. A quarter allows for more than twice that.
 */
const REPEAT_SLACK_PERCENT = 25n;

export interface MemoryPart {
  /** What the bytes hold, as the refusal names them: "weights", "their packed copies". */
  readonly label: string;
  readonly bytes: bigint;
}

export interface MemoryGuardEstimate {
  readonly kind: RunKind;
  readonly backendName: string;
  /** One forward pass as this backend holds it (the rows of every intermediate). */
  readonly forward: RunMemoryEstimate;
  /** fp32 weights alone. */
  readonly weights: bigint;
  /** wasm's packed copies of the matmul weights (0 elsewhere). */
  readonly packedWeights: bigint;
  /** Every term, weights first; they sum to `total`. */
  readonly parts: readonly MemoryPart[];
  readonly total: bigint;
}

/** Bytes the bare-matmul calibration holds for the largest matmul: a, b, the output, b packed on wasm. */
function calibrationBytes(config: ModelConfig, run: RunShape, packed: boolean): bigint {
  let largest = 0n;
  let bytes = 0n;
  for (const row of forwardMatmulInventory(config, run)) {
    if (row.flops <= largest) continue;
    largest = row.flops;
    const batch = product(row.batch);
    const [m, k, n] = [BigInt(row.m), BigInt(row.k), BigInt(row.n)];
    const right = batch * k * n;
    bytes = (batch * m * k + right + batch * m * n + (packed ? right : 0n)) * BYTES_PER_ELEMENT.fp32;
  }
  return bytes;
}

/** The fp32 cache of `run.batch` sequences of `run.seq` positions, every layer's keys and values. */
function fp32CacheBytes(config: ModelConfig, run: RunShape): bigint {
  return BigInt(run.batch) * kvCacheBytesPerSequence(kvCacheLayers(config), storageFormat('fp32'), run.seq);
}

/** Whether the backend's tensors live on the wasm heap: wasm's, and native's, which shares it. */
function onWasmHeap(backendName: string): boolean {
  return backendName === 'wasm' || backendName === 'native';
}

/** What a real run of `kind` of `config` at `run` holds at its peak on `backendName`. */
export function estimateRunMemory(
  config: ModelConfig,
  run: RunShape,
  kind: RunKind,
  backendName: string,
): MemoryGuardEstimate {
  // XNNPACK keeps a packed copy of each matmul weight; the native backend's GEMM packs per call.
  const packed = backendName === 'wasm';
  // Outside a training step each block's intermediates are released as it ends (src/model/transformer.ts).
  const blocksReleased = kind !== 'training step';
  // The core runs per head on wasm outside a gradient tape (src/model/head_matmul.ts).
  const perHeadCore = backendName === 'wasm' && blocksReleased;
  const forward = runMemoryEstimate(config, run, { packedMatmulWeights: packed, blocksReleased, perHeadCore });
  const { weights, packedWeights } = forward;
  const parts: MemoryPart[] = [{ label: 'weights', bytes: weights }];
  if (packedWeights > 0n) parts.push({ label: 'their packed copies', bytes: packedWeights });
  switch (kind) {
    case 'forward':
      parts.push({ label: 'activations', bytes: forward.ids + forward.activations });
      break;
    case 'training step':
      parts.push(
        {
          label: 'gradients, AdamW moments, kept copies and update temporaries',
          bytes: 4n * weights + optimizerPeak(config).scratch,
        },
        { label: 'activations and their gradients', bytes: 2n * forward.ids + 3n * forward.activations },
      );
      break;
    case 'decode':
      parts.push(
        { label: 'activations', bytes: forward.ids + forward.activations },
        { label: 'the KV cache and its extended copy', bytes: 2n * fp32CacheBytes(config, run) },
      );
      break;
    case 'timing':
      parts.push(
        { label: 'activations', bytes: forward.ids + forward.activations },
        {
          label: 'heap growth over repeated passes',
          bytes: packed ? (forward.activations * REPEAT_SLACK_PERCENT) / 100n : 0n,
        },
        { label: 'the calibration matmul', bytes: calibrationBytes(config, run, packed) },
      );
      break;
  }
  const kept = parts.filter((part) => part.bytes > 0n || part.label === 'weights');
  const total = kept.reduce((sum, part) => sum + part.bytes, 0n);
  return { kind, backendName, forward, weights, packedWeights, parts: kept, total };
}

const bytesText = (bytes: bigint): string => formatSi(bytes, 'B', 3);

/** How the refusal names the run. */
function subject(config: ModelConfig, run: RunShape, kind: RunKind): string {
  const shape = `${modelLabel(config)} at batch ${run.batch} x ${run.seq} tokens`;
  switch (kind) {
    case 'forward':
      return shape;
    case 'training step':
      return `a training step of ${shape}`;
    case 'timing':
      return `timing ${shape}`;
    case 'decode':
      return `decoding ${shape}`;
  }
}

/** What to do instead; the weights alone not fitting rules out a smaller run shape. */
function fixFor(kind: RunKind, weightsFit: boolean): string {
  if (kind === 'timing') {
    return weightsFit
      ? 'lower --seq/--batch, or time fewer layers with --layers'
      : 'the weights alone do not fit: time fewer layers with --layers, or a smaller model';
  }
  if (kind === 'decode' && weightsFit) {
    return 'use --backend meta to trace shapes without data, or lower --prompt/--generate/--batch';
  }
  return weightsFit
    ? 'use --backend meta to trace shapes without data, or lower --seq/--batch'
    : 'use --backend meta to trace shapes without data (the weights alone do not fit)';
}

/**
 * The estimate for a real run of `kind`; throws InputError naming the estimate, the limit it
 * exceeds and the fix when it does not fit in `budgetBytes` (or, on wasm, in the wasm heap).
 */
export function assertRunFitsMemory(
  config: ModelConfig,
  run: RunShape,
  kind: RunKind,
  backendName: string,
  budgetBytes: bigint,
): MemoryGuardEstimate {
  const estimate = estimateRunMemory(config, run, kind, backendName);
  const heapBound = onWasmHeap(backendName) && WASM_HEAP_BYTES < budgetBytes;
  const limit = heapBound ? WASM_HEAP_BYTES : budgetBytes;
  if (estimate.total <= limit) return estimate;

  const limitText = heapBound
    ? `the ${bytesText(limit)} a wasm heap can hold (32-bit WebAssembly memory)`
    : `the ${bytesText(limit)} budget (--max-memory)`;
  const parts = estimate.parts.map((part) => `${part.label} ${bytesText(part.bytes)}`).join(' + ');
  throw new InputError(
    `${subject(config, run, kind)} needs about ${bytesText(estimate.total)} on ${backendName} (${parts}), ` +
      `over ${limitText}; ${fixFor(kind, estimate.weights + estimate.packedWeights <= limit)}`,
  );
}

/**
 * Runs whose weights are all alive at once while their passes take turns (a bench interleaving
 * passes of several models so that all see the same load): each run must fit on its own, and
 * together they hold every run's weights and packed copies plus the rest (activations, heap
 * growth, calibration) of the largest run, since a pass frees its intermediates before the next
 * one starts. Throws InputError like assertRunFitsMemory when the sum does not fit.
 */
export function assertRunsFitTogether(
  runs: readonly { readonly config: ModelConfig; readonly run: RunShape }[],
  kind: RunKind,
  backendName: string,
  budgetBytes: bigint,
): MemoryGuardEstimate[] {
  const estimates = runs.map(({ config, run }) => assertRunFitsMemory(config, run, kind, backendName, budgetBytes));
  const weights = estimates.reduce((sum, estimate) => sum + estimate.weights + estimate.packedWeights, 0n);
  const rest = estimates.reduce((most, estimate) => {
    const own = estimate.total - estimate.weights - estimate.packedWeights;
    return own > most ? own : most;
  }, 0n);
  const heapBound = onWasmHeap(backendName) && WASM_HEAP_BYTES < budgetBytes;
  const limit = heapBound ? WASM_HEAP_BYTES : budgetBytes;
  if (weights + rest <= limit) return estimates;
  const limitText = heapBound
    ? `the ${bytesText(limit)} a wasm heap can hold (32-bit WebAssembly memory)`
    : `the ${bytesText(limit)} budget (--max-memory)`;
  throw new InputError(
    `${runs.length} runs held at once (${runs.map(({ config, run }) => subject(config, run, kind)).join('; ')}) need ` +
      `about ${bytesText(weights + rest)} on ${backendName} (every run's weights ${bytesText(weights)} + the largest ` +
      `run's activations ${bytesText(rest)}), over ${limitText}; run fewer or smaller configs at once`,
  );
}

/**
 * The guard before anything is loaded: a run on a backend named outright (wasm or cpu) is held
 * to the budget here, from the config alone, so a command can refuse it before it imports
 * TensorFlow.js (which takes longer than the whole refusal). Runs on auto, tensorflow or meta
 * are left to setUpRuns, which knows what the backend turned out to be.
 */
export function refuseBeforeStart(
  options: { readonly backend: string; readonly maxMemoryBytes?: bigint },
  kind: RunKind,
  runs: readonly { readonly config: ModelConfig; readonly run: RunShape }[],
): void {
  if (!onWasmHeap(options.backend) && options.backend !== 'cpu') return;
  const budget = options.maxMemoryBytes ?? defaultRealRunBudget();
  for (const { config, run } of runs) {
    assertRunFits(config, run);
    assertRunFitsMemory(config, run, kind, options.backend, budget);
  }
}
