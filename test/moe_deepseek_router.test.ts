import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { architectureOf, type ModelConfig, type MoeArchitecture, type RunShape } from '../src/config/model_config.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { choiceScores, routeWeights, topKExperts } from '../src/model/moe.js';
import { traceForward, traceTrainingStep } from '../src/runtime/traced_run.js';
import { verifyModel } from '../src/verify/index.js';
import { describeRoutingMismatch } from '../src/verify/routing_check.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { describeWorkMismatch } from '../src/verify/work_check.js';
import { recordSignature } from './helpers/meta_signatures.js';
import { expectRoutedForwardExact, expectRoutedTrainingExact } from './helpers/routed_reports.js';

/**
 * DeepSeek's routers traced for real: sigmoid or softmax scores, the score bias that moves the
 * choice but not the weights, group-limited selection ranked by a group's best score (V2's
 * group_limited_greedy) or by the sum of its best two (V3's noaux_tc), and routed_scaling_factor;
 * the rules as transformers' DeepseekV2Moe.route_tokens_to_experts and
 * DeepseekV3TopkRouter.get_topk_indices write them (models/deepseek_v2/modeling_deepseek_v2.py,
 * models/deepseek_v3/modeling_deepseek_v3.py).
 */

/** 8 experts in 4 groups of 2, 2 groups kept, 2 experts per token. */
function router(score: 'max' | 'top2_sum', extra: Partial<MoeArchitecture> = {}): MoeArchitecture {
  return {
    num_experts: 8,
    experts_per_token: 2,
    expert_d_ff: 4,
    shared_d_ff: undefined,
    shared_expert_gate: false,
    router_bias: false,
    normalize_top_k: true,
    router_score_bias: false,
    router_scoring: 'sigmoid',
    groups: { count: 4, kept: 2, score },
    routed_scaling_factor: 1,
    moe_layers: [true],
    ...extra,
  };
}

/** Each token's chosen experts in increasing order, and their weights in that order. */
function route(
  scores: number[][],
  moe: MoeArchitecture,
  bias?: number[],
): { experts: number[][]; weights: number[][] } {
  return tf.tidy(() => {
    const p = tf.tensor2d(scores);
    const chosen = topKExperts(choiceScores(p, moe, bias === undefined ? undefined : tf.tensor1d(bias)), 2);
    const experts = chosen.arraySync().map((row) => [...row].sort((a, b) => a - b));
    const picked = tf.tensor2d(experts.map((row, t) => row.map((e) => scores[t]![e]!)));
    return { experts, weights: routeWeights(picked, moe).arraySync() };
  });
}

describe('the group-limited choice, worked by hand', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  // Groups {0, 1}, {2, 3}, {4, 5}, {6, 7}. Expert 0 has the best score, but its group's second is
  // poor; groups 1 and 2 each have two good experts.
  const scores = [[0.9, 0.1, 0.7, 0.6, 0.65, 0.64, 0.2, 0.3]];

  it("V2's max rule ranks groups by their best: groups 0 (0.9) and 1 (0.7) kept; experts 0 and 2", () => {
    // Group bests 0.9, 0.7, 0.65, 0.3: groups 0 and 1; the best two of {0.9, 0.1, 0.7, 0.6}: 0 and 2.
    const { experts, weights } = route(scores, router('max'));
    expect(experts).toEqual([[0, 2]]);
    // Renormalised: 0.9 / 1.6 and 0.7 / 1.6.
    expect(weights[0]![0]).toBeCloseTo(0.5625, 6);
    expect(weights[0]![1]).toBeCloseTo(0.4375, 6);
  });

  it("V3's top-2-sum rule ranks groups by their best two: groups 1 (1.3) and 2 (1.29) kept; experts 2 and 4", () => {
    // Group sums 1.0, 1.3, 1.29, 0.5: groups 1 and 2, so expert 0 (0.9) is out; the best two of
    // {0.7, 0.6, 0.65, 0.64}: 2 and 4.
    const { experts, weights } = route(scores, router('top2_sum'));
    expect(experts).toEqual([[2, 4]]);
    // Renormalised and scaled by 2.5: 2.5 x 0.7 / 1.35 and 2.5 x 0.65 / 1.35.
    const scaled = route(scores, router('top2_sum', { routed_scaling_factor: 2.5 }));
    expect(scaled.experts).toEqual([[2, 4]]);
    expect(weights[0]![0]).toBeCloseTo(0.7 / 1.35, 6);
    expect(scaled.weights[0]![0]).toBeCloseTo((2.5 * 0.7) / 1.35, 6);
    expect(scaled.weights[0]![1]).toBeCloseTo((2.5 * 0.65) / 1.35, 6);
  });

  it('the score bias changes the choice but not the weights', () => {
    // + 0.45 on expert 6 and + 0.5 on expert 7: biased 0.65 and 0.8, so group 3 sums 1.45, the
    // best, then group 1 (1.3); group 2 (1.29) drops out. The best two biased scores of groups 1
    // and 3 (0.7, 0.6, 0.65, 0.8): experts 7 and 2, where the unbiased choice was 2 and 4.
    const bias = [0, 0, 0, 0, 0, 0, 0.45, 0.5];
    const { experts, weights } = route(scores, router('top2_sum'), bias);
    expect(experts).toEqual([[2, 7]]);
    // The weights are the unbiased scores 0.7 and 0.3, renormalised: 0.7 and 0.3.
    expect(weights[0]![0]).toBeCloseTo(0.7, 6);
    expect(weights[0]![1]).toBeCloseTo(0.3, 6);
  });

  it('without groups the bias alone moves the choice: one top-k over all experts', () => {
    const bias = [0, 0, 0, 0, 0, 0, 0, 0.7];
    const { experts, weights } = route(scores, router('max', { groups: undefined }), bias);
    // Biased: 0.9, ..., 1.0 for expert 7: experts 0 and 7, weighted by 0.9 and 0.3 renormalised.
    expect(experts).toEqual([[0, 7]]);
    expect(weights[0]![0]).toBeCloseTo(0.75, 6);
    expect(weights[0]![1]).toBeCloseTo(0.25, 6);
  });
});

