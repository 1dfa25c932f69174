/**
 * Mixture-of-experts layers: which keys belong together and which layers route.
 *
 * A MoE layer replaces the dense FFN with
 *
 *     router     logits = x Wr (+ br)              Wr [d, E]
 *     scores     p = softmax(logits) (router_scoring "softmax", the default) or sigmoid(logits)
 *                ("sigmoid", DeepSeek-V3)
 *     choice     s = p + b with router_score_bias (b [E], a weight), else p; with expert_groups G,
 *                the experts form G groups of E / G consecutive ones, each group ranked by its best
 *                s ("max") or the sum of its two best ("top2_sum"), and the s of every expert
 *                outside the token's best expert_groups_kept groups set to 0; the k largest s
 *     weights    the unbiased p of the k chosen, divided by their sum when normalize_top_k
 *                (Mixtral always; Qwen's and DeepSeek's norm_topk_prob), times routed_scaling_factor
 *     experts    y = sum over the k chosen e of w_e * FFN_e(x), each FFN_e of width expert_d_ff
 *     shared     y += FFN_s(x) (width shared_d_ff), times sigmoid(x ws) with shared_expert_gate
 *
 * which is how transformers' MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock and
 * Qwen3MoeSparseMoeBlock compute it (the project's notes on Hugging Face semantics quote them),
 * and how DeepSeek's routers do: DeepseekV2Moe.route_tokens_to_experts (group_limited_greedy) and
 * DeepseekV3TopkRouter.get_topk_indices (noaux_tc) in transformers'
 * src/transformers/models/deepseek_v2/modeling_deepseek_v2.py and deepseek_v3/modeling_deepseek_v3.py,
 * and MoEGate in DeepSeek's modeling_deepseek.py. Their masked scores are 0, not -inf
 * (masked_fill(~mask, 0.0); DeepSeek-V3's inference code multiplies by the mask), and so are ours:
 * a kept expert whose biased score is negative ranks below the dropped groups' experts, as there.
 * Two small departures, neither changing a choice nor a count of the published configs: the
 * renormalising sum has no + 1e-20 (DeepSeek's guard against an all-zero sum), and DeepSeek-V2's
 * own code scales only when it does not renormalise, where V3's (and this) renormalises then
 * scales; DeepSeek-V2 does not renormalise, so both give its weights times 16.
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
 *
 * With group-limited selection (expert_groups G, groups of s = E / G) a token's k consecutive
 * experts lie in at most ceil((k + s - 1) / s) groups, so the assignment is one the router could
 * take whenever that is at most expert_groups_kept: DeepSeek-V2 (6 experts in groups of 20, 3
 * kept) and V3 (8 in groups of 32, 4 kept) touch 2 groups at most. Where it is not (a small k
 * spread over groups of one or two), the stand-in still gives every expert its rows and each
 * token k of them; the formulas and the verifier read only those rows, and the totals do not
 * depend on which experts took them.
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

/** How a token's experts are scored and chosen beyond a plain top-k: DeepSeek's routers. */
export const ROUTER_KEYS = [
  'router_score_bias',
  'router_scoring',
  'expert_groups',
  'expert_groups_kept',
  'expert_group_score',
  'routed_scaling_factor',
] as const satisfies readonly ConfigKey[];

/** The keys that mean something only beside num_experts. */
const MOE_KEYS = [
  'experts_per_token',
  'expert_d_ff',
  'shared_d_ff',
  'shared_expert_gate',
  'router_bias',
  'normalize_top_k',
  'dense_layers',
  ...ROUTER_KEYS,
] as const satisfies readonly ConfigKey[];

/** The keys that mean something only beside expert_groups. */
const GROUP_KEYS = ['expert_groups_kept', 'expert_group_score'] as const satisfies readonly ConfigKey[];

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
  const listing = expertListingProblem(source, raw, invalid, names);
  // Past the bound the group check would list E divisor candidates (8.6 s and 1.5 GB at 10^8, a crash at 2^53).
  if (listing !== undefined) problems.push(listing);
  else problems.push(...groupProblems(source, raw, invalid, names));
  const dense = raw['dense_layers'];
  if (Array.isArray(dense) && !invalid.has('dense_layers')) {
    problems.push(...denseLayerProblems(source, dense as number[], raw['num_layers'], invalid, names));
  }
  return problems;
}

/**
 * Every count is exact at any size, but the inventories hold a row per expert matrix in every MoE
 * layer and a training report walks them several times: 100,000 experts took 18 s and 1.8 GB,
 * and DeepSeek-V3 at 10,000 layers (2.6 million experts) ran past a minute and 4 GB. At this
 * bound a traced run on meta costs about what 10,000 dense layers do. The largest published
 * models fit: Kimi K2 has 60 MoE layers x 384 = 23,040 experts, DeepSeek-V3 58 x 256 = 14,848.
 */
const MAX_LISTED_EXPERTS = 25_000;

