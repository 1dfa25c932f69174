/**
 * Mixture-of-experts configs: the flopledger keys, the Hugging Face model types mixtral,
 * qwen2_moe and qwen3_moe read as transformers reads them (configuration_*.py defaults,
 * modeling_*.py sparse blocks, quoted in the project's notes on Hugging Face semantics), and the
 * presets' parameter counts against their authors' published totals.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forwardFlopBreakdown, summarizeParameters } from '../src/analytic/index.js';
import { forwardMatmulInventory } from '../src/analytic/forward_matmuls.js';
import {
  architectureOf,
  loadModelConfig,
  parseHuggingFaceConfig,
  parseModelConfig,
  type ModelConfig,
} from '../src/config/index.js';
import { assignedExpertRows } from '../src/config/moe.js';
import { inputErrorWithoutStack as inputError } from './helpers/input_error.js';

const fixtureJson = (file: string) =>
  JSON.parse(readFileSync(`test/fixtures/hf/${file}`, 'utf8')) as Record<string, unknown>;
function readHf(file: string, changes: Record<string, unknown> = {}): ModelConfig {
  const raw = { ...fixtureJson(file), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete raw[key];
  return parseHuggingFaceConfig(raw, 'config.json', file);
}

/** A small MoE flopledger config, with `extra` keys on top. */
const small = (extra: Record<string, unknown>) => ({
  vocab_size: 64,
  context_length: 32,
  num_layers: 4,
  d_model: 16,
  num_heads: 2,
  d_ff: 24,
  num_experts: 4,
  experts_per_token: 2,
  ...extra,
});
const problems = (value: Record<string, unknown>) => inputError(() => parseModelConfig(value, 'm.json', 'm')).problems;

interface Moe {
  readonly V: bigint;
  readonly L: bigint;
  readonly d: bigint;
  readonly H: bigint;
  readonly kv: bigint;
  readonly dh: bigint;
  readonly E: bigint;
  readonly k: bigint;
  /** Routed expert width. */
  readonly Fe: bigint;
  /** Shared expert width (0: none) and its gate [d, 1]. */
  readonly Fs: bigint;
  readonly sharedGate: boolean;
  readonly qkvBias: boolean;
  readonly qkNorm: boolean;
}

/**
 * Written here from the published hyperparameters, not from the preset or the inventory: per
 * layer q and o (d * H dh each), k and v (d * kv dh each), q/k/v biases, q/k norms (2 dh), the
 * router E d, E experts of 3 d Fe, the shared expert 3 d Fs and its gate d, two norms 2 d; plus
 * the token table and untied lm_head V d each and the final norm d.
 */
function moeClosedForm(m: Moe): { total: bigint; active: bigint } {
  const attention = 2n * m.d * m.H * m.dh + 2n * m.d * m.kv * m.dh;
  const biases = m.qkvBias ? m.H * m.dh + 2n * m.kv * m.dh : 0n;
  const norms = (m.qkNorm ? 2n * m.dh : 0n) + 2n * m.d;
  const expert = 3n * m.d * m.Fe;
  const shared = 3n * m.d * m.Fs + (m.sharedGate ? m.d : 0n);
  const layer = attention + biases + norms + m.E * m.d + m.E * expert + shared;
  const total = m.L * layer + 2n * m.V * m.d + m.d;
  return { total, active: total - m.L * (m.E - m.k) * expert };
}

const MIXTRAL: Moe = {
  V: 32000n,
  L: 32n,
  d: 4096n,
  H: 32n,
  kv: 8n,
  dh: 128n,
  E: 8n,
  k: 2n,
  Fe: 14336n,
  Fs: 0n,
  sharedGate: false,
  qkvBias: false,
  qkNorm: false,
};
const QWEN3_30B: Moe = {
  V: 151936n,
  L: 48n,
  d: 2048n,
  H: 32n,
  kv: 4n,
  dh: 128n,
  E: 128n,
  k: 8n,
  Fe: 768n,
  Fs: 0n,
  sharedGate: false,
  qkvBias: false,
  qkNorm: true,
};
const QWEN15_MOE: Moe = {
  V: 151936n,
  L: 24n,
  d: 2048n,
  H: 16n,
  kv: 16n,
  dh: 128n,
  E: 60n,
  k: 4n,
  Fe: 1408n,
  Fs: 5632n,
  sharedGate: true,
  qkvBias: true,
  qkNorm: false,
};

