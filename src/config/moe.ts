/**
 * Mixture-of-experts layers: which keys belong together and which layers route.
 *
 * A MoE layer replaces the dense FFN with
 *
 *     router     logits = x Wr (+ br)              Wr [d, E]
 *     top-k      p = softmax(logits); the k largest p per token, divided by their sum when
 *                normalize_top_k (Mixtral always; Qwen's norm_topk_prob)
 *     experts    y = sum over the k chosen e of p_e * FFN_e(x), each FFN_e of width expert_d_ff
 *     shared     y += FFN_s(x) (width shared_d_ff), times sigmoid(x ws) with shared_expert_gate
 *
 * which is how transformers' MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock and
 * Qwen3MoeSparseMoeBlock compute it (the project's notes on Hugging Face semantics quote them).
 * Every layer routes except those listed in dense_layers, which keep the FFN of width d_ff; the
 * Hugging Face reader turns first_k_dense_replace, decoder_sparse_step and mlp_only_layers into
 * that list.
 */
import type { ConfigKey, KeyNames } from './config_fields.js';

/**
 * The documented stand-in for routing when there is no data to route on (the meta backend, and
 * the formulas when no run is given): token t of the flattened batch (t = b * seq + position)
 * visits experts (t + j) mod E for j < k, in every MoE layer. The k experts are distinct (k <= E)
 * and the load is as even as it can be: expert e receives the tokens t = e - j (mod E), j < k.
 * Returns the rows of each of the E experts for `tokens` tokens.
 */
export function assignedExpertRows(tokens: number, numExperts: number, k: number): number[] {
  // How many t in [0, tokens) have t mod E == r.
  const residues = (r: number) => (r < tokens ? Math.floor((tokens - 1 - r) / numExperts) + 1 : 0);
  return Array.from({ length: numExperts }, (_, e) => {
    let rows = 0;
    for (let j = 0; j < k; j++) rows += residues((((e - j) % numExperts) + numExperts) % numExperts);
    return rows;
  });
}

/** The keys that mean something only beside num_experts. */
const MOE_KEYS = [
  'experts_per_token',
  'expert_d_ff',
  'shared_d_ff',
  'shared_expert_gate',
  'router_bias',
  'normalize_top_k',
  'dense_layers',
  'router_score_bias',
] as const satisfies readonly ConfigKey[];

/** The rules across the MoE fields, for fields that are each valid on their own. */
export function moeProblems(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<string>,
  names: KeyNames,
): string[] {
  const experts = raw['num_experts'];
  if (invalid.has('num_experts')) return [];
  if (experts === undefined) {
    return MOE_KEYS.filter((key) => raw[key] !== undefined && raw[key] !== false).map(
      (key) =>
        `${source}: ${names(key)} describes mixture-of-experts layers, but there is no ${names('num_experts')}; ` +
        `fix: add e.g. "${names('num_experts')}": 8, or remove ${names(key)}`,
    );
  }
  const problems: string[] = [];
  const E = experts as number;
  const k = raw['experts_per_token'];
  if (k === undefined && !invalid.has('experts_per_token')) {
    problems.push(
      `${source}: ${names('num_experts')} (${E}) needs the number of experts each token visits; ` +
        `fix: add e.g. "${names('experts_per_token')}": ${Math.min(2, E)}`,
    );
  } else if (typeof k === 'number' && !invalid.has('experts_per_token') && k > E) {
    problems.push(
      `${source}: ${names('experts_per_token')} (${k}) is more than the ${E} experts (${names('num_experts')}); ` +
        `fix: use at most ${E}`,
    );
  }
  if (raw['shared_expert_gate'] === true && raw['shared_d_ff'] === undefined && !invalid.has('shared_d_ff')) {
    problems.push(
      `${source}: ${names('shared_expert_gate')} (true) gates a shared expert, but there is no ${names('shared_d_ff')}; ` +
        `fix: add e.g. "${names('shared_d_ff')}": 5632, or remove ${names('shared_expert_gate')}`,
    );
  }
  if (raw['fused_gate_up'] === true && !invalid.has('fused_gate_up')) {
    problems.push(
      `${source}: ${names('fused_gate_up')} (true) with ${names('num_experts')}: experts with a fused gate/up ` +
        `projection are not modelled; fix: remove ${names('fused_gate_up')} (the same parameters and FLOPs in three matrices)`,
    );
  }
  const dense = raw['dense_layers'];
  if (Array.isArray(dense) && !invalid.has('dense_layers')) {
    problems.push(...denseLayerProblems(source, dense as number[], raw['num_layers'], invalid, names));
  }
  return problems;
}

function denseLayerProblems(
  source: string,
  dense: readonly number[],
  numLayers: unknown,
  invalid: ReadonlySet<string>,
  names: KeyNames,
): string[] {
  const key = names('dense_layers');
  const shown = `${source}: ${key} (${shortJson(dense)})`;
  const sorted = [...new Set(dense)].sort((a, b) => a - b);
  const problems: string[] = [];
  if (sorted.length !== dense.length || sorted.some((layer, i) => layer !== dense[i])) {
    problems.push(`${shown} must name each layer once, in increasing order; fix: ${shortJson(sorted)}`);
  }
  if (invalid.has('num_layers') || typeof numLayers !== 'number') return problems;
  const beyond = sorted.filter((layer) => layer >= numLayers);
  if (beyond.length > 0) {
    problems.push(
      `${shown} names layer ${beyond.join(', ')}, but the model has ${numLayers} ${numLayers === 1 ? 'layer' : 'layers'} ` +
        `(${names('num_layers')}), numbered 0 to ${numLayers - 1}; fix: ${shortJson(sorted.filter((l) => l < numLayers))}`,
    );
  } else if (sorted.length === numLayers) {
    problems.push(
      `${shown} names every layer, so no layer has experts; fix: remove ${names('num_experts')} and the other ` +
        `mixture-of-experts keys for a dense model, or list only the dense layers`,
    );
  }
  return problems;
}

/** A list for a message, cut after 12 items. */
function shortJson(values: readonly number[]): string {
  const shown = values.slice(0, 12).join(', ');
  return values.length > 12 ? `[${shown}, ... ${values.length - 12} more]` : `[${shown}]`;
}
