/**
 * Decoding with a latent cache: a prefill caches each layer's latent c_KV (r values) and rope key
 * k_R (dr values) per position, nothing per head, and every decode step attends over them in the
 * absorbed form. The trace of the prefill and of every step equals the formulas exactly on cpu,
 * meta traces what cpu traces, and a cache of decompressed per-head keys and values is caught.
 *
 * The closed forms are written from the architecture, not from src/analytic. A step of N new
 * tokens per sequence over P cached ones, B sequences, H heads, dqk = dn + dr, K = P + N keys:
 *   per layer  query 2BN (d rq + rq H dqk) (or 2BN d H dqk), kv_down 2BN d (r + dr),
 *              absorb_k 2BN H dn r, scores 2BH N K (r + dr), weighted sum 2BH N K r,
 *              absorb_v 2BN H r dv, o_proj 2BN H dv d, SwiGLU 6BN d F
 *   lm_head    2BN d V
 * and the fp32 cache after t positions: 4 B L t (r + dr) bytes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { arbitraryLatentDims, latentConfig, smallLatentDims, untimed } from './helpers/latent_models.js';

import { decodeMatmulInventory } from '../src/analytic/inference/decode.js';
import { loadModelConfig } from '../src/config/index.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { scope } from '../src/core/scope.js';
import { attentionCore, cachedAttentionCore, mergeHeads, splitHeads, type CachedKeys } from '../src/model/attention.js';
import type { ModelParts } from '../src/model/index.js';
import { traceDecode } from '../src/runtime/traced_decode.js';
import { verifyDecode } from '../src/verify/verify_decode.js';
import { decodeVerificationReport } from '../src/views/verify_decode_report.js';
import { cliJson } from './helpers/cli_runner.js';

const SOURCE = 'test/mla_decode.test.ts';

const big = (value: number | undefined) => BigInt(value ?? 0);

/** Matmul FLOPs of one pass of N tokens per sequence over P cached positions, by the file comment. */
function stepFlops(config: ModelConfig, batch: number, cached: number, tokens: number): bigint {
  const [L, d, H, F, V] = [config.num_layers, config.d_model, config.num_heads, config.d_ff, config.vocab_size].map(
    big,
  ) as [bigint, bigint, bigint, bigint, bigint];
  const [r, dr, dn, dv] = [
    config.kv_lora_rank,
    config.qk_rope_head_dim,
    config.qk_nope_head_dim,
    config.v_head_dim,
  ].map(big) as [bigint, bigint, bigint, bigint];
  const [B, P, N] = [big(batch), big(cached), big(tokens)];
  const dqk = dn + dr;
  const K = P + N;
  const rq = config.q_lora_rank;
  const query = rq === undefined ? 2n * B * N * d * H * dqk : 2n * B * N * (d * big(rq) + big(rq) * H * dqk);
  const layer =
    query +
    2n * B * N * d * (r + dr) +
    2n * B * N * H * dn * r +
    2n * B * H * N * K * (r + dr) +
    2n * B * H * N * K * r +
    2n * B * N * H * r * dv +
    2n * B * N * H * dv * d +
    6n * B * N * d * F;
  return L * layer + 2n * B * N * d * V;
}

/** The prefill: the forward pass over the P prompt tokens, every head's key and value rebuilt from the latent. */
function prefillFlops(config: ModelConfig, batch: number, prompt: number): bigint {
  const [L, d, H, F, V] = [config.num_layers, config.d_model, config.num_heads, config.d_ff, config.vocab_size].map(
    big,
  ) as [bigint, bigint, bigint, bigint, bigint];
  const [r, dr, dn, dv] = [
    config.kv_lora_rank,
    config.qk_rope_head_dim,
    config.qk_nope_head_dim,
    config.v_head_dim,
  ].map(big) as [bigint, bigint, bigint, bigint];
  const [B, T] = [big(batch), big(prompt)];
  const N = B * T;
  const dqk = dn + dr;
  const rq = config.q_lora_rank;
  const query = rq === undefined ? 2n * N * d * H * dqk : 2n * N * (d * big(rq) + big(rq) * H * dqk);
  const layer =
    query +
    2n * N * d * (r + dr) +
    2n * N * r * H * (dn + dv) +
    2n * B * H * T * T * (dqk + dv) +
    2n * N * H * dv * d +
    6n * N * d * F;
  return L * layer + 2n * N * d * V;
}