interface Draw {
  config: ModelConfig;
  run: RunShape;
  seed: number;
}

/** Random DeepSeek-style models: latent attention, experts in groups, either router. */
const deepseekModel: fc.Arbitrary<Draw> = fc
  .record({
    layers: fc.integer({ min: 1, max: 2 }),
    firstDense: fc.boolean(),
    heads: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 4 }),
    groupSize: fc.integer({ min: 1, max: 3 }),
    keptFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    kFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    v3: fc.boolean(),
    normalize: fc.boolean(),
    scale: fc.constantFrom(1, 2.5, 16),
    shared: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    qRank: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    batch: fc.integer({ min: 1, max: 2 }),
    seq: fc.integer({ min: 1, max: 5 }),
    seed: fc.integer({ min: 0, max: 1000 }),
  })
  .map((draw): Draw => {
    const E = draw.groups * draw.groupSize;
    const kept = 1 + Math.floor(draw.keptFraction * draw.groups);
    const k = 1 + Math.floor(draw.kFraction * kept * draw.groupSize);
    // V3: sigmoid, the score bias, groups by their top two (which need two experts a group).
    const top2 = draw.v3 && draw.groupSize >= 2;
    const layers = draw.layers + (draw.firstDense ? 1 : 0);
    const config: ModelConfig = {
      name: 'random-deepseek',
      source: 'test/moe_deepseek_router.test.ts',
      vocab_size: 11,
      context_length: draw.seq,
      num_layers: layers,
      d_model: 6,
      num_heads: draw.heads,
      d_ff: 5,
      kv_lora_rank: 3,
      ...(draw.qRank === undefined ? {} : { q_lora_rank: draw.qRank }),
      qk_rope_head_dim: 2,
      qk_nope_head_dim: 2,
      v_head_dim: 3,
      num_experts: E,
      experts_per_token: k,
      expert_d_ff: 3,
      ...(draw.shared === undefined ? {} : { shared_d_ff: draw.shared }),
      normalize_top_k: draw.normalize,
      router_scoring: draw.v3 ? 'sigmoid' : 'softmax',
      router_score_bias: draw.v3,
      expert_groups: draw.groups,
      expert_groups_kept: kept,
      expert_group_score: top2 ? 'top2_sum' : 'max',
      routed_scaling_factor: draw.scale,
      ...(draw.firstDense ? { dense_layers: [0] } : {}),
    };
    return { config, run: { batch: draw.batch, seq: draw.seq }, seed: draw.seed };
  });