describe('MoE presets against their authors’ published totals', () => {
  it('mixtral-8x7b: 46,702,792,704 parameters, 12,879,925,248 active per token', () => {
    // Published: the checkpoint index of mistralai/Mixtral-8x7B-v0.1, "total_size": 93405585408
    // bytes of bf16 = 46,702,792,704 parameters; the paper (arXiv 2401.04088): "each token has
    // access to 47B parameters, but only uses 13B active parameters".
    const summary = summarizeParameters(loadModelConfig('mixtral-8x7b'));
    expect(summary.total).toBe(93_405_585_408n / 2n);
    expect(moeClosedForm(MIXTRAL)).toEqual({ total: summary.total, active: summary.active });
    expect(summary.active).toBe(12_879_925_248n);
    expect(Number(summary.active) / 1e9).toBeCloseTo(13, 0);
    expect(summary.activeNonEmbedding).toBe(summary.active - 32000n * 4096n);
  });

  it('qwen3-30b-a3b: 30,532,122,624 parameters, 3.35B active', () => {
    // Published: the checkpoint index of Qwen/Qwen3-30B-A3B, total_size 61,064,245,248 bytes of
    // bf16; the card: "Number of Parameters: 30.5B in total and 3.3B activated".
    const summary = summarizeParameters(loadModelConfig('qwen3-30b-a3b'));
    expect(summary.total).toBe(61_064_245_248n / 2n);
    expect(moeClosedForm(QWEN3_30B)).toEqual({ total: summary.total, active: summary.active });
    // "3.3B activated": 3.353B, cut rather than rounded on the card.
    expect(Math.floor(Number(summary.active) / 1e8) / 10).toBe(3.3);
    // The card's "Non-Embedding: 29.9B" leaves out both the table and the untied lm_head.
    expect(Number(summary.nonEmbedding - summary.byComponent.lm_head) / 1e9).toBeCloseTo(29.9, 1);
  });

  it('qwen1.5-moe-a2.7b: 14,315,784,192 parameters, 2.69B active', () => {
    // Published: the card of Qwen/Qwen1.5-MoE-A2.7B, "14.3B parameters in total and 2.7B
    // activated parameters during runtime"; keras-hub's qwen1.5_moe_2.7b_en lists
    // "params": 14315784192 (no checkpoint index was found, so the exact figure is keras-hub's).
    const summary = summarizeParameters(loadModelConfig('qwen1.5-moe-a2.7b'));
    expect(summary.total).toBe(14_315_784_192n);
    expect(moeClosedForm(QWEN15_MOE)).toEqual({ total: summary.total, active: summary.active });
    expect(Number(summary.active) / 1e9).toBeCloseTo(2.7, 1);
    expect(summary.byComponent.shared_experts).toBe(24n * (3n * 2048n * 5632n + 2048n));
    expect(summary.byComponent.router).toBe(24n * 60n * 2048n);
  });

  it('each hub config.json reads as its preset', () => {
    const pairs: [string, string][] = [
      ['Mixtral-8x7B-v0.1.json', 'mixtral-8x7b'],
      ['Qwen3-30B-A3B.json', 'qwen3-30b-a3b'],
      ['Qwen1.5-MoE-A2.7B.json', 'qwen1.5-moe-a2.7b'],
    ];
    for (const [file, preset] of pairs) {
      const fromHub = summarizeParameters(readHf(file));
      const fromPreset = summarizeParameters(loadModelConfig(preset));
      expect({ total: fromHub.total, active: fromHub.active, rows: fromHub.rows.length }).toEqual({
        total: fromPreset.total,
        active: fromPreset.active,
        rows: fromPreset.rows.length,
      });
      expect(architectureOf(readHf(file)).moe).toEqual(architectureOf(loadModelConfig(preset)).moe);
    }
  });
});

