/**
 * Planted faults in generation, each caught by `verify --decode`'s checks with its exact
 * mismatch report: a decode step that recomputes the whole prefix as queries, and a cache that
 * keeps every query head's keys and values rather than the key/value heads'.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { defaultModelParts, prefill, type CachedKeys } from '../src/model/index.js';
import type { DecodeStepFn } from '../src/runtime/traced_decode.js';
import { verifyDecode } from '../src/verify/verify_decode.js';
import { decodeVerificationReport } from '../src/views/verify_decode_report.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

const SOURCE = 'test/decode_planted_faults.test.ts';

/** The fault: no cache read at all; every step runs the model over the whole sequence so far. */
const recomputePrefix: DecodeStepFn = (config, weights, _cache, _ids, parts, history) =>
  prefill(config, weights, history, parts);

/** The fault: each key/value head repeated for its G query heads before it is cached, (B, H, C, dk). */
function everyQueryHead(groups: number) {
  const repeat = (x: tf.Tensor4D): tf.Tensor4D => {
    const [B, Hkv, C, dk] = x.shape;
    const perHead = tf.reshape<tf.Rank.R5>(x, [B, Hkv, 1, C, dk]); // (B, Hkv, 1, C, dk)
    return tf.reshape(tf.tile(perHead, [1, 1, groups, 1, 1]), [B, Hkv * groups, C, dk]); // (B, H, C, dk): head j*G + g
  };
  return (past: CachedKeys | undefined, fresh: CachedKeys, window: number | undefined): CachedKeys =>
    defaultModelParts.extendCache(past, { k: repeat(fresh.k), v: repeat(fresh.v) }, window);
}

describe('planted decode faults', () => {
  it('catches a step that recomputes the whole prefix as queries, matmul by matmul', async () => {
    // V 11, L 2, d 8, H 2 (dk 4), F 12, untied lm_head [8, 11]; batch 1, prompt 3, 2 steps.
    const config = tinyConfig('tiny', SOURCE);
    const verified = await verifyDecode({
      config,
      request: { batch: 1, prompt: 3, generate: 2 },
      backend: 'cpu',
      step: recomputePrefix,
    });
    expect(verified.ok).toBe(false);
    expect(verified.prefill.ok).toBe(true);
    const report = decodeVerificationReport(verified, 1);
    const lines = report.json.passes[1]!.mismatches;
    // Step 1 should project 1 token (2 x 1 x 8 x 8 = 128 FLOPs for q); the fault projects all 4.
    expect(lines).toContain(
      'step 1: layers.0.attn.q_proj: shape: expected [1,8] x [8,8] = 128 FLOPs; traced BatchMatMul [4,8] x [8,8] = 512 FLOPs',
    );
    // Its scores: 2 heads x 1 query over 4 keys (2 x 2 x 1 x 4 x 4 = 64) against 4 queries over 4 keys.
    expect(lines).toContain(
      'step 1: layers.0.attn.scores: shape: expected [2,4] x [4,4] = 64 FLOPs; traced BatchMatMul [8,4] x [4,4] = 256 FLOPs',
    );
    // lm_head at 5 positions in step 2 instead of 1: 2 x 5 x 8 x 11 = 880.
    expect(report.json.passes[2]!.mismatches).toContain(
      'step 2: lm_head: shape: expected [1,8] x [8,11] = 176 FLOPs; traced BatchMatMul [5,8] x [8,11] = 880 FLOPs',
    );
    // Every matmul of both steps (9 per layer and lm_head) is off; the cache still holds what the formula says.
    expect(verified.steps.map((step) => step.matmuls.mismatches.length)).toEqual([19, 19]);
    expect(verified.steps.every((step) => step.cache.measured === step.cache.formula)).toBe(true);
    expect(report.json.verdict).toMatch(/^NOT verified: prefill and 2 decode steps, 19 of 57 expected matmuls/);
  });

  it('catches a cache that keeps every query head by its bytes, though every matmul matches', async () => {
    // H 6 over Hkv 2 (G 3), dh 2, L 2; batch 1, prompt 3, 2 steps. fp32 K and V per position:
    // 2 x Hkv 2 x dh 2 x 4 bytes x 2 layers = 64; the fault keeps 3 times that.
    const config = everyVariantConfig(SOURCE);
    const verified = await verifyDecode({
      config,
      request: { batch: 1, prompt: 3, generate: 2 },
      backend: 'cpu',
      parts: { extendCache: everyQueryHead(3) },
    });
    expect(verified.ok).toBe(false);
    // Repeated heads score and weigh exactly as many rows as grouped ones: no matmul differs.
    expect([verified.prefill, ...verified.steps].every((pass) => pass.matmuls.ok)).toBe(true);
    const lines = decodeVerificationReport(verified, 1).json.passes.flatMap((pass) => pass.mismatches);
    expect(lines).toEqual([
      "prefill: kv cache: expected 192 bytes (the formula at context 3); the cache's tensors hold 576",
      "step 1: kv cache: expected 256 bytes (the formula at context 4); the cache's tensors hold 768",
      "step 2: kv cache: expected 320 bytes (the formula at context 5); the cache's tensors hold 960",
    ]);
  });
});
