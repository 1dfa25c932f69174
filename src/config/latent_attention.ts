/**
 * Multi-head latent attention (DeepSeek-V2 and V3): which keys belong together and what each layer
 * computes. With H heads, dn = qk_nope_head_dim, dr = qk_rope_head_dim, dv = v_head_dim:
 *
 *     queries    q = q_up(RMSNorm(q_down x))    q_down [d, rq], q_up [rq, H (dn + dr)]
 *                or q = q_proj x                q_proj [d, H (dn + dr)] when q_lora_rank is absent
 *     latent     [c_KV | k_R] = kv_down x       kv_down [d, kv_lora_rank + dr]
 *     keys       [k_C | v] = kv_up(RMSNorm(c_KV)) per head     kv_up [kv_lora_rank, H (dn + dv)]
 *     rope       q's last dr features of each head and k_R (one head, shared by all) rotated
 *     scores     [q_C | q_R] . [k_C | k_R] over dn + dr, scaled by 1 / sqrt(dn + dr)
 *     output     softmax(scores) @ v, H dv wide, then output_proj [H dv, d]
 *
 * which is how transformers' DeepseekV2Attention and DeepseekV3Attention (and DeepSeek's own
 * modeling_deepseek.py) build it: q_a_proj, q_a_layernorm, q_b_proj (or q_proj),
 * kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj and o_proj. A decode cache keeps c_KV and k_R
 * per position (kv_lora_rank + dr values), not K and V per head.
 */
import { showValue, type ConfigKey, type KeyNames } from './config_fields.js';

/** The keys that mean something only beside kv_lora_rank. */
const LATENT_KEYS = [
  'q_lora_rank',
  'qk_rope_head_dim',
  'qk_nope_head_dim',
  'v_head_dim',
] as const satisfies readonly ConfigKey[];

/** The head widths latent attention needs, with DeepSeek's values as the example. */
const REQUIRED_WIDTHS = [
  ['qk_rope_head_dim', 64],
  ['qk_nope_head_dim', 128],
  ['v_head_dim', 128],
] as const satisfies readonly (readonly [ConfigKey, number])[];

/**
 * Keys of the q, k and v projections that latent attention replaces, or whose meaning it fixes:
 * each would describe a component the latent layer does not have.
 */
const REPLACED_KEYS: readonly (readonly [ConfigKey, string])[] = [
  ['num_kv_heads', 'every head gets its own key and value from the latent'],
  ['head_dim', 'the head widths are qk_nope_head_dim + qk_rope_head_dim (scores) and v_head_dim (values)'],
  ['fused_qkv', 'there are no q, k and v projections to fuse'],
  ['qk_norm', 'the latents have their own RMSNorms; norms on the heads are not modelled with them'],
  ['window', 'a sliding window over the latent cache is not modelled'],
  ['window_layers', 'a sliding window over the latent cache is not modelled'],
  ['bias', 'biases on the latent projections are not modelled'],
  ['qkv_bias', 'biases on the latent projections are not modelled'],
  ['output_bias', 'biases on the latent projections are not modelled'],
];

/** The rules across the latent-attention fields, for fields that are each valid on their own. */
export function latentAttentionProblems(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<string>,
  names: KeyNames,
): string[] {
  if (invalid.has('kv_lora_rank')) return [];
  if (raw['kv_lora_rank'] === undefined) {
    return LATENT_KEYS.filter((key) => raw[key] !== undefined).map(
      (key) =>
        `${source}: ${names(key)} describes multi-head latent attention, but there is no ${names('kv_lora_rank')}; ` +
        `fix: add e.g. "${names('kv_lora_rank')}": 512, or remove ${names(key)}`,
    );
  }
  const problems: string[] = [];
  for (const [key, example] of REQUIRED_WIDTHS) {
    if (raw[key] === undefined && !invalid.has(key)) {
      problems.push(
        `${source}: ${names('kv_lora_rank')} (${showValue(raw['kv_lora_rank'])}) makes attention latent, which needs ` +
          `${names(key)}; fix: add e.g. "${names(key)}": ${example}`,
      );
    }
  }
  const rope = raw['qk_rope_head_dim'];
  if (typeof rope === 'number' && !invalid.has('qk_rope_head_dim') && rope % 2 !== 0) {
    problems.push(
      `${source}: ${names('qk_rope_head_dim')} (${rope}) must be even because RoPE rotates pairs of features; ` +
        `fix: use ${rope + 1}${rope > 1 ? ` or ${rope - 1}` : ''}`,
    );
  }
  if (raw['positions'] === 'learned' && !invalid.has('positions')) {
    problems.push(
      `${source}: ${names('positions')} ("learned") with ${names('kv_lora_rank')}: latent attention rotates ` +
        `${names('qk_rope_head_dim')} features of each head; fix: remove ${names('positions')} (RoPE)`,
    );
  }
  for (const [key, why] of REPLACED_KEYS) {
    const value = raw[key];
    if (value === undefined || value === false || invalid.has(key)) continue;
    problems.push(
      `${source}: ${names(key)} (${JSON.stringify(value)}) with ${names('kv_lora_rank')}: ${why}; fix: remove ${names(key)}`,
    );
  }
  return problems;
}
