import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ExpertRouting, ModelConfig, RunShape } from '../src/config/model_config.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { topKExperts } from '../src/model/moe.js';
import { traceForward, traceTrainingStep } from '../src/runtime/traced_run.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { verifyDecode } from '../src/verify/verify_decode.js';
import { traceDecode } from '../src/runtime/traced_decode.js';
import { cli, cliJson } from './helpers/cli_runner.js';
import { verifyModel } from '../src/verify/index.js';
import { describeWorkMismatch } from '../src/verify/work_check.js';
import { describeRoutingMismatch } from '../src/verify/routing_check.js';
import { recordSignature } from './helpers/meta_signatures.js';
import { expectRoutedForwardExact, expectRoutedTrainingExact } from './helpers/routed_reports.js';

/**
 * Mixtures of experts traced for real: the router routes on cpu, each expert runs on the rows it
 * got, and the verifier checks every expert's matmuls against those rows, the router, the top-k,
 * the gathers, the weighting and the scatter back, and their bytes. The closed forms below are
 * written from the definitions (N = B T tokens, c = 3 matrices per gated FFN, 2 for the GELU MLP)
 * and share no code with src/analytic.
 */
interface MoeDraw {
  config: ModelConfig;
  run: RunShape;
  seed: number;
}

const moeModel: fc.Arbitrary<MoeDraw> = fc
  .record({
    vocab: fc.integer({ min: 2, max: 12 }),
    layers: fc.integer({ min: 1, max: 3 }),
    heads: fc.integer({ min: 1, max: 2 }),
    halfHeadDim: fc.integer({ min: 1, max: 2 }),
    ffn: fc.integer({ min: 1, max: 6 }),
    kind: fc.constantFrom('swiglu' as const, 'gelu' as const, 'geglu' as const),
    experts: fc.integer({ min: 1, max: 5 }),
    kFraction: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    expertFfn: fc.integer({ min: 1, max: 5 }),
    shared: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    sharedGate: fc.boolean(),
    normalize: fc.boolean(),
    routerBias: fc.boolean(),
    mlpBias: fc.boolean(),
    denseMask: fc.integer({ min: 0, max: 7 }),
    batch: fc.integer({ min: 1, max: 2 }),
    seq: fc.integer({ min: 1, max: 5 }),
    seed: fc.integer({ min: 0, max: 1000 }),
  })
  .map((draw) => {
    const k = 1 + Math.floor(draw.kFraction * draw.experts);
    // Some layers keep the dense FFN, never all of them.
    const dense = Array.from({ length: draw.layers }, (_, i) => i).filter((i) => (draw.denseMask >> i) & 1);
    const denseLayers = dense.length === draw.layers ? dense.slice(1) : dense;
    const config: ModelConfig = {
      name: 'random-moe',
      source: 'test/moe_verify.test.ts',
      vocab_size: draw.vocab,
      context_length: draw.seq,
      num_layers: draw.layers,
      d_model: draw.heads * 2 * draw.halfHeadDim,
      num_heads: draw.heads,
      d_ff: draw.ffn,
      ffn: draw.kind,
      mlp_bias: draw.mlpBias,
      num_experts: draw.experts,
      experts_per_token: k,
      expert_d_ff: draw.expertFfn,
      ...(draw.shared === undefined ? {} : { shared_d_ff: draw.shared, shared_expert_gate: draw.sharedGate }),
      normalize_top_k: draw.normalize,
      router_bias: draw.routerBias,
      ...(denseLayers.length === 0 ? {} : { dense_layers: denseLayers }),
    };
    return { config, run: { batch: draw.batch, seq: draw.seq }, seed: draw.seed };
  });

/** Whether layer i routes. */
function isMoe(config: ModelConfig, i: number): boolean {
  return !(config.dense_layers ?? []).includes(i);
}

/**
 * Forward matmul FLOPs, from the definitions: per layer the projections 2N(4 d^2) and the core
 * 4 B T^2 d; a dense layer's FFN 2 N c d F; a MoE layer's router 2 N d E, its routed experts
 * 2 (k N) c d Fe whatever the routing (each token's rows go to k experts), its shared expert
 * 2 N c d Fs and gate 2 N d; lm_head 2 N d V.
 */