describe('forward FLOPs of a MoE layer', () => {
  it('Mixtral at T=4096: the routed experts cost k of E experts per token, whatever the routing', () => {
    const config = loadModelConfig('mixtral-8x7b');
    const run = { batch: 1, seq: 4096 };
    const breakdown = forwardFlopBreakdown(config, run);
    // 2 * N * k * 3 d Fe per layer: the published fix's point, 2 experts active, not 8.
    expect(breakdown.byComponent.routed_experts).toBe(32n * 2n * 4096n * 2n * 3n * 4096n * 14336n);
    expect(breakdown.byComponent.router).toBe(32n * 2n * 4096n * 4096n * 8n);
    expect(breakdown.byComponent.ffn).toBe(0n);
    // Another routing of the same 4096 tokens: all to experts 0 and 1 in every layer.
    const skewed = { ...run, routing: { rows: Array.from({ length: 32 }, () => [4096, 4096, 0, 0, 0, 0, 0, 0]) } };
    const other = forwardFlopBreakdown(config, skewed);
    expect(other.total).toBe(breakdown.total);
    expect(other.rows.length).toBe(breakdown.rows.length - 32 * 6 * 3);
  });

  it('Qwen1.5-MoE: the shared expert and its gate on every token, beside the routed ones', () => {
    const config = loadModelConfig('qwen1.5-moe-a2.7b');
    const rows = forwardMatmulInventory(config, { batch: 2, seq: 8 }).filter((row) => row.path.startsWith('layers.0.'));
    const shared = rows.filter((row) => row.component === 'shared_experts');
    expect(shared.map((row) => [row.path, row.m, row.k, row.n])).toEqual([
      ['layers.0.moe.shared.w1', 16, 2048, 5632],
      ['layers.0.moe.shared.w3', 16, 2048, 5632],
      ['layers.0.moe.shared.w2', 16, 5632, 2048],
      ['layers.0.moe.shared_gate', 16, 2048, 1],
    ]);
    // 16 tokens x 4 experts = 64 rows over 60 experts, each token's 4 rows on 4 experts.
    const routed = rows.filter((row) => row.component === 'routed_experts' && row.path.endsWith('.w1'));
    expect(routed.reduce((total, row) => total + row.m, 0)).toBe(16 * 4);
  });

  it('the documented assignment: token t visits experts (t + j) mod E, j < k', () => {
    // 5 tokens, E = 4, k = 2: t0 -> 0,1; t1 -> 1,2; t2 -> 2,3; t3 -> 3,0; t4 -> 0,1.
    expect(assignedExpertRows(5, 4, 2)).toEqual([3, 3, 2, 2]);
    // Fewer tokens than experts: 2 tokens, E = 8, k = 2: t0 -> 0,1; t1 -> 1,2.
    expect(assignedExpertRows(2, 8, 2)).toEqual([1, 2, 1, 0, 0, 0, 0, 0]);
  });
});