describe("DeepSeek's routers, verified on cpu with the routing they took", () => {
  beforeAll(async () => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it('random V2- and V3-style configs match exactly, forward and training step, and meta given the routing traces the same kernels', async () => {
    await fc.assert(
      fc.asyncProperty(deepseekModel, async ({ config, run, seed }) => {
        const before = tf.memory().numTensors;
        const forward = await verifyModel({ config, run, backend: 'cpu', seed });
        expectRoutedForwardExact(forward);

        // The score bias is a weight of the model, one [E] per MoE layer, and the choice ran on it.
        const moe = architectureOf(config).moe!;
        const cpu = await traceForward({ config, run, backend: 'cpu', seed });
        const biasAdds = cpu.records.filter((r) => r.kernel === 'Add' && r.path.endsWith('.moe.top_k'));
        expect(biasAdds).toHaveLength(moe.router_score_bias ? moe.moe_layers.filter(Boolean).length : 0);
        const meta = await traceForward({ config, run: { ...run, routing: cpu.routing! }, backend: 'meta', seed });
        expect(meta.records.map(recordSignature)).toEqual(cpu.records.map(recordSignature));

        const training = await verifyTraining({ config, run, backend: 'cpu', seed });
        expectRoutedTrainingExact(training);
        expect(training.total.backward).toBe(2n * training.total.forward);
        expect(Number.isFinite(training.loss)).toBe(true);
        const step = await traceTrainingStep({ config, run, backend: 'cpu', seed });
        const stepMeta = await traceTrainingStep({
          config,
          run: { ...run, routing: step.routing! },
          backend: 'meta',
          seed,
        });
        expect(stepMeta.records.map(recordSignature)).toEqual(step.records.map(recordSignature));
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 8, seed: 3_2025 },
    );
  });
});

/** One latent layer with DeepSeek-V3's router: 8 experts in 4 groups of 2, 2 kept, top 2, scaled by 2.5. */
const v3Small: ModelConfig = {
  name: 'v3-small',
  source: 'test/moe_deepseek_router.test.ts',
  vocab_size: 16,
  context_length: 8,
  num_layers: 1,
  d_model: 8,
  num_heads: 2,
  d_ff: 12,
  kv_lora_rank: 4,
  qk_rope_head_dim: 2,
  qk_nope_head_dim: 2,
  v_head_dim: 4,
  num_experts: 8,
  experts_per_token: 2,
  expert_d_ff: 6,
  shared_d_ff: 6,
  normalize_top_k: true,
  router_scoring: 'sigmoid',
  router_score_bias: true,
  expert_groups: 4,
  expert_groups_kept: 2,
  expert_group_score: 'top2_sum',
  routed_scaling_factor: 2.5,
};

describe('a V3 router that sends each token to k + 1 experts', () => {
  beforeAll(() => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
  });

  it('is caught with its exact mismatch report, on meta and on cpu', async () => {
    // top_k over N = 8 tokens, E = 8: the bias Add 64; the groups' TopK 2 of 2 (32 rows x 2) 64, Sum
    // 32, the kept groups' TopK 2 of 4 (8 x 2 x 3) 48, GreaterEqual 32, the mask's Multiply 64; the
    // choice TopK 8 x k x 7; the renormalising Sum 8 (k - 1), RealDiv 8 k, the scale's Multiply 8 k.
    // k = 2: 304 + 112 + 8 + 16 + 16 = 456; k + 1 = 3: 304 + 168 + 16 + 24 + 24 = 536.
    const work = [
      'layers.0.moe.top_k: work: expected 10 kernels, 456 FLOPs; traced 10 kernels, 536 FLOPs',
      'layers.0.moe.combine: work: expected 1 kernel, 128 FLOPs; traced 1 kernel, 192 FLOPs',
    ];
    for (const backend of ['meta', 'cpu'] as const) {
      const report = await verifyModel({
        config: v3Small,
        run: { batch: 1, seq: 8 },
        backend,
        seed: 5,
        parts: { chooseExperts: (scores, k) => topKExperts(scores, k + 1) },
      });
      expect(report.ok).toBe(false);
      const routing = report.routing!.mismatches.map((check) => describeRoutingMismatch(check));
      expect(routing).toHaveLength(1);
      expect(routing[0]).toMatch(
        /^layers\.0\.moe: routing: expected 16 expert rows \(k = 2 for each of 8 tokens\) over 8 experts; traced 24 rows over 8 experts \[(\d+, ){7}\d+\]$/,
      );
      if (backend === 'meta') {
        // The documented assignment with k + 1 picks: token t to experts t, t + 1, t + 2 mod 8.
        expect(routing[0]).toMatch(/\[3, 3, 3, 3, 3, 3, 3, 3\]$/);
      }
      expect(report.work.mismatches.map(describeWorkMismatch)).toEqual(work);
    }
    const asBuilt = await verifyModel({ config: v3Small, run: { batch: 1, seq: 8 }, backend: 'cpu', seed: 5 });
    expect(asBuilt.ok).toBe(true);
  });
});

describe("DeepSeek-V3's router on wasm", () => {
  // Off on wasm: a clone copies there, so the loss's kept logits count as a leak (src/model/cross_entropy.ts).
  beforeAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('routes as cpu does, and verifies exactly, forward and training step', async () => {
    const run = { batch: 1, seq: 8 };
    const onCpu = await traceForward({ config: v3Small, run, backend: 'cpu', seed: 5 });
    const onWasm = await traceForward({ config: v3Small, run, backend: 'wasm', seed: 5 });
    // The same weights and tokens choose the same experts: the group mask built without OneHot.
    expect(onWasm.routing).toEqual(onCpu.routing);
    const forward = await verifyModel({ config: v3Small, run, backend: 'wasm', seed: 5 });
    expect(forward.ok).toBe(true);
    const training = await verifyTraining({ config: v3Small, run, backend: 'wasm', seed: 5 });
    expect(training.ok).toBe(true);
    expect(training.total.backward).toBe(2n * training.total.forward);
  });
});
