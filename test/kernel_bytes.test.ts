/**
 * Traced bytes per kernel against the analytic bytes (src/analytic/bytes.ts), like the FLOPs:
 * a hand-worked model, random configs across the dense feature space on cpu and meta, and planted
 * faults on either side.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardKernelCosts, type KernelCost } from '../src/analytic/index.js';
import { recordBytes } from '../src/core/byte_rules.js';
import type { KernelRecord } from '../src/core/kernel_record.js';
import { traceForward } from '../src/runtime/traced_run.js';
import { compareKernelBytes, describeBytesMismatch } from '../src/verify/bytes_check.js';
import { verifyModel } from '../src/verify/verify_model.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { tinyConfig } from './helpers/small_configs.js';

const tiny = tinyConfig('tiny', 'test/kernel_bytes.test.ts');
const run = { batch: 2, seq: 4 };

describe('traced bytes of the hand-worked tiny model (V 11, d 8, F 12; B 2, T 4: 8 tokens)', () => {
  it('reads each input once and writes each output once, weights apart, by dtype', async () => {
    const traced = await traceForward({ config: tiny, run, backend: 'meta' });
    const lmHead = traced.records.find((record) => record.path === 'lm_head' && record.matmul !== undefined)!;
    // x [8, 8] and W [8, 11] in float32, out [8, 11]
    expect(recordBytes(lmHead)).toMatchObject({ readWeights: 8n * 11n * 4n, readActivations: 8n * 8n * 4n });
    expect(recordBytes(lmHead).written).toBe(8n * 11n * 4n);
    const gather = traced.records.find((record) => record.kernel === 'GatherV2')!;
    // the 8 rows it gathers of the [11, 8] table, and 8 int32 ids
    expect(recordBytes(gather)).toMatchObject({ readWeights: 8n * 8n * 4n, readActivations: 8n * 4n });
    expect(recordBytes(gather).byDtype).toEqual(
      new Map([
        ['float32', 2n * 8n * 8n * 4n],
        ['int32', 8n * 4n],
      ]),
    );
    const offset = traced.records.find((record) => record.kernel === 'Sub' && record.path === 'layers.0.attn.scores')!;
    // positions [1, 4] and [4, 1] (float32, exact integers), their offsets [4, 4] out
    expect(recordBytes(offset)).toMatchObject({ readActivations: 8n * 4n, written: 16n * 4n });
    const greater = traced.records.find((record) => record.kernel === 'Greater')!;
    // the offsets [4, 4] and the scalar 0, a bool [4, 4] out
    expect(recordBytes(greater)).toMatchObject({ readActivations: 16n * 4n + 4n, written: 16n });
  });

  it('matches the analytic bytes kernel by kernel, and the verifier says so', async () => {
    const report = await verifyModel({ config: tiny, run, backend: 'meta' });
    expect(report.bytes.mismatches).toEqual([]);
    expect(report.bytes.ok).toBe(true);
    // 9 matmuls per layer x 2 + lm_head, and every listed non-matmul kernel
    expect(report.bytes.kernels).toBe(forwardKernelCosts(tiny, run, 'fp32').kernels.length);
    expect(report.ok).toBe(true);
  });
});

describe('planted faults', () => {
  it('catches an analytic list that reads a weight twice', async () => {
    const list = forwardKernelCosts(tiny, run, 'fp32');
    const planted = list.kernels.map((kernel): KernelCost =>
      kernel.path === 'layers.1.ffn.w2' && kernel.matmul
        ? { ...kernel, read: { ...kernel.read, weights: 2n * kernel.read.weights } }
        : kernel,
    );
    const report = await verifyModel({
      config: tiny,
      run,
      backend: 'meta',
      kernelBytes: { ...list, kernels: planted },
    });
    expect(report.ok).toBe(false);
    expect(report.bytes.mismatches.map((check) => check.path)).toEqual(['layers.1.ffn.w2']);
    expect(describeBytesMismatch(report.bytes.mismatches[0]!)).toBe(
      'layers.1.ffn.w2: bytes: expected MatMul (reads 768 B of weights, 384 B of activations; writes 256 B); ' +
        'traced MatMul (reads 384 B of weights, 384 B of activations; writes 256 B)',
    );
  });

  it('catches a traced kernel that moved other bytes, and one that should not be there', async () => {
    const traced = await traceForward({ config: tiny, run, backend: 'meta' });
    const list = forwardKernelCosts(tiny, run, 'fp32');
    const softmax = traced.records.findIndex((record) => record.kernel === 'Softmax');
    const widened: KernelRecord[] = traced.records.map((record, index) =>
      index === softmax ? { ...record, outputs: [{ shape: [2, 2, 4, 8], dtype: 'float32' }] } : record,
    );
    expect(compareKernelBytes(list, widened).mismatches.map((check) => check.path)).toEqual(['layers.0.attn.softmax']);
    const doubled = [...traced.records, { ...traced.records[softmax]!, index: traced.records.length }];
    const extra = compareKernelBytes(list, doubled).mismatches;
    expect(extra.map((check) => [check.path, check.extra.length, check.missing.length])).toEqual([
      ['layers.0.attn.softmax', 1, 0],
    ]);
  });
});

describe('random configs across the dense feature space', () => {
  beforeAll(() => {
    tf.env().set('IS_TEST', true);
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  const denseRun = arbitraryDenseRun({
    source: 'test/kernel_bytes.test.ts',
    batchMax: 2,
    seqMax: 5,
    spareContextMax: 2,
    seedMax: 1000,
  });

  it.each(['cpu', 'meta'] as const)('every traced kernel moves the analytic bytes on %s', async (backend) => {
    await fc.assert(
      fc.asyncProperty(denseRun, async ({ config, run: shape, seed }) => {
        const report = await verifyModel({ config, run: shape, backend, seed });
        expect(report.bytes.mismatches.map(describeBytesMismatch)).toEqual([]);
        expect(report.bytes.kernels).toBe(forwardKernelCosts(config, shape, 'fp32').kernels.length);
        expect(tf.memory().numTensors).toBe(0);
      }),
      { numRuns: 30, seed: 18_2026 },
    );
  });
});