/** fp32 bytes of the latent cache after `context` positions. */
const latentCacheBytes = (config: ModelConfig, batch: number, context: number) =>
  4n * big(batch) * big(config.num_layers) * big(context) * (big(config.kv_lora_rank) + big(config.qk_rope_head_dim));

const latentModel = fc
  .record({
    dims: arbitraryLatentDims({ vocab: 12, d: 8, nope: 3, value: 4, kvRank: 5, qRank: 4, ffn: 6 }),
    batch: fc.integer({ min: 1, max: 2 }),
    prompt: fc.integer({ min: 1, max: 3 }),
    generate: fc.integer({ min: 1, max: 3 }),
    newTokens: fc.integer({ min: 1, max: 2 }),
  })
  .map(({ dims, ...request }) => ({
    config: latentConfig(dims, request.prompt + request.generate * request.newTokens, SOURCE),
    request,
  }));

describe('decoding over a latent cache, traced', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('random configs: prefill and every step exact on cpu, cache bytes as the closed form; meta traces what cpu traces', async () => {
    let verified = 0;
    await fc.assert(
      fc.asyncProperty(latentModel, async ({ config, request }) => {
        await tf.setBackend('cpu');
        const before = tf.memory().numTensors;
        const checked = await verifyDecode({ config, request, backend: 'cpu' });
        expect(checked.ok).toBe(true);
        const { batch: B, prompt: P, newTokens: N } = request;
        expect(checked.prefill.matmuls.tracedTotal).toBe(prefillFlops(config, B, P));
        expect(checked.prefill.cache.measured).toBe(latentCacheBytes(config, B, P));
        checked.steps.forEach((step, j) => {
          expect(step.cached).toBe(P + j * N);
          expect(step.matmuls.tracedTotal).toBe(stepFlops(config, B, step.cached, N));
          expect(step.cache.measured).toBe(latentCacheBytes(config, B, step.cached + N));
        });
        expect(tf.memory().numTensors).toBe(before);
        const onMeta = await verifyDecode({ config, request, backend: 'meta' });
        expect(onMeta.ok).toBe(true);
        const [cpu, meta] = [
          await traceDecode({ config, request, backend: 'cpu' }),
          await traceDecode({ config, request, backend: 'meta' }),
        ];
        for (const [cpuPass, metaPass] of [
          [cpu.prefill, meta.prefill] as const,
          ...cpu.steps.map((s, j) => [s, meta.steps[j]!] as const),
        ]) {
          expect(untimed(metaPass.records)).toEqual(untimed(cpuPass.records));
          expect(metaPass.cacheBytes).toBe(cpuPass.cacheBytes);
        }
        await tf.setBackend('cpu');
        expect(tf.memory().numTensors).toBe(before);
        verified += 1;
      }),
      { numRuns: 12, seed: 161_803 },
    );
    expect(verified).toBe(12);
  }, 240_000);

  it('prefill and steps of one and of two tokens verify exactly on wasm, with and without a query latent', async () => {
    const base = latentConfig(smallLatentDims, 8, SOURCE);
    for (const config of [base, { ...base, q_lora_rank: 3 }]) {
      for (const newTokens of [1, 2]) {
        const request = { batch: 2, prompt: 2, generate: 3, newTokens };
        const checked = await verifyDecode({ config, request, backend: 'wasm' });
        expect(checked.backend.name).toBe('wasm');
        expect(checked.ok).toBe(true);
        checked.steps.forEach((step) =>
          expect(step.matmuls.tracedTotal).toBe(stepFlops(config, 2, step.cached, newTokens)),
        );
      }
    }
    await tf.setBackend('cpu');
  }, 120_000);

  it('verify <latent config> --decode on meta: exact, a step at the closed form, the latent cache per token', async () => {
    // L 2, d 16, H 4, rq 6, r 8, dr 4, dn 6, dv 5, F 12, V 20; prompt 6, 3 steps.
    const config = {
      vocab_size: 20,
      context_length: 16,
      num_layers: 2,
      d_model: 16,
      num_heads: 4,
      d_ff: 12,
      q_lora_rank: 6,
      kv_lora_rank: 8,
      qk_rope_head_dim: 4,
      qk_nope_head_dim: 6,
      v_head_dim: 5,
    };
    const file = join(mkdtempSync(join(tmpdir(), 'flopledger-mla-')), 'latent.json');
    writeFileSync(file, JSON.stringify(config));
    const json = await cliJson(
      'verify',
      file,
      '--backend',
      'meta',
      '--decode',
      '--prompt',
      '6',
      '--generate',
      '3',
      '--quiet',
    );
    const model = { name: 'latent', source: file, ...config };
    expect(json.ok).toBe(true);
    expect(json.passes).toHaveLength(4);
    expect(json.passes[0].matmuls.traced_total).toBe(prefillFlops(model, 1, 6).toString());
    expect(json.passes[3].matmuls.traced_total).toBe(stepFlops(model, 1, 8, 1).toString());
    // After 9 positions: 4 bytes x 2 layers x 9 x (8 + 4) = 864, where K and V per head would be 9 x 2 x 4 x (10 + 5) x 4 = 4,320.
    expect(json.passes[3].cache).toEqual({ context: 9, formula_bytes: '864', measured_bytes: '864' });
  }, 60_000);
});