describe('the flopledger keys', () => {
  it('reads a small MoE config with its defaults: expert width d_ff, no shared expert, no renormalisation', () => {
    const moe = architectureOf(parseModelConfig(small({}), 'm.json', 'm')).moe;
    expect(moe).toEqual({
      num_experts: 4,
      experts_per_token: 2,
      expert_d_ff: 24,
      shared_d_ff: undefined,
      shared_expert_gate: false,
      router_bias: false,
      normalize_top_k: false,
      router_score_bias: false,
      router_scoring: 'softmax',
      groups: undefined,
      routed_scaling_factor: 1,
      moe_layers: [true, true, true, true],
    });
    const withDense = architectureOf(parseModelConfig(small({ dense_layers: [0, 2] }), 'm.json', 'm')).moe;
    expect(withDense?.moe_layers).toEqual([false, true, false, true]);
  });

  it('a router bias adds E values per MoE layer; dense layers keep the FFN of width d_ff', () => {
    const base = summarizeParameters(parseModelConfig(small({}), 'm.json', 'm'));
    const biased = summarizeParameters(parseModelConfig(small({ router_bias: true }), 'm.json', 'm'));
    expect(biased.total - base.total).toBe(4n * 4n);
    const dense = summarizeParameters(parseModelConfig(small({ dense_layers: [0] }), 'm.json', 'm'));
    // Layer 0: router 4*16 and four experts 4*3*16*24 become one FFN 3*16*24.
    expect(base.total - dense.total).toBe(4n * 16n + 4n * 3n * 16n * 24n - 3n * 16n * 24n);
    expect(dense.layerShapes.map(([, n]) => n)).toEqual([1, 3]);
  });

  it('refuses what does not fit together, one line each with the fix', () => {
    expect(problems(small({ experts_per_token: undefined }))).toEqual([
      'm.json: num_experts (4) needs the number of experts each token visits; fix: add e.g. "experts_per_token": 2',
    ]);
    expect(problems(small({ experts_per_token: 5 }))).toEqual([
      'm.json: experts_per_token (5) is more than the 4 experts (num_experts); fix: use at most 4',
    ]);
    expect(problems(small({ num_experts: undefined }))).toEqual([
      'm.json: experts_per_token describes mixture-of-experts layers, but there is no num_experts; fix: add e.g. "num_experts": 8, or remove experts_per_token',
    ]);
    expect(problems(small({ shared_expert_gate: true }))).toEqual([
      'm.json: shared_expert_gate (true) gates a shared expert, but there is no shared_d_ff; fix: add e.g. "shared_d_ff": 5632, or remove shared_expert_gate',
    ]);
    expect(problems(small({ dense_layers: [3, 1, 7] }))).toEqual([
      'm.json: dense_layers ([3, 1, 7]) must name each layer once, in increasing order; fix: [1, 3, 7]',
      'm.json: dense_layers ([3, 1, 7]) names layer 7, but the model has 4 layers (num_layers), numbered 0 to 3; fix: [1, 3]',
    ]);
    expect(problems(small({ dense_layers: [0, 1, 2, 3] }))).toEqual([
      'm.json: dense_layers ([0, 1, 2, 3]) names every layer, so no layer has experts; fix: remove num_experts and the other mixture-of-experts keys for a dense model, or list only the dense layers',
    ]);
    expect(problems(small({ fused_gate_up: true }))).toEqual([
      'm.json: fused_gate_up (true) with num_experts: experts with a fused gate/up projection are not modelled; fix: remove fused_gate_up (the same parameters and FLOPs in three matrices)',
    ]);
    expect(problems(small({ num_local_experts: 8 }))).toEqual([
      'm.json: unknown key "num_local_experts": did you mean "num_experts"?',
    ]);
  });

  it("DeepSeek's router: groups by default ranked by their best score, or by their best two with the score bias", () => {
    const moe = (extra: Record<string, unknown>) => architectureOf(parseModelConfig(small(extra), 'm.json', 'm')).moe;
    expect(moe({ expert_groups: 2, expert_groups_kept: 1 })?.groups).toEqual({ count: 2, kept: 1, score: 'max' });
    const v3 = moe({ expert_groups: 2, expert_groups_kept: 1, router_score_bias: true, router_scoring: 'sigmoid' });
    expect(v3?.groups).toEqual({ count: 2, kept: 1, score: 'top2_sum' });
    expect(v3?.router_scoring).toBe('sigmoid');
    expect(moe({ routed_scaling_factor: 2.5 })?.routed_scaling_factor).toBe(2.5);
  });

  it('refuses DeepSeek router settings that do not fit together, naming the key, the value and the fix', () => {
    expect(problems(small({ expert_groups: 3, expert_groups_kept: 1 }))).toEqual([
      'm.json: expert_groups (3) must split the 4 experts (num_experts) into groups of equal size; fix: use a divisor of 4, e.g. 2',
    ]);
    expect(problems(small({ expert_groups: 2 }))).toEqual([
      'm.json: expert_groups (2) needs the number of groups each token keeps; fix: add e.g. "expert_groups_kept": 1',
    ]);
    expect(problems(small({ expert_groups_kept: 1 }))).toEqual([
      'm.json: expert_groups_kept describes group-limited selection of experts, but there is no expert_groups; fix: add e.g. "expert_groups": 8, or remove expert_groups_kept',
    ]);
    expect(problems(small({ expert_groups: 2, expert_groups_kept: 3 }))).toEqual([
      'm.json: expert_groups_kept (3) is more than the 2 groups (expert_groups); fix: use at most 2',
    ]);
    expect(problems(small({ expert_groups: 4, expert_groups_kept: 1 }))).toEqual([
      'm.json: experts_per_token (2) is more than the 1 expert of the 1 group kept (expert_groups_kept, 1 expert a group); fix: raise expert_groups_kept to 2 or lower experts_per_token to 1',
    ]);
    expect(problems(small({ expert_groups: 4, expert_groups_kept: 2, expert_group_score: 'top2_sum' }))).toEqual([
      'm.json: expert_group_score ("top2_sum") ranks a group by its two best experts, but the 4 groups (expert_groups) hold 1 expert each; fix: "expert_group_score": "max", or fewer groups',
    ]);
    expect(problems(small({ router_scoring: 'sigmod' }))).toEqual([
      'm.json: router_scoring ("sigmod") must be "softmax" or "sigmoid"; did you mean "sigmoid"?',
    ]);
    expect(problems(small({ routed_scaling_factor: 0 }))).toEqual([
      'm.json: routed_scaling_factor (0) must be a positive number; fix: use e.g. 2.5 (DeepSeek-V3), or remove the key for 1',
    ]);
    expect(problems(small({ n_group: 8 }))).toEqual(['m.json: unknown key "n_group": did you mean "expert_groups"?']);
  });
});