function forwardFlops(config: ModelConfig, run: RunShape): bigint {
  const c = config.ffn === 'gelu' ? 3n - 1n : 3n;
  const [d, F, V, E, k, Fe] = [
    config.d_model,
    config.d_ff,
    config.vocab_size,
    config.num_experts ?? 0,
    config.experts_per_token ?? 0,
    config.expert_d_ff ?? 0,
  ].map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint];
  const [B, T] = [BigInt(run.batch), BigInt(run.seq)];
  const N = B * T;
  let total = 2n * N * d * V;
  for (let i = 0; i < config.num_layers; i++) {
    total += 2n * N * 4n * d * d + 4n * B * T * T * d;
    if (!isMoe(config, i)) {
      total += 2n * N * c * d * F;
      continue;
    }
    total += 2n * N * d * E + 2n * k * N * c * d * Fe;
    if (config.shared_d_ff !== undefined) {
      total += 2n * N * c * d * BigInt(config.shared_d_ff);
      if (config.shared_expert_gate === true) total += 2n * N * d;
    }
  }
  return total;
}

/** Matmul kernels: 6 attention ones per layer; c per dense FFN; router, c per expert that got rows, c shared, gate; lm_head. */
function matmulKernels(config: ModelConfig, routing: ExpertRouting): number {
  const c = config.ffn === 'gelu' ? 2 : 3;
  let count = 1;
  for (let i = 0; i < config.num_layers; i++) {
    count += 6;
    if (!isMoe(config, i)) {
      count += c;
      continue;
    }
    const used = routing.rows[i]!.filter((rows) => rows > 0).length;
    count += 1 + c * used;
    if (config.shared_d_ff !== undefined) count += c + (config.shared_expert_gate === true ? 1 : 0);
  }
  return count;
}

/**
 * Parameters: the embedding table V d and lm_head d V, the final norm d; per layer the attention
 * 4 d^2 and two norms 2 d; a dense FFN c d F (+ (c - 1) F + d of biases); a MoE layer's router
 * d E (+ E), E experts of c d Fe (+ (c - 1) Fe + d each), the shared one c d Fs (+ its biases)
 * and its gate d.
 */
function parameters(config: ModelConfig): bigint {
  const c = config.ffn === 'gelu' ? 2 : 3;
  const [d, V] = [config.d_model, config.vocab_size];
  const bias = config.mlp_bias === true;
  const ffn = (width: number) => c * d * width + (bias ? (c - 1) * width + d : 0);
  let total = 2 * V * d + d;
  for (let i = 0; i < config.num_layers; i++) {
    total += 4 * d * d + 2 * d;
    if (!isMoe(config, i)) {
      total += ffn(config.d_ff);
      continue;
    }
    const E = config.num_experts!;
    total += d * E + (config.router_bias === true ? E : 0) + E * ffn(config.expert_d_ff!);
    if (config.shared_d_ff !== undefined) total += ffn(config.shared_d_ff) + (config.shared_expert_gate ? d : 0);
  }
  return BigInt(total);
}

/** Outermost forward records of one kernel. */
function tracedFlopsOf(records: readonly KernelRecord[], kernel: string): bigint {
  return records
    .filter((record) => !record.nested && record.kernel === kernel)
    .reduce((total, record) => total + (record.flops ?? 0n), 0n);
}

