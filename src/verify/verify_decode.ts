/**
 * Checking a traced generation against the inference formulas, exactly (issue 15): the prefill
 * as a forward pass over the P prompt tokens (its matmuls, masks and module work), then every
 * decode step against decodeMatmulInventory at its own cached length, matmul by matmul (one row
 * per sequence per new token; the core's key length growing step by step, or stopping at a
 * window) with the work of every module outside the core, and after every pass the bytes the
 * cache's tensors hold beside the KV-cache formula's (fp32, the model's dtype). A step that
 * recomputes the prefix fails the matmul check; a cache that keeps every query head's keys does
 * the same core FLOPs (the grouped rows are the heads' rows) and fails the cache check.
 */
import { expectedMasks } from '../analytic/attention_blocks.js';
import { attendedKeys, decodeMatmulInventory } from '../analytic/inference/decode.js';
import { storageFormat } from '../analytic/inference/formats.js';
import { cacheWindows, kvCacheBytesPerSequence, kvCacheLayers } from '../analytic/inference/kv_cache.js';
import { prefillFlops } from '../analytic/inference/prefill.js';
import { nonMatmulEstimate, type NonMatmulEstimate } from '../analytic/non_matmul_estimate.js';
import { layerIndexOf, path } from '../core/module_paths.js';
import type { MatmulRow } from '../analytic/types.js';
import type { ExpertRouting, ModelConfig } from '../config/model_config.js';
import { forwardMatmulInventory } from '../analytic/forward_matmuls.js';
import { compareRouting, type RoutingComparison } from './routing_check.js';
import type { ActiveBackend } from '../runtime/backend.js';
import { traceDecode, type DecodeRequest, type DecodeTraceOptions, type TracedPass } from '../runtime/traced_decode.js';
import { compareMasks, type MaskComparison } from './mask_check.js';
import { compareMatmuls, type MatmulComparison } from './matmul_check.js';
import { compareModuleWork, type WorkComparison } from './work_check.js';

/** The cache after a pass: what its tensors hold against what the formula says, all sequences. */
export interface CacheBytesCheck {
  /** Positions per sequence after the pass (the context t the formula is evaluated at). */
  readonly context: number;
  readonly formula: bigint;
  readonly measured: bigint;
}

/** One pass checked: the prefill, or decode step `step` (1-based). */
export interface PassCheck {
  /** 0 for the prefill, j for the j-th decode step. */
  readonly step: number;
  readonly cached: number;
  readonly tokens: number;
  readonly matmuls: MatmulComparison;
  readonly matmulKernelCount: number;
  readonly expectedMatmulKernelCount: number;
  /** The prefill's attention masks; undefined for a step (its core is checked by its matmuls). */
  readonly masks: MaskComparison | undefined;
  readonly work: WorkComparison;
  readonly cache: CacheBytesCheck;
  /** Each MoE layer's rows per expert in this pass, against k per token; undefined for a dense model. */
  readonly routing: RoutingComparison | undefined;
  readonly ok: boolean;
}

export interface DecodeVerifyReport {
  readonly config: ModelConfig;
  readonly request: Required<DecodeRequest>;
  readonly backend: ActiveBackend;
  readonly prefill: PassCheck;
  readonly steps: readonly PassCheck[];
  /** Every matmul of the prefill and of every step matches, and the cache holds what the formula says after each. */
  readonly ok: boolean;
}

/**
 * The non-matmul work of a pass: the forward estimate at its N tokens, with each soft-capped
 * layer's cap (elementwise over the N x keys scores, N x N in the estimate) widened to the keys
 * the step attends over. For the prefill (nothing cached) it is the forward estimate itself.
 */
function passWork(config: ModelConfig, batch: number, pass: TracedPass): NonMatmulEstimate {
  const estimate = nonMatmulEstimate(config, { batch, seq: pass.tokens, ...routedBy(pass) });
  if (pass.cached === 0) return estimate;
  const N = BigInt(pass.tokens);
  const windows = cacheWindows(config);
  const kernels = estimate.kernels.map((kernel) => {
    const layer = layerIndexOf(kernel.path);
    if (layer === undefined || kernel.path !== path.attnSoftcap(layer)) return kernel;
    const keys = BigInt(attendedKeys(windows[layer], pass.cached, pass.tokens));
    return { ...kernel, flops: (kernel.flops * keys) / N };
  });
  return { ...estimate, kernels, total: kernels.reduce((total, kernel) => total + kernel.flops, 0n) };
}

/** A pass's routing as a run field: a MoE pass's experts are checked at the rows each got. */
function routedBy(pass: TracedPass): { routing?: ExpertRouting } {
  return pass.routing === undefined ? {} : { routing: pass.routing };
}

function checkPass(
  config: ModelConfig,
  batch: number,
  pass: TracedPass,
  step: number,
  inventory: readonly MatmulRow[],
  masks: MaskComparison | undefined,
): PassCheck {
  const matmuls = compareMatmuls(inventory, pass.records);
  const work = compareModuleWork(passWork(config, batch, pass), pass.records);
  const context = pass.cached + pass.tokens;
  const formula = BigInt(batch) * kvCacheBytesPerSequence(kvCacheLayers(config), storageFormat('fp32'), context);
  // A row computed per head by several kernels counts once (matmul_check.ts, dispatchCount).
  const matmulKernelCount = matmuls.dispatchCount;
  const routing = compareRouting(config, { batch, seq: pass.tokens }, pass.routing);
  return {
    step,
    cached: pass.cached,
    tokens: pass.tokens,
    matmuls,
    matmulKernelCount,
    expectedMatmulKernelCount: inventory.length,
    masks,
    work,
    cache: { context, formula, measured: pass.cacheBytes },
    routing,
    ok:
      (routing?.ok ?? true) &&
      matmuls.ok &&
      work.ok &&
      (masks?.ok ?? true) &&
      matmulKernelCount === inventory.length &&
      formula === pass.cacheBytes,
  };
}

/** Trace a prefill and every decode step, and check each against the formulas, exactly. */
export async function verifyDecode(options: DecodeTraceOptions): Promise<DecodeVerifyReport> {
  const { config } = options;
  const traced = await traceDecode(options);
  const { batch: B, prompt: P } = traced.request;
  const prefillRun = { batch: B, seq: P };
  const prefill = checkPass(
    config,
    B,
    traced.prefill,
    0,
    traced.prefill.routing === undefined
      ? prefillFlops(config, B, P).rows
      : forwardMatmulInventory(config, { ...prefillRun, ...routedBy(traced.prefill) }),
    compareMasks(expectedMasks(config, prefillRun), traced.prefill.records),
  );
  const steps = traced.steps.map((pass, i) =>
    checkPass(
      config,
      B,
      pass,
      i + 1,
      decodeMatmulInventory(config, { batch: B, cached: pass.cached, newTokens: pass.tokens, ...routedBy(pass) }),
      undefined,
    ),
  );
  return {
    config,
    request: traced.request,
    backend: traced.backend,
    prefill,
    steps,
    ok: prefill.ok && steps.every((step) => step.ok),
  };
}
