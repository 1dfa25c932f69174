/**
 * The one place a model runs under the tracer: pick the backend, refuse a real run that would not
 * fit, make weights and ids, trace one forward pass, release every tensor (also on a throw), and
 * compare the trace with the analytic inventory. Commands that need a traced run (trace, verify,
 * report, time, train) go through traceModel or verifyModel.
 */
import type * as tf from '@tensorflow/tfjs';
import { expectedMatmulCount, forwardMatmulInventory } from '../analytic/forward_matmuls.js';
import { nonMatmulEstimate } from '../analytic/non_matmul_estimate.js';
import type { RunMemoryEstimate } from '../analytic/run_memory.js';
import type { MatmulRow } from '../analytic/types.js';
import type { ActiveBackend, BackendChoice } from '../runtime/backend.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { setUpRun } from '../runtime/run_setup.js';
import { explainMetaError } from '../meta/explain_meta_error.js';
import {
  disposeWeights,
  forward,
  initWeights,
  tokenIds,
  type ModelParts,
  type TransformerWeights,
} from '../model/index.js';
import { matmulKernelCount, traceTotals, type KernelTotals } from '../trace/summary.js';
import { traceKernels } from '../trace/tracer.js';
import type { KernelRecord } from '../core/kernel_record.js';
import { compareMatmuls, type MatmulComparison } from './matmul_check.js';
import { assertRealRunFits } from '../runtime/memory_guard.js';
import { compareNonMatmul, type NonMatmulComparison } from './non_matmul_check.js';

export interface ModelRunOptions {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: BackendChoice;
  /** Seed of the weights and token ids on real backends (default 0); meta fills constants. */
  readonly seed?: number;
  /** Bytes a real run may take (default: defaultRealRunBudget()); meta holds no data and ignores it. */
  readonly maxMemoryBytes?: bigint;
  /** Modules to replace, to plant a wrong model. */
  readonly parts?: Partial<ModelParts>;
  /** Record each kernel's wall time. */
  readonly timeKernels?: boolean;
}

export interface TracedRun {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  readonly records: readonly KernelRecord[];
  /** Totals over the outermost kernels. */
  readonly totals: KernelTotals;
  /** The logits' shape, [B, T, V] for a correct model. */
  readonly logitsShape: readonly number[];
  /** The memory estimate the guard checked; undefined on meta, which holds no data. */
  readonly memoryEstimate: RunMemoryEstimate | undefined;
}

export interface VerifyOptions extends ModelRunOptions {
  /** The rows to check against (default: forwardMatmulInventory), to plant a wrong inventory. */
  readonly inventory?: readonly MatmulRow[];
}

export interface VerifyReport {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  readonly matmuls: MatmulComparison;
  /** Outermost kernel executions in the forward pass. */
  readonly kernelCount: number;
  readonly matmulKernelCount: number;
  /**
   * Matmul kernels one forward pass must run: 9 * L + 1 for the seed's model (per layer q, k, v,
   * scores, weighted sum, output, w1, w3, w2; then lm_head), 8 * L + 1 with the GELU MLP.
   */
  readonly expectedMatmulKernelCount: number;
  readonly nonMatmul: NonMatmulComparison;
  readonly records: readonly KernelRecord[];
  /** Every matmul matches exactly and the pass ran exactly the expected number of matmul kernels. */
  readonly ok: boolean;
}

/** Trace one forward pass of `config` at `run` on the chosen backend. */
export async function traceModel(options: ModelRunOptions): Promise<TracedRun> {
  const { config, run } = options;
  const { backend, real, init, seed, estimate: memoryEstimate } = await setUpRun(options, assertRealRunFits);

  let weights: TransformerWeights | undefined;
  let ids: tf.Tensor2D | undefined;
  try {
    weights = initWeights(config, { seed, init });
    ids = tokenIds(config, run, { seed, init });
    const modelWeights = weights;
    const modelIds = ids;
    const trace = traceKernels(() => forward(config, modelWeights, modelIds, options.parts), {
      timeKernels: options.timeKernels === true,
    });
    const logitsShape = trace.result.shape.slice();
    trace.result.dispose();
    return {
      config,
      run,
      backend,
      records: trace.records,
      totals: traceTotals(trace.records),
      logitsShape,
      memoryEstimate,
    };
  } catch (error) {
    // A kernel meta lacks must stop the run by name, never yield a wrong number.
    throw real ? error : explainMetaError(error);
  } finally {
    ids?.dispose();
    if (weights !== undefined) disposeWeights(weights);
  }
}

/** Trace one forward pass and check every matmul against the analytic inventory, exactly. */
export async function verifyModel(options: VerifyOptions): Promise<VerifyReport> {
  const { config, run } = options;
  // The expected side first: a bad config or run is refused before any backend work.
  const inventory = options.inventory ?? forwardMatmulInventory(config, run);
  const estimate = nonMatmulEstimate(config, run);
  const traced = await traceModel(options);
  const matmuls = compareMatmuls(inventory, traced.records);
  const tracedMatmulKernels = matmulKernelCount(traced.records);
  const expectedMatmulKernelCount = expectedMatmulCount(config);
  return {
    config,
    run,
    backend: traced.backend,
    matmuls,
    kernelCount: traced.totals.kernels,
    matmulKernelCount: tracedMatmulKernels,
    expectedMatmulKernelCount,
    nonMatmul: compareNonMatmul(estimate, traced.records),
    records: traced.records,
    ok: matmuls.ok && tracedMatmulKernels === expectedMatmulKernelCount,
  };
}