describe('mixture of experts, verified on cpu with the routing the router took', () => {
  beforeAll(async () => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it('random MoE configs match exactly on cpu, forward and training step, and meta given cpu routing traces the same kernels', async () => {
    await fc.assert(
      fc.asyncProperty(moeModel, async ({ config, run, seed }) => {
        const before = tf.memory().numTensors;
        const forward = await verifyModel({ config, run, backend: 'cpu', seed });
        expectRoutedForwardExact(forward);
        expect(forward.matmuls.tracedTotal).toBe(forwardFlops(config, run));

        // The routing each MoE layer took: k rows per token over the E experts.
        const N = run.batch * run.seq;
        const routing = (await traceForward({ config, run, backend: 'cpu', seed })).routing!;
        const moeLayers = Array.from({ length: config.num_layers }, (_, i) => i).filter((i) => isMoe(config, i));
        for (const i of moeLayers) {
          expect(routing.rows[i]!.length).toBe(config.num_experts);
          expect(routing.rows[i]!.reduce((a, b) => a + b, 0)).toBe(N * config.experts_per_token!);
        }
        expect(forward.matmulKernelCount).toBe(matmulKernels(config, routing));
        // The top-k as k successive maxima over E, k (E - 1) per token; the scatter adds k N rows of d.
        const [E, k, d] = [config.num_experts!, config.experts_per_token!, config.d_model].map(BigInt) as [
          bigint,
          bigint,
          bigint,
        ];
        const L = BigInt(moeLayers.length);
        expect(tracedFlopsOf(forward.records, 'TopK')).toBe(L * BigInt(N) * k * (E - 1n));
        expect(tracedFlopsOf(forward.records, 'ScatterNd')).toBe(L * k * BigInt(N) * d);

        // meta, handed the rows cpu routed, traces the very kernels cpu traced, and verifies.
        const replay = { ...run, routing };
        const cpu = await traceForward({ config, run, backend: 'cpu', seed });
        const meta = await traceForward({ config, run: replay, backend: 'meta', seed });
        expect(meta.records.map(recordSignature)).toEqual(cpu.records.map(recordSignature));
        const onMeta = await verifyModel({ config, run: replay, backend: 'meta', seed });
        expect(onMeta.ok).toBe(true);
        expect(onMeta.matmuls.tracedTotal).toBe(forward.matmuls.tracedTotal);

        // The training step: every backward matmul of every expert on the rows it got, 2x forward.
        const training = await verifyTraining({ config, run, backend: 'cpu', seed });
        expectRoutedTrainingExact(training);
        expect(training.backward.matchedCount).toBe(2 * training.forward.matchedCount);
        expect(training.total.backward).toBe(2n * forwardFlops(config, run));
        // AdamW updates every parameter, an expert no token chose included: 14 FLOPs each.
        const P = parameters(config);
        expect(training.optimizer.parameterCount).toBe(P);
        expect(training.optimizer.traced).toBe(14n * P);
        expect(Number.isFinite(training.loss)).toBe(true);
        // meta, given the routing cpu's step took, runs the step's very kernels.
        const stepCpu = await traceTrainingStep({ config, run, backend: 'cpu', seed });
        const stepMeta = await traceTrainingStep({
          config,
          run: { ...run, routing: stepCpu.routing! },
          backend: 'meta',
          seed,
        });
        expect(stepMeta.records.map(recordSignature)).toEqual(stepCpu.records.map(recordSignature));
        const trainingOnMeta = await verifyTraining({
          config,
          run: { ...run, routing: stepCpu.routing! },
          backend: 'meta',
          seed,
        });
        expect(trainingOnMeta.ok).toBe(true);
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 30, seed: 14_1414 },
    );
  });
});

/** Two layers, 4 experts, top 2 renormalised, a gated shared expert; 8 tokens. */
const planted: ModelConfig = {
  name: 'moe-planted',
  source: 'test/moe_verify.test.ts',
  vocab_size: 16,
  context_length: 8,
  num_layers: 2,
  d_model: 8,
  num_heads: 2,
  d_ff: 12,
  num_experts: 4,
  experts_per_token: 2,
  expert_d_ff: 6,
  shared_d_ff: 10,
  shared_expert_gate: true,
  normalize_top_k: true,
};
const plantedRun: RunShape = { batch: 1, seq: 8 };

describe('a router that sends each token to k + 1 experts', () => {
  beforeAll(() => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
  });

  it('is caught with its exact mismatch report, on meta and on cpu', async () => {
    const work = [
      // TopK over 4 experts: k (E - 1) per token, 8 x 2 x 3 = 48 expected, 8 x 3 x 3 = 72 traced; the
      // renormalising Sum (k - 1 per token) and RealDiv (k per token): 8 + 16 expected, 16 + 24 traced.
      'layers.0.moe.top_k: work: expected 3 kernels, 72 FLOPs; traced 3 kernels, 112 FLOPs',
      // The scatter back adds k N rows of d = 8: 2 x 8 x 8 expected, 3 x 8 x 8 traced.
      'layers.0.moe.combine: work: expected 1 kernel, 128 FLOPs; traced 1 kernel, 192 FLOPs',
      'layers.1.moe.top_k: work: expected 3 kernels, 72 FLOPs; traced 3 kernels, 112 FLOPs',
      'layers.1.moe.combine: work: expected 1 kernel, 128 FLOPs; traced 1 kernel, 192 FLOPs',
    ];
    // Each expert's matmuls match the rows it got; the routed experts then cost 3/2 of the closed
    // form 2 (k N) c d Fe = 2 x 16 x 3 x 8 x 6 = 4,608 per layer.
    const routedClosedForm = 2n * 4608n;
    for (const backend of ['meta', 'cpu'] as const) {
      const report = await verifyModel({
        config: planted,
        run: plantedRun,
        backend,
        seed: 3,
        parts: { chooseExperts: (probabilities, k) => topKExperts(probabilities, k + 1) },
      });
      expect(report.ok).toBe(false);
      const routing = report.routing!.mismatches.map((check) => describeRoutingMismatch(check));
      if (backend === 'meta') {
        // The documented assignment with k + 1 picks: token t to experts t, t + 1, t + 2 mod 4, 6 rows each.
        expect(routing).toEqual([
          'layers.0.moe: routing: expected 16 expert rows (k = 2 for each of 8 tokens) over 4 experts; traced 24 rows over 4 experts [6, 6, 6, 6]',
          'layers.1.moe: routing: expected 16 expert rows (k = 2 for each of 8 tokens) over 4 experts; traced 24 rows over 4 experts [6, 6, 6, 6]',
        ]);
      } else {
        expect(routing).toHaveLength(2);
        for (const line of routing) {
          expect(line).toMatch(
            /^layers\.[01]\.moe: routing: expected 16 expert rows \(k = 2 for each of 8 tokens\) over 4 experts; traced 24 rows over 4 experts \[\d+, \d+, \d+, \d+\]$/,
          );
        }
      }
      expect(report.work.mismatches.map(describeWorkMismatch)).toEqual(work);
      const routed = report.matmuls.byComponent.find((entry) => entry.component === 'routed_experts')!;
      expect(routed.traced).toBe((3n * routedClosedForm) / 2n);
      expect(routed.traced).not.toBe(routedClosedForm);
    }
  });

  it('the same run with the router as built verifies', async () => {
    for (const backend of ['meta', 'cpu'] as const) {
      const report = await verifyModel({ config: planted, run: plantedRun, backend, seed: 3 });
      expect(report.ok).toBe(true);
      const routed = report.matmuls.byComponent.find((entry) => entry.component === 'routed_experts')!;
      expect(routed.traced).toBe(2n * 4608n);
    }
  });
});

describe('two routings of the same batch', () => {
  beforeAll(() => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
  });

  it('give the same totals while the rows per expert differ', async () => {
    // The router's routing and the documented assignment, on the same weights and tokens.
    const routed = await verifyModel({ config: planted, run: plantedRun, backend: 'cpu', seed: 3 });
    const assigned = await verifyModel({
      config: planted,
      run: plantedRun,
      backend: 'cpu',
      seed: 3,
      assignExperts: true,
    });
    // On meta: every token to experts 0 and 1 in layer 0, and to 2 and 3 in layer 1.
    const skewed = await verifyModel({
      config: planted,
      run: {
        ...plantedRun,
        routing: {
          rows: [
            [8, 8, 0, 0],
            [0, 0, 8, 8],
          ],
        },
      },
      backend: 'meta',
    });
    const rows = (report: typeof routed) => report.routing!.layers.map((layer) => layer.expertRows);
    expect(rows(assigned)).toEqual([
      [4, 4, 4, 4],
      [4, 4, 4, 4],
    ]);
    expect(rows(skewed)).toEqual([
      [8, 8, 0, 0],
      [0, 0, 8, 8],
    ]);
    expect(rows(routed)).not.toEqual(rows(assigned));
    for (const report of [routed, assigned, skewed]) {
      expect(report.ok).toBe(true);
      // Every total: the matmul FLOPs (the closed form), each component, the non-matmul FLOPs.
      expect(report.matmuls.tracedTotal).toBe(forwardFlops(planted, plantedRun));
      expect(report.matmuls.byComponent).toEqual(routed.matmuls.byComponent);
      expect(report.nonMatmul.traced).toBe(routed.nonMatmul.traced);
    }
    // The per-expert matmuls differ: expert 2 of layer 0 runs none in the skewed routing.
    const expertRows = (report: typeof routed, path: string) =>
      report.matmuls.checks.filter((check) => check.path === path).map((check) => check.traced?.shape.rows);
    expect(expertRows(skewed, 'layers.0.moe.experts.2.w1')).toEqual([]);
    expect(expertRows(assigned, 'layers.0.moe.experts.2.w1')).toEqual([4n]);
    expect(expertRows(skewed, 'layers.0.moe.experts.0.w1')).toEqual([8n]);
  });
});

