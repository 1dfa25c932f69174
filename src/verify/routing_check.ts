/**
 * The routing a traced run took, against what a mixture of experts must do: in every MoE layer each
 * of the N = B T tokens visits exactly k routed experts, so the rows the E experts received sum to
 * k N. The per-expert matmuls are checked against the rows each expert really got (the formulas
 * take the traced routing), so they alone cannot see a router that sends a token to one expert
 * too many: this check, the top-k's shape and the combine's rows can.
 */
import { architectureOf, type ExpertRouting, type ModelConfig, type RunShape } from '../config/model_config.js';
import { groupDigits } from '../core/format.js';
import { path } from '../core/module_paths.js';

export interface LayerRoutingCheck {
  /** The layer's MoE module, layers.{i}.moe. */
  readonly path: string;
  readonly layer: number;
  /** E experts, k per token, over N tokens. */
  readonly experts: number;
  readonly perToken: number;
  readonly tokens: number;
  /** k N: the rows the layer's experts must receive in all. */
  readonly expectedRows: number;
  /** The rows each routed expert received, in expert order (empty when the layer reported none). */
  readonly expertRows: readonly number[];
  readonly tracedRows: number;
  readonly ok: boolean;
}

export interface RoutingComparison {
  readonly layers: readonly LayerRoutingCheck[];
  readonly mismatches: readonly LayerRoutingCheck[];
  readonly ok: boolean;
}

/** Each MoE layer's traced rows against k N, and E experts per layer; undefined for a dense model. */
export function compareRouting(
  config: ModelConfig,
  run: RunShape,
  routing: ExpertRouting | undefined,
): RoutingComparison | undefined {
  const moe = architectureOf(config).moe;
  if (moe === undefined) return undefined;
  const k = moe.experts_per_token;
  const tokens = run.batch * run.seq;
  const expectedRows = k * tokens;
  const layers = moe.moe_layers.flatMap((isMoe, layer): LayerRoutingCheck[] => {
    if (!isMoe) return [];
    const expertRows = routing?.rows[layer] ?? [];
    const tracedRows = expertRows.reduce((total, rows) => total + rows, 0);
    const ok = expertRows.length === moe.num_experts && tracedRows === expectedRows;
    const experts = moe.num_experts;
    return [{ path: path.moe(layer), layer, experts, perToken: k, tokens, expectedRows, expertRows, tracedRows, ok }];
  });
  const mismatches = layers.filter((check) => !check.ok);
  return { layers, mismatches, ok: mismatches.length === 0 };
}

/**
 * One line per layer whose routing is wrong:
 *   layers.0.moe: routing: expected 16 expert rows (k = 2 for each of 8 tokens) over 4 experts; traced 24 rows [6, 6, 6, 6]
 */
export function describeRoutingMismatch(check: LayerRoutingCheck): string {
  return (
    `${check.path}: routing: expected ${groupDigits(BigInt(check.expectedRows))} expert rows ` +
    `(k = ${check.perToken} for each of ${groupDigits(BigInt(check.tokens))} tokens) over ${check.experts} experts; ` +
    `traced ${groupDigits(BigInt(check.tracedRows))} rows over ${check.expertRows.length} experts ` +
    `[${check.expertRows.join(', ')}]`
  );
}