/** Experts summed over the MoE layers, refused past MAX_LISTED_EXPERTS with the largest E and depth that fit. */
function expertListingProblem(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<string>,
  names: KeyNames,
): string | undefined {
  const E = raw['num_experts'] as number;
  const layers = raw['num_layers'];
  const dense = raw['dense_layers'];
  // With num_layers itself refused, one MoE layer is the least the model can have.
  if (invalid.has('num_layers') || typeof layers !== 'number') {
    return E <= MAX_LISTED_EXPERTS ? undefined : tooManyExperts(source, E, 1, 0, names);
  }
  const denseCount =
    Array.isArray(dense) && !invalid.has('dense_layers')
      ? new Set((dense as number[]).filter((layer) => layer < layers)).size
      : 0;
  const moeLayers = Math.max(1, layers - denseCount);
  return E * moeLayers <= MAX_LISTED_EXPERTS ? undefined : tooManyExperts(source, E, moeLayers, denseCount, names);
}

function tooManyExperts(source: string, E: number, moeLayers: number, denseCount: number, names: KeyNames): string {
  const fixes: string[] = [];
  const expertsThatFit = Math.floor(MAX_LISTED_EXPERTS / moeLayers);
  const layersThatFit = Math.floor(MAX_LISTED_EXPERTS / E);
  if (layersThatFit >= 1) fixes.push(`${names('num_layers')} at most ${layersThatFit + denseCount}`);
  if (expertsThatFit >= 1) fixes.push(`${names('num_experts')} at most ${expertsThatFit}`);
  if (fixes.length === 0) fixes.push(`fewer experts and layers, at most ${MAX_LISTED_EXPERTS} experts in all`);
  const total = BigInt(E) * BigInt(moeLayers);
  return (
    `${source}: ${names('num_experts')} (${E}) over ${moeLayers.toLocaleString('en-US')} MoE ${moeLayers === 1 ? 'layer' : 'layers'} makes ` +
    `${total.toLocaleString('en-US')} experts, more than the ${MAX_LISTED_EXPERTS.toLocaleString('en-US')} ` +
    `flopledger lists one by one; fix: use ${fixes.join(', or ')}`
  );
}

/** Group-limited selection: the groups split the experts evenly, keep at least one, and leave k experts to choose from. */
function groupProblems(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<string>,
  names: KeyNames,
): string[] {
  const groups = raw['expert_groups'];
  if (invalid.has('expert_groups')) return [];
  if (groups === undefined) {
    return GROUP_KEYS.filter((key) => raw[key] !== undefined).map(
      (key) =>
        `${source}: ${names(key)} describes group-limited selection of experts, but there is no ` +
        `${names('expert_groups')}; fix: add e.g. "${names('expert_groups')}": 8, or remove ${names(key)}`,
    );
  }
  const G = groups as number;
  const E = raw['num_experts'] as number;
  if (E % G !== 0) {
    const divisors = Array.from({ length: E }, (_, i) => i + 1).filter((n) => E % n === 0);
    const nearest = divisors.reduce((best, n) => (Math.abs(n - G) < Math.abs(best - G) ? n : best), 1);
    return [
      `${source}: ${names('expert_groups')} (${G}) must split the ${E} experts (${names('num_experts')}) into ` +
        `groups of equal size; fix: use a divisor of ${E}, e.g. ${nearest}`,
    ];
  }
  const kept = raw['expert_groups_kept'];
  if (invalid.has('expert_groups_kept')) return [];
  if (kept === undefined) {
    return [
      `${source}: ${names('expert_groups')} (${G}) needs the number of groups each token keeps; ` +
        `fix: add e.g. "${names('expert_groups_kept')}": ${Math.max(1, Math.floor(G / 2))}`,
    ];
  }
  const problems: string[] = [];
  const K = kept as number;
  const size = E / G;
  if (K > G) {
    problems.push(
      `${source}: ${names('expert_groups_kept')} (${K}) is more than the ${G} groups (${names('expert_groups')}); ` +
        `fix: use at most ${G}`,
    );
  } else {
    const k = raw['experts_per_token'];
    if (typeof k === 'number' && !invalid.has('experts_per_token') && k <= E && k > K * size) {
      problems.push(
        `${source}: ${names('experts_per_token')} (${k}) is more than the ${counted(K * size, 'expert')} of the ` +
          `${counted(K, 'group')} kept (${names('expert_groups_kept')}, ${counted(size, 'expert')} a group); ` +
          `fix: raise ${names('expert_groups_kept')} to ${Math.ceil(k / size)} or lower ${names('experts_per_token')} to ${K * size}`,
      );
    }
  }
  const score = raw['expert_group_score'] ?? (raw['router_score_bias'] === true ? 'top2_sum' : 'max');
  if (score === 'top2_sum' && !invalid.has('expert_group_score') && size < 2) {
    problems.push(
      `${source}: ${names('expert_group_score')} ("top2_sum") ranks a group by its two best experts, but the ` +
        `${G} groups (${names('expert_groups')}) hold ${size} expert each; fix: "${names('expert_group_score')}": "max", ` +
        `or fewer groups`,
    );
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

/** "1 expert", "3 experts". */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A list for a message, cut after 12 items. */
function shortJson(values: readonly number[]): string {
  const shown = values.slice(0, 12).join(', ');
  return values.length > 12 ? `[${shown}, ... ${values.length - 12} more]` : `[${shown}]`;
}
