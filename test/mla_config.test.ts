/**
 * Multi-head latent attention (DeepSeek-V2 and V3): the flopledger keys and their checks, the
 * Hugging Face model types deepseek_v2 and deepseek_v3 read as transformers' DeepseekV2/V3 models
 * build them, the presets against their authors' published totals, and the latent cache.
 *
 * Published figures: DeepSeek-AI, "DeepSeek-V3 Technical Report" (arXiv 2412.19437): "671B total
 * parameters with 37B activated for each token" (the hub card: 685B with the 14B
 * multi-token-prediction module); "DeepSeek-V2: A Strong, Economical, and Efficient
 * Mixture-of-Experts Language Model" (arXiv 2405.04434): V2 "236B total parameters, of which 21B
 * are activated for each token"; V2-Lite "15.7B parameters in total, of which 2.4B are activated".
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { forwardFlopBreakdown, summarizeParameters } from '../src/analytic/index.js';
import { kvCacheBytesPerToken, kvCacheLayers } from '../src/analytic/inference/kv_cache.js';
import { storageFormat } from '../src/analytic/inference/formats.js';
import {
  architectureOf,
  loadModelConfig,
  parseHuggingFaceConfig,
  parseModelConfig,
  type ModelConfig,
} from '../src/config/index.js';
import { inputErrorWithoutStack as inputError } from './helpers/input_error.js';

const fixture = (file: string, changes: Record<string, unknown> = {}): ModelConfig => {
  const raw = {
    ...(JSON.parse(readFileSync(`test/fixtures/hf/${file}`, 'utf8')) as Record<string, unknown>),
    ...changes,
  };
  return parseHuggingFaceConfig(raw, 'config.json', file);
};
const hfProblems = (file: string, changes: Record<string, unknown>) =>
  inputError(() => fixture(file, changes)).problems;
const problems = (value: Record<string, unknown>) => inputError(() => parseModelConfig(value, 'm.json', 'm')).problems;

interface Deepseek {
  readonly V: bigint;
  readonly L: bigint;
  readonly d: bigint;
  readonly H: bigint;
  readonly F: bigint;
  /** 0n: a full-rank q_proj. */
  readonly rq: bigint;
  readonly r: bigint;
  readonly dr: bigint;
  readonly dn: bigint;
  readonly dv: bigint;
  readonly E: bigint;
  readonly k: bigint;
  readonly Fe: bigint;
  readonly shared: bigint;
  readonly denseLayers: bigint;
  readonly scoreBias: boolean;
}

/**
 * Written from the published hyperparameters: per layer the query (d rq + rq + rq H (dn + dr), or
 * d H (dn + dr)), kv_down d (r + dr), its norm r, kv_up r H (dn + dv), o_proj H dv d, two norms 2d;
 * a dense layer's MLP 3 d F; a MoE layer's router E d (+ E score biases), E experts of 3 d Fe and
 * the shared MLP 3 d (shared Fe); the token table and lm_head V d each and the final norm d.
 */
function deepseekClosedForm(m: Deepseek): { total: bigint; active: bigint } {
  const query = m.rq === 0n ? m.d * m.H * (m.dn + m.dr) : m.d * m.rq + m.rq + m.rq * m.H * (m.dn + m.dr);
  const attention = query + m.d * (m.r + m.dr) + m.r + m.r * m.H * (m.dn + m.dv) + m.H * m.dv * m.d + 2n * m.d;
  const expert = 3n * m.d * m.Fe;
  const moeLayer = m.E * m.d + (m.scoreBias ? m.E : 0n) + m.E * expert + 3n * m.d * m.shared * m.Fe;
  const moeLayers = m.L - m.denseLayers;
  const total = m.L * attention + m.denseLayers * 3n * m.d * m.F + moeLayers * moeLayer + 2n * m.V * m.d + m.d;
  return { total, active: total - moeLayers * (m.E - m.k) * expert };
}

const V3: Deepseek = {
  V: 129280n,
  L: 61n,
  d: 7168n,
  H: 128n,
  F: 18432n,
  rq: 1536n,
  r: 512n,
  dr: 64n,
  dn: 128n,
  dv: 128n,
  E: 256n,
  k: 8n,
  Fe: 2048n,
  shared: 1n,
  denseLayers: 3n,
  scoreBias: true,
};
const V2_LITE: Deepseek = {
  ...V3,
  V: 102400n,
  L: 27n,
  d: 2048n,
  H: 16n,
  F: 10944n,
  rq: 0n,
  E: 64n,
  k: 6n,
  Fe: 1408n,
  shared: 2n,
  denseLayers: 1n,
  scoreBias: false,
};
const V2: Deepseek = { ...V2_LITE, L: 60n, d: 5120n, H: 128n, F: 12288n, rq: 1536n, E: 160n, Fe: 1536n };
const billions = (n: bigint) => Number(n) / 1e9;

