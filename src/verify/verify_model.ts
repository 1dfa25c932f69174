/**
 * Checking a traced forward pass against the analytic inventory, exactly: every matmul by module
 * path, the number of matmul kernels, the attention masks, and the non-matmul work of each module
 * outside the attention core beside its estimate, and a MoE run's routing. The pass itself runs in src/runtime/traced_run.ts.
 */
import { forwardKernelCosts, type KernelList } from '../analytic/bytes.js';
import { expectedMatmulCount, forwardMatmulInventory } from '../analytic/forward_matmuls.js';
import { nonMatmulEstimate } from '../analytic/non_matmul_estimate.js';
import type { MatmulRow } from '../analytic/types.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import type { KernelRecord } from '../core/kernel_record.js';
import type { ActiveBackend } from '../runtime/backend.js';
import { traceForward, type ForwardTraceOptions } from '../runtime/traced_run.js';
import { expectedMasks } from '../analytic/attention_blocks.js';
import { compareKernelBytes, type BytesComparison } from './bytes_check.js';
import { compareMasks, type MaskComparison } from './mask_check.js';
import { compareMatmuls, type MatmulComparison } from './matmul_check.js';
import { compareRouting, type RoutingComparison } from './routing_check.js';
import { compareNonMatmul, type NonMatmulComparison } from './non_matmul_check.js';
import { compareModuleWork, type WorkComparison } from './work_check.js';

export interface VerifyOptions extends ForwardTraceOptions {
  /** The rows to check against (default: forwardMatmulInventory), to plant a wrong inventory. */
  readonly inventory?: readonly MatmulRow[];
  /** The kernels' bytes to check against (default: forwardKernelCosts at fp32, tfjs's width), to plant a wrong list. */
  readonly kernelBytes?: KernelList;
}

export interface VerifyReport {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: ActiveBackend;
  readonly matmuls: MatmulComparison;
  /** Outermost kernel executions in the forward pass. */
  readonly kernelCount: number;
  /** Matmuls the pass dispatched: a row computed per head by several kernels counts once (matmul_check.ts). */
  readonly matmulKernelCount: number;
  /**
   * Matmul kernels one forward pass must run: 9 * L + 1 for the seed's model (per layer q, k, v,
   * scores, weighted sum, output, w1, w3, w2; then lm_head), 8 * L + 1 with the GELU MLP.
   */
  readonly expectedMatmulKernelCount: number;
  readonly nonMatmul: NonMatmulComparison;
  /** The attention masks (which positions, which window) the trace shows, against the formulas'. */
  readonly masks: MaskComparison;
  /**
   * The non-matmul work (norms, q/k norms, post-norms, soft-caps, activations, bias adds) of each
   * module outside the attention core, against the estimate's, module by module.
   */
  readonly work: WorkComparison;
  /** The bytes every kernel reads (weights and activations apart) and writes, against the analytic list's. */
  readonly bytes: BytesComparison;
  /**
   * Each MoE layer's rows per expert as the run routed them, and whether they sum to k tokens per
   * token; undefined for a dense model.
   */
  readonly routing: RoutingComparison | undefined;
  readonly records: readonly KernelRecord[];
  /**
   * Every matmul matches exactly, the pass ran exactly the expected number of matmul kernels,
   * every attention mask was built for the expected positions and window, and every module outside
   * the core did exactly the non-matmul work the estimate lists, and every compared kernel moved
   * exactly the bytes the analytic list states.
   */
  readonly ok: boolean;
}

/** Trace one forward pass and check every matmul against the analytic inventory, exactly. */
export async function verifyModel(options: VerifyOptions): Promise<VerifyReport> {
  const { config, run } = options;
  // The expected side first: a bad config or run is refused before any backend work.
  let inventory = options.inventory ?? forwardMatmulInventory(config, run);
  let estimate = nonMatmulEstimate(config, run);
  // tfjs computes in float32: the analytic bytes at fp32's 4 bytes.
  let kernelBytes = options.kernelBytes ?? forwardKernelCosts(config, run, 'fp32');
  const traced = await traceForward(options);
  // A MoE layer's experts are checked against the rows each really got: the formulas again, with
  // the routing the run took (the totals do not depend on it; routing.ok checks its sums).
  const routed = traced.routing === undefined ? run : { ...run, routing: traced.routing };
  if (traced.routing !== undefined) {
    inventory = options.inventory ?? forwardMatmulInventory(config, routed);
    estimate = nonMatmulEstimate(config, routed);
    kernelBytes = options.kernelBytes ?? forwardKernelCosts(config, routed, 'fp32');
  }
  const routing = compareRouting(config, run, traced.routing);
  const matmuls = compareMatmuls(inventory, traced.records);
  const masks = compareMasks(expectedMasks(config, run), traced.records);
  const work = compareModuleWork(estimate, traced.records);
  const bytes = compareKernelBytes(kernelBytes, traced.records);
  const tracedMatmulKernels = matmuls.dispatchCount;
  const expectedMatmulKernelCount = expectedMatmulCount(config, routed);
  return {
    config,
    run,
    backend: traced.backend,
    matmuls,
    kernelCount: traced.totals.kernels,
    matmulKernelCount: tracedMatmulKernels,
    expectedMatmulKernelCount,
    nonMatmul: compareNonMatmul(estimate, traced.records),
    masks,
    work,
    bytes,
    routing,
    records: traced.records,
    ok:
      matmuls.ok &&
      masks.ok &&
      work.ok &&
      bytes.ok &&
      (routing?.ok ?? true) &&
      tracedMatmulKernels === expectedMatmulKernelCount,
  };
}