describe('mixture of experts, decoded with the KV cache', () => {
  beforeAll(async () => {
    registerMetaBackend();
    tf.env().set('IS_TEST', true);
    await tf.setBackend('cpu');
  });

  it('random MoE configs: the prefill and every step verify exactly on cpu and on meta, and meta replays the routing of each cpu pass', async () => {
    const decodeCase = fc.record({
      model: moeModel,
      prompt: fc.integer({ min: 1, max: 4 }),
      generate: fc.integer({ min: 1, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(decodeCase, async ({ model: { config: drawn, run, seed }, prompt, generate }) => {
        const before = tf.memory().numTensors;
        const config = { ...drawn, context_length: prompt + generate };
        const request = { batch: run.batch, prompt, generate };
        const totals: bigint[] = [];
        for (const backend of ['cpu', 'meta'] as const) {
          const report = await verifyDecode({ config, request, backend, seed });
          expect(report.prefill.matmuls.mismatches).toEqual([]);
          for (const step of report.steps) {
            expect(step.matmuls.mismatches).toEqual([]);
            expect(step.work.mismatches).toEqual([]);
            // One new token per sequence: k rows per sequence over the E experts.
            expect(step.routing?.layers.map((layer) => layer.tracedRows)).toEqual(
              step.routing?.layers.map(() => run.batch * config.experts_per_token!),
            );
          }
          expect(report.ok).toBe(true);
          // Each pass at its own tokens: the closed form's forward FLOPs at P tokens, then at 1 token
          // per step (the core over the cached keys apart), so the totals match across routings.
          expect(report.prefill.matmuls.tracedTotal).toBe(forwardFlops(config, { batch: run.batch, seq: prompt }));
          totals.push([report.prefill, ...report.steps].reduce((total, pass) => total + pass.matmuls.tracedTotal, 0n));
        }
        expect(totals[1]).toBe(totals[0]);

        // meta, handed the rows each cpu pass routed, traces the very kernels of every pass.
        const onCpu = await traceDecode({ config, request, backend: 'cpu', seed });
        const cpuPasses = [onCpu.prefill, ...onCpu.steps];
        const routings = cpuPasses.map((pass) => pass.routing!);
        const onMeta = await traceDecode({ config, request, backend: 'meta', seed, routings });
        expect([onMeta.prefill, ...onMeta.steps].map((pass) => pass.records.map(recordSignature))).toEqual(
          cpuPasses.map((pass) => pass.records.map(recordSignature)),
        );
        expect((await verifyDecode({ config, request, backend: 'meta', seed, routings })).ok).toBe(true);
        expect(tf.memory().numTensors).toBe(before);
      }),
      { numRuns: 20, seed: 15_1515 },
    );
  });
});

describe('verify names the rows each expert got', () => {
  beforeAll(() => {
    registerMetaBackend();
  });

  it('in the table at depth 2 and in the JSON, for Mixtral cut to one layer on meta', async () => {
    const argv = ['verify', 'mixtral-8x7b', '--backend', 'meta', '--layers', '1', '--seq', '16', '--depth', '2'];
    const text = await cli(...argv);
    expect(text.code).toBe(0);
    // The documented assignment: 16 tokens x 2 experts over 8 experts, 4 rows each.
    expect(text.stdout).toMatch(/layers\.0\.moe\s*│\s*4, 4, 4, 4, 4, 4, 4, 4\s*│\s*32\s*│\s*32\s*│ ✓ exact/);
    const json = await cliJson(...argv);
    expect(json.routing.layers).toEqual([
      { path: 'layers.0.moe', expert_rows: [4, 4, 4, 4, 4, 4, 4, 4], rows: 32, expected_rows: 32, match: true },
    ]);
    expect(json.routing.mismatches).toEqual([]);
  });
});

describe('mixture of experts on wasm', () => {
  // Off on wasm: a clone copies there, so the loss's kept logits count as a leak (src/model/cross_entropy.ts).
  beforeAll(() => {
    tf.env().set('IS_TEST', false);
  });

  it('routes for real and verifies exactly, forward and training step', async () => {
    const forward = await verifyModel({ config: planted, run: plantedRun, backend: 'wasm', seed: 3 });
    expect(forward.ok).toBe(true);
    expect(forward.matmuls.tracedTotal).toBe(forwardFlops(planted, plantedRun));
    const training = await verifyTraining({ config: planted, run: plantedRun, backend: 'wasm', seed: 3 });
    expect(training.backward.mismatches).toEqual([]);
    expect(training.ok).toBe(true);
    expect(training.total.backward).toBe(2n * forwardFlops(planted, plantedRun));
    expect(training.optimizer.traced).toBe(14n * parameters(planted));
    expect(Number.isFinite(training.loss)).toBe(true);
  });
});