describe('DeepSeek presets against their authors’ published totals', () => {
  it('deepseek-v3: 671,026,419,200 parameters (671B), 37B active', () => {
    const summary = summarizeParameters(loadModelConfig('deepseek-v3'));
    const closed = deepseekClosedForm(V3);
    expect(summary.total).toBe(closed.total);
    expect(summary.total).toBe(671_026_419_200n);
    expect(summary.active).toBe(closed.active);
    expect(summary.active).toBe(37_552_297_472n);
    expect(summary.activeNonEmbedding).toBe(closed.active - V3.V * V3.d);
    expect(Math.round(billions(summary.total))).toBe(671);
    // The published 37B: the active count truncated (37.55B), or without the embedding table rounded (36.63B).
    expect(Math.floor(billions(summary.active))).toBe(37);
    expect(Math.round(billions(summary.activeNonEmbedding))).toBe(37);
  });

  it('deepseek-v2-lite: 15.7B parameters, 2.4B active without the embedding table', () => {
    const summary = summarizeParameters(loadModelConfig('deepseek-v2-lite'));
    const closed = deepseekClosedForm(V2_LITE);
    expect(summary.total).toBe(closed.total);
    expect(summary.total).toBe(15_706_484_224n);
    expect(summary.active).toBe(closed.active);
    expect(Math.round(billions(summary.total) * 10) / 10).toBe(15.7);
    expect(Math.floor(billions(summary.activeNonEmbedding) * 10) / 10).toBe(2.4);
  });

  it('deepseek-v2: 236B parameters, 21B active', () => {
    const summary = summarizeParameters(loadModelConfig('deepseek-v2'));
    const closed = deepseekClosedForm(V2);
    expect(summary.total).toBe(closed.total);
    expect(summary.active).toBe(closed.active);
    expect(Math.round(billions(summary.total))).toBe(236);
    expect(Math.round(billions(summary.activeNonEmbedding))).toBe(21);
  });

  it('each hub config.json reads as its preset', () => {
    for (const [file, preset] of [
      ['DeepSeek-V3.json', 'deepseek-v3'],
      ['DeepSeek-V2-Lite.json', 'deepseek-v2-lite'],
      ['DeepSeek-V2.json', 'deepseek-v2'],
    ] as const) {
      const fromHub = summarizeParameters(fixture(file));
      const fromPreset = summarizeParameters(loadModelConfig(preset));
      expect(fromHub.rows).toEqual(fromPreset.rows);
      // The router as the model routes: scores, score bias, groups and scale.
      const { moe_layers: _hub, ...hubRouter } = architectureOf(fixture(file)).moe!;
      const { moe_layers: _preset, ...presetRouter } = architectureOf(loadModelConfig(preset)).moe!;
      expect(hubRouter).toEqual(presetRouter);
    }
    // scoring_func, topk_method, n_group, topk_group and routed_scaling_factor, as the configs give them.
    expect(architectureOf(fixture('DeepSeek-V3.json')).moe).toMatchObject({
      router_scoring: 'sigmoid',
      router_score_bias: true,
      groups: { count: 8, kept: 4, score: 'top2_sum' },
      routed_scaling_factor: 2.5,
      normalize_top_k: true,
    });
    expect(architectureOf(fixture('DeepSeek-V2.json')).moe).toMatchObject({
      router_scoring: 'softmax',
      router_score_bias: false,
      groups: { count: 8, kept: 3, score: 'max' },
      routed_scaling_factor: 16,
    });
    expect(architectureOf(fixture('DeepSeek-V2-Lite.json')).moe).toMatchObject({
      groups: undefined,
      routed_scaling_factor: 1,
    });
  });

  it('DeepSeek-V3 at T=4096: latent projections and the core counted per layer by hand', () => {
    const T = 4096n;
    const flops = forwardFlopBreakdown(loadModelConfig('deepseek-v3'), { batch: 1, seq: 4096 });
    const { d, H, rq, r, dr, dn, dv, L } = V3;
    expect(flops.byComponent.latent_projections).toBe(
      L * 2n * T * (d * rq + rq * H * (dn + dr) + d * (r + dr) + r * H * (dn + dv)),
    );
    expect(flops.byComponent.attention_core).toBe(L * 2n * H * T * T * (dn + dr + dv));
    expect(flops.byComponent.attention_projections).toBe(L * 2n * T * H * dv * d);
  });
});