describe('Hugging Face MoE model types', () => {
  it('mixtral: top-k weights always renormalised; num_experts is another name for num_local_experts', () => {
    const config = readHf('Mixtral-8x7B-v0.1.json');
    expect(architectureOf(config).moe).toMatchObject({ num_experts: 8, experts_per_token: 2, expert_d_ff: 14336 });
    expect(config.normalize_top_k).toBe(true);
    // MixtralConfig.attribute_map = {"num_experts": "num_local_experts"}.
    const renamed = readHf('Mixtral-8x7B-v0.1.json', { num_local_experts: undefined, num_experts: 4 });
    expect(renamed.num_experts).toBe(4);
    expect((config.notes ?? []).join('\n')).toContain('router_aux_loss_coef (the load-balancing loss is not counted)');
  });

  it('qwen2_moe: a shared expert with its gate, q/k/v biases, norm_topk_prob false by default', () => {
    const config = readHf('Qwen1.5-MoE-A2.7B.json');
    expect(architectureOf(config)).toMatchObject({ qkv_bias: true, output_bias: false, mlp_bias: false });
    expect(architectureOf(config).moe).toMatchObject({
      num_experts: 60,
      experts_per_token: 4,
      expert_d_ff: 1408,
      shared_d_ff: 5632,
      shared_expert_gate: true,
      normalize_top_k: false,
    });
    expect(readHf('Qwen1.5-MoE-A2.7B.json', { qkv_bias: false }).bias).toBe(false);
  });

  it('decoder_sparse_step and mlp_only_layers: layer i sparse iff not listed and (i + 1) % step == 0', () => {
    // Qwen2MoeDecoderLayer: (layer_idx not in mlp_only_layers) and (layer_idx + 1) % decoder_sparse_step == 0.
    expect(readHf('Qwen3-30B-A3B.json', { decoder_sparse_step: 2, num_hidden_layers: 6 }).dense_layers).toEqual([
      0, 2, 4,
    ]);
    expect(readHf('Qwen3-30B-A3B.json', { mlp_only_layers: [0, 1, 99] }).dense_layers).toEqual([0, 1]);
    expect(readHf('Qwen3-30B-A3B.json').dense_layers).toBeUndefined();
    // No sparse layer left: Qwen2MoeMLP everywhere, a dense model.
    const dense = readHf('Qwen3-30B-A3B.json', { num_hidden_layers: 2, mlp_only_layers: [0, 1] });
    expect(architectureOf(dense).moe).toBeUndefined();
    expect(summarizeParameters(dense).byComponent.ffn).toBe(2n * 3n * 2048n * 6144n);
  });

  it('qwen3_moe: norm_topk_prob read; a bad decoder_sparse_step refused in one line', () => {
    expect(readHf('Qwen3-30B-A3B.json').normalize_top_k).toBe(true);
    // Qwen3MoeConfig: norm_topk_prob: bool = False.
    const absent = readHf('Qwen3-30B-A3B.json', { norm_topk_prob: undefined });
    expect(absent.normalize_top_k).toBe(false);
    expect((absent.notes ?? [])[0]).toContain('norm_topk_prob false');
    expect(inputError(() => readHf('Qwen3-30B-A3B.json', { decoder_sparse_step: 0 })).problems).toEqual([
      'config.json: decoder_sparse_step (0) must be a positive integer; fix: e.g. 1 (every layer sparse) or 2 (every second layer)',
    ]);
    expect(inputError(() => readHf('Qwen3-30B-A3B.json', { num_experts_per_tok: 200 })).problems).toEqual([
      'config.json: num_experts_per_tok (200) is more than the 128 experts (num_experts); fix: use at most 128',
    ]);
  });
});