describe('DeepSeek-V3 decoding in the absorbed form, by hand', () => {
  it('one token at context 4,097: core 61 x 2 x 128 x (2 x 512 + 64) x 4,097, latent projections per layer by hand', () => {
    // models/deepseek-v3.json: L 61, d 7168, H 128, rq 1536, r 512, dr 64, dn 128, dv 128.
    const rows = decodeMatmulInventory(loadModelConfig('deepseek-v3'), { batch: 1, cached: 4096, newTokens: 1 });
    const total = (component: string) =>
      rows.filter((row) => row.component === component).reduce((sum, row) => sum + row.flops, 0n);
    expect(total('attention_core')).toBe(61n * 2n * 128n * (2n * 512n + 64n) * 4097n);
    expect(total('attention_core')).toBe(69_608_882_176n);
    // q_down 2 d rq, q_up 2 rq H (dn + dr), kv_down 2 d (r + dr), absorb_k 2 H dn r, absorb_v 2 H r dv.
    const perLayer =
      2n * 7168n * 1536n +
      2n * 1536n * 128n * 192n +
      2n * 7168n * 576n +
      2n * 128n * 128n * 512n +
      2n * 128n * 512n * 128n;
    expect(total('latent_projections')).toBe(61n * perLayer);
    expect(rows.some((row) => row.path.endsWith('.attn.kv_up'))).toBe(false);
  });
});

/**
 * The fault: the cache keeps every head's decompressed key (dn + dr) and value (dv), as
 * transformers' DynamicCache does with DeepseekV3Attention, and each step runs kv_up over its new
 * tokens only. Written here from the model's pieces; a full-rank query keeps it short.
 */
const decompressedCache: ModelParts['latentAttention'] = (x, weights, heads, rope, parts, core, norm, cache) => {
  const [B, T] = x.shape;
  const { heads: H, nope: dn, rope: dr, value: dv } = heads;
  const q = splitHeads(
    scope('q_proj', () => parts.linear(x, weights.q_proj!)),
    H,
  ); // (B, H, T, dqk)
  const [queryNope, queryRope] = tf.split<tf.Tensor4D>(q, [dn, dr], 3);
  const compressed = scope('kv_down', () => parts.linear(x, weights.kv_down!)); // (B, T, r + dr)
  const r = compressed.shape[2] - dr;
  const [latent, ropeKey] = tf.split<tf.Tensor3D>(compressed, [r, dr], 2);
  const normed = scope('kv_latent_norm', () => norm(latent!, weights.kv_latent_norm!, undefined)); // (B, T, r)
  const oneHead = tf.reshape<tf.Rank.R4>(ropeKey!, [B, 1, T, dr]); // (B, 1, T, dr)
  const [queryRotated, keyRotated] = scope('rope', () => [parts.rope(queryRope!, rope), parts.rope(oneHead, rope)]);
  const perHead = splitHeads(
    scope('kv_up', () => parts.linear(normed, weights.kv_up!)),
    H,
  ); // (B, H, T, dn + dv)
  const [keyNope, values] = tf.split<tf.Tensor4D>(perHead, [dn, dv], 3);
  const fresh: CachedKeys = { k: tf.concat([keyNope!, tf.tile(keyRotated, [1, H, 1, 1])], 3), v: values! }; // (B, H, T, dqk), (B, H, T, dv)
  const past = cache?.past as CachedKeys | undefined;
  const all: CachedKeys =
    past === undefined ? fresh : { k: tf.concat([past.k, fresh.k], 2), v: tf.concat([past.v, fresh.v], 2) }; // (B, H, C, .)
  const query = tf.concat([queryNope!, queryRotated], 3); // (B, H, T, dqk)
  const C = all.k.shape[2];
  const weighted =
    past === undefined
      ? attentionCore(query, all.k, all.v, parts, core)
      : cachedAttentionCore(query, all.k, all.v, parts, core, cache!.start, cache!.start + T - C); // (B, H, T, dv)
  if (cache !== undefined) cache.present = { k: tf.keep(all.k), v: tf.keep(all.v) };
  return scope('output_proj', () => parts.linear(mergeHeads(weighted), weights.output_proj)); // (B, T, d)
};