describe('the latent cache', () => {
  it('DeepSeek-V3 caches kv_lora_rank + qk_rope_head_dim values per token per layer: 70,272 bytes in bf16', () => {
    const config = loadModelConfig('deepseek-v3');
    const perToken = kvCacheBytesPerToken(kvCacheLayers(config), storageFormat('bf16'));
    expect(perToken).toBe(V3.L * (V3.r + V3.dr) * 2n);
    expect(perToken).toBe(70_272n);
    // K and V per head (128 heads of 192 and 128 values) would be 71 times as large.
    expect(perToken * 50n).toBeLessThan(V3.L * V3.H * (V3.dn + V3.dr + V3.dv) * 2n);
  });
});

describe('latent attention configs', () => {
  const small = (extra: Record<string, unknown>) => ({
    vocab_size: 64,
    context_length: 32,
    num_layers: 2,
    d_model: 16,
    num_heads: 2,
    d_ff: 24,
    kv_lora_rank: 6,
    qk_rope_head_dim: 4,
    qk_nope_head_dim: 6,
    v_head_dim: 5,
    ...extra,
  });

  it('a small config counted by hand: 5,940 parameters with a query latent of 8', () => {
    // Per layer: q_down 16*8 + norm 8 + q_up 8*2*10; kv_down 16*10 + norm 6 + kv_up 6*2*11; o 10*16;
    // ln1, ln2 32; FFN 3*16*24: 128 + 8 + 160 + 160 + 6 + 132 + 160 + 32 + 1152 = 1,938.
    const summary = summarizeParameters(parseModelConfig(small({ q_lora_rank: 8 }), 'm.json', 'm'));
    expect(summary.perLayer).toBe(1938n);
    expect(summary.total).toBe(2n * 1938n + 2n * 64n * 16n + 16n);
    expect(summary.byComponent.latent_projections).toBe(2n * (128n + 160n + 160n + 132n));
  });

  it('refuses what does not fit together, one line each with the fix', () => {
    expect(problems(small({ v_head_dim: undefined, qk_rope_head_dim: 5 }))).toEqual([
      'm.json: kv_lora_rank (6) makes attention latent, which needs v_head_dim; fix: add e.g. "v_head_dim": 128',
      'm.json: qk_rope_head_dim (5) must be even because RoPE rotates pairs of features; fix: use 6 or 4',
    ]);
    expect(problems(small({ kv_lora_rank: undefined }))).toContain(
      'm.json: qk_rope_head_dim describes multi-head latent attention, but there is no kv_lora_rank; fix: add e.g. "kv_lora_rank": 512, or remove qk_rope_head_dim',
    );
    expect(problems(small({ num_kv_heads: 1 }))).toEqual([
      'm.json: num_kv_heads (1) with kv_lora_rank: every head gets its own key and value from the latent; fix: remove num_kv_heads',
    ]);
  });

  it('deepseek_v2: q_lora_rank null is a full-rank q_proj; unmodelled settings refused in one line', () => {
    expect(fixture('DeepSeek-V2-Lite.json').q_lora_rank).toBeUndefined();
    expect(hfProblems('DeepSeek-V2-Lite.json', { moe_layer_freq: 2 })).toEqual([
      "config.json: moe_layer_freq (2): transformers' DeepseekV2/V3 models put experts in every layer from " +
        "first_k_dense_replace on, DeepSeek's code in every moe_layer_freq-th; the two build different models " +
        'unless it is 1; fix: 1',
    ]);
    expect(hfProblems('DeepSeek-V2-Lite.json', { scoring_func: 'sigmoid' })).toEqual([
      'config.json: scoring_func ("sigmoid"): DeepseekV2Config\'s model scores experts with softmax only; fix: "softmax"',
    ]);
    expect(hfProblems('DeepSeek-V3.json', { topk_group: 9 })).toEqual([
      'config.json: topk_group (9) must be between 1 and the 8 groups (n_group); fix: e.g. 4',
    ]);
    expect(hfProblems('DeepSeek-V3.json', { attention_bias: true })).toHaveLength(1);
  });
});
