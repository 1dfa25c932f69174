/**
 * The bare matmul calibration (src/timing/calibrate.ts) on wasm: a kept right operand is made
 * once, a fresh one for every product (so each product packs it), and nothing leaks either way.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../src/runtime/backend.js';
import { calibrateMatmul, type MatmulCalibration, type MatmulDispatch } from '../src/timing/calibrate.js';

const HEAD_SCORES: MatmulDispatch = { aShape: [32, 16], bShape: [16, 32], transposeA: false, transposeB: false };

async function profiledCalibration(rightOperand: 'kept' | 'fresh') {
  let calls = 0;
  const before = tf.memory().numTensors;
  let result: MatmulCalibration | undefined;
  const profile = await tf.profile(async () => {
    result = await calibrateMatmul(HEAD_SCORES, {
      synchronous: true,
      minTimeMs: 0,
      minRuns: 4,
      maxRuns: 4,
      warmupRuns: 1,
      rightOperand,
      onCall: () => calls++,
    });
    return [];
  });
  const count = (kernel: string) => profile.kernels.filter((k) => k.name === kernel).length;
  return {
    calls,
    fills: count('Fill'),
    products: count('BatchMatMul'),
    leaked: tf.memory().numTensors - before,
    result: result!,
  };
}

describe('calibrateMatmul on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('makes the right operand once when kept, once per product when fresh, and releases every tensor', async () => {
    const kept = await profiledCalibration('kept');
    const fresh = await profiledCalibration('fresh');
    // 1 warm-up + 4 timed products each; a and b filled once, or a once and b per product.
    expect([kept.calls, kept.products, kept.fills, kept.leaked]).toEqual([4, 5, 2, 0]);
    expect([fresh.calls, fresh.products, fresh.fills, fresh.leaked]).toEqual([4, 5, 6, 0]);
    // 2 * m * k * n, the same work either way.
    expect(kept.result.flops).toBe(2n * 32n * 16n * 32n);
    expect(fresh.result.flops).toBe(kept.result.flops);
    expect(fresh.result.label).toBe('[32,16] x [16,32]');
  });
});