describe('a planted latent-cache fault', () => {
  it('a cache of decompressed per-head keys and values is caught: its bytes and every latent step matmul', async () => {
    // L 1, d 6, H 2, dn 2, dr 2, dv 3, r 4, F 5, V 7, full-rank query; batch 1, prompt 3, 1 step.
    const config: ModelConfig = {
      name: 'planted',
      source: SOURCE,
      vocab_size: 7,
      context_length: 6,
      num_layers: 1,
      d_model: 6,
      num_heads: 2,
      d_ff: 5,
      kv_lora_rank: 4,
      qk_rope_head_dim: 2,
      qk_nope_head_dim: 2,
      v_head_dim: 3,
    };
    const request = { batch: 1, prompt: 3, generate: 1 };
    expect((await verifyDecode({ config, request, backend: 'cpu' })).ok).toBe(true);
    const verified = await verifyDecode({
      config,
      request,
      backend: 'cpu',
      parts: { latentAttention: decompressedCache },
    });
    expect(verified.ok).toBe(false);
    // The prefill computes what the naive forward pass computes; only its cache is wrong:
    // 3 positions x 2 heads x (4 + 3) x 4 bytes = 168 where the latent and rope key take 3 x (4 + 2) x 4 = 72.
    expect(verified.prefill.matmuls.ok).toBe(true);
    expect(verified.prefill.cache).toEqual({ context: 3, formula: 72n, measured: 168n });
    expect(verified.steps[0]!.cache).toEqual({ context: 4, formula: 96n, measured: 224n });
    // The step: kv_up on the 1 new token replaces absorb_k (2 heads x [1,2] x [2,4] = 32 FLOPs) and
    // absorb_v (2 x [1,4] x [4,3] = 48) with [1,4] x [4,10] = 80; the core runs per head over dqk 4
    // and dv 3 rather than the latent's r + dr = 6 and r = 4 (2 x 2 x 1 x 4 keys x 6 = 96 against 64;
    // 2 x 2 x 4 x 4 = 64 against 48).
    expect(decodeVerificationReport(verified, 1).json.passes[1]!.mismatches).toEqual([
      'step 1: layers.0.attn.absorb_k: missing: expected [2,2] x [2,4] = 32 FLOPs; traced no matmul',
      'step 1: layers.0.attn.scores: shape: expected [2,6] x [6,4] = 96 FLOPs; traced BatchMatMul [2,4] x [4,4] = 64 FLOPs',
      'step 1: layers.0.attn.weighted_sum: shape: expected [2,4] x [4,4] = 64 FLOPs; traced BatchMatMul [2,4] x [4,3] = 48 FLOPs',
      'step 1: layers.0.attn.absorb_v: missing: expected [2,4] x [4,3] = 48 FLOPs; traced no matmul',
      'step 1: layers.0.attn.kv_up: extra: expected no matmul; traced BatchMatMul [1,4] x [4,10] = 80 FLOPs',
      'step 1: 10 matmul kernels traced, 11 expected',
      "step 1: kv cache: expected 96 bytes (the formula at context 4); the cache's tensors hold 224",
    ]);
  }, 60_000);
});
