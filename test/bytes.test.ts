import { describe, expect, it } from 'vitest';
import {
  arithmeticIntensity,
  forwardKernelCosts,
  forwardMatmulInventory,
  kernelBytes,
  matmulRowCost,
  nonMatmulEstimate,
  nonMatmulKernelCost,
  rational,
  summarizeParameters,
  type KernelCost,
} from '../src/analytic/index.js';
import { backwardMatmulInventory } from '../src/analytic/training/index.js';
import { trainingStepKernelCosts } from '../src/analytic/training/step_kernels.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

const tiny = tinyConfig('tiny', 'test:bytes');
const variants = everyVariantConfig('test:bytes');

function find(kernels: readonly KernelCost[], path: string, kernel: string, computes?: string): KernelCost {
  const match = kernels.find(
    (entry) =>
      entry.path === path && entry.kernel === kernel && (computes === undefined || entry.computes === computes),
  );
  if (match === undefined) throw new Error(`no ${kernel} at ${path}`);
  return match;
}

describe('bytes of a matmul row', () => {
  it('reads x and the weight once and writes y: tiny q_proj at B 1, T 4, fp32, worked by hand', () => {
    const row = forwardMatmulInventory(tiny, { batch: 1, seq: 4 }).find(
      (entry) => entry.path === 'layers.0.attn.q_proj',
    )!;
    const cost = matmulRowCost(row, tiny, 'fp32');
    // x [1, 4, 8]: 32 elements x 4 bytes; Wq [8, 8]: 64 x 4; y [1, 4, 8]: 32 x 4
    expect(cost.read).toEqual({ weights: 256n, activations: 128n, kvCache: 0n });
    expect(cost.written).toEqual({ weights: 0n, activations: 128n, kvCache: 0n });
    // 2 x 4 x 8 x 8 = 512 FLOPs over 512 bytes
    expect(arithmeticIntensity(cost.flops, kernelBytes(cost))).toEqual(rational(1n));
  });

  it('reads each key and value head once under grouped-query attention (H 6, Hkv 2, dk 2)', () => {
    const run = { batch: 2, seq: 5 };
    const rows = forwardMatmulInventory(variants, run);
    const scores = matmulRowCost(
      rows.find((entry) => entry.path === 'layers.1.attn.scores')!,
      variants,
      'bf16',
    );
    // q [2, 6, 5, 2] = 120 elements, k [2, 2, 5, 2] = 40 (not 120): 160 x 2 bytes; scores [2, 6, 5, 5] = 300 x 2
    expect(scores.read).toEqual({ weights: 0n, activations: 320n, kvCache: 0n });
    expect(scores.written.activations).toBe(600n);
    const weighted = matmulRowCost(
      rows.find((entry) => entry.path === 'layers.1.attn.weighted_sum')!,
      variants,
      'bf16',
    );
    // P [2, 6, 5, 5] = 300, v [2, 2, 5, 2] = 40: 340 x 2; out [2, 6, 5, 2] = 120 x 2
    expect(weighted.read.activations).toBe(680n);
    expect(weighted.written.activations).toBe(240n);
  });

  it('reads, per forward pass, exactly the matmul weights once: (attention + FFN + lm_head) parameters x width', () => {
    const run = { batch: 3, seq: 7 };
    const matmuls = forwardMatmulInventory(tiny, run).map((row) => matmulRowCost(row, tiny, 'bf16'));
    const { attention, ffn, lm_head } = summarizeParameters(tiny).byComponent;
    const weightsRead = matmuls.reduce((total, cost) => total + cost.read.weights, 0n);
    expect(weightsRead).toBe((attention + ffn + lm_head) * 2n);
    expect(matmuls.every((cost) => cost.read.kvCache === 0n && cost.written.kvCache === 0n)).toBe(true);
  });

  it('writes a weight-sized gradient for dW and reads the shared k for dq (backward rows)', () => {
    const run = { batch: 2, seq: 5 };
    const rows = backwardMatmulInventory(variants, run);
    const dW = rows.find((row) => row.path === 'layers.0.ffn.w1' && row.gradient === 'weight')!;
    const dWCost = matmulRowCost(dW, variants, 'fp32');
    // x^T [12, 10] and dy [10, 10] read (activations); dW1 [12, 10] written as a weight's size
    expect(dWCost.read).toEqual({ weights: 0n, activations: (120n + 100n) * 4n, kvCache: 0n });
    expect(dWCost.written).toEqual({ weights: 120n * 4n, activations: 0n, kvCache: 0n });
    const dx = rows.find((row) => row.path === 'layers.0.ffn.w1' && row.gradient === 'input')!;
    // dy [10, 10] activations, W1^T [10, 12] weight, dx [10, 12]
    expect(matmulRowCost(dx, variants, 'fp32').read).toEqual({ weights: 480n, activations: 400n, kvCache: 0n });
    const dq = rows.find((row) => row.path === 'layers.0.attn.scores' && row.operand === 'q')!;
    // dS [2, 6, 5, 5] = 300 and k [2, 2, 5, 2] = 40 (each k head once)
    expect(matmulRowCost(dq, variants, 'fp32').read.activations).toBe((300n + 40n) * 4n);
  });
});

describe('bytes of the non-matmul kernels', () => {
  const run = { batch: 2, seq: 3 };
  const kernels = nonMatmulEstimate(variants, run).kernels.map((kernel) => nonMatmulKernelCost(kernel, 'bf16'));

  it('reads the gathered embedding rows and int32 ids, not the whole table', () => {
    const gather = find(kernels, 'token_embeddings', 'GatherV2');
    // rows [2, 3, 12] = 72 x 2 bytes of the [16, 12] table; ids [2, 3] = 6 x 4 bytes
    expect(gather.read).toEqual({ weights: 144n, activations: 24n, kvCache: 0n });
    expect(gather.written.activations).toBe(144n);
    expect(find(kernels, 'position_embeddings', 'Slice').read).toEqual({ weights: 72n, activations: 0n, kvCache: 0n });
  });

  it('takes int32 positions to an int32 offset, compares it into a bool mask, and selects by it', () => {
    const offset = find(kernels, 'layers.0.attn.scores', 'Sub');
    // positions [1, 3] and [3, 1]: 6 x 4 bytes, whatever the dtype of the floats; offset [3, 3]: 9 x 4 bytes
    expect(offset.read.activations).toBe(24n);
    expect(offset.written.activations).toBe(36n);
    const greater = find(kernels, 'layers.0.attn.scores', 'Greater');
    // the offset 9 x 4 bytes and the scalar 0 (4 bytes); mask [3, 3]: 9 x 1 byte
    expect(greater.read.activations).toBe(36n + 4n);
    expect(greater.written.activations).toBe(9n);
    // mask 9 x 1 byte, two fills 9 x 2 bytes each; output 9 x 2
    expect(find(kernels, 'layers.0.attn.scores', 'Select').read.activations).toBe(9n + 36n);
  });

  it('reads a norm gain and a bias as weights', () => {
    const gain = find(kernels, 'layers.0.ln1', 'Multiply', '* gain');
    // x [2, 3, 12] = 72 x 2 bytes, gain [12] x 2
    expect(gain.read).toEqual({ weights: 24n, activations: 144n, kvCache: 0n });
    expect(find(kernels, 'layers.0.ln1', 'Add', '+ bias').read.weights).toBe(24n);
  });

  it('counts softmax as one read and one write of the scores', () => {
    const softmax = find(kernels, 'layers.0.attn.softmax', 'Softmax');
    // scores [2, 6, 3, 3] = 108 x 2 bytes each way; 108/3 rows x (5 x 3 - 2) = 468 FLOPs
    expect(kernelBytes(softmax)).toBe(432n);
    expect(softmax.flops).toBe(468n);
  });
});

describe('kernel lists', () => {
  it('lists every forward matmul and every estimated non-matmul kernel once', () => {
    const run = { batch: 1, seq: 4 };
    const list = forwardKernelCosts(tiny, run, 'fp32');
    expect(list.kernels.filter((kernel) => kernel.matmul)).toHaveLength(forwardMatmulInventory(tiny, run).length);
    expect(list.kernels.filter((kernel) => !kernel.matmul)).toHaveLength(nonMatmulEstimate(tiny, run).kernels.length);
    expect(list.omitted).toEqual([]);
  });

  it('adds the backward matmuls and one AdamW pass to a training step, and says what it leaves out', () => {
    const run = { batch: 2, seq: 4 };
    const step = trainingStepKernelCosts(tiny, run, 'bf16');
    const backward = backwardMatmulInventory(tiny, run);
    expect(step.kernels.filter((kernel) => kernel.matmul)).toHaveLength(
      forwardMatmulInventory(tiny, run).length + backward.length,
    );
    const adamw = find(step.kernels, 'optimizer', 'AdamW');
    const parameters = summarizeParameters(tiny).total;
    // bf16 gradient (2) + fp32 master weight, m, v (12) read; the three fp32 states and the bf16 copy written
    expect(adamw.read.weights).toBe(parameters * 14n);
    expect(adamw.written.weights).toBe(parameters * 14n);
    expect(adamw.flops).toBe(parameters * 14n);
    expect(step.omitted.join(' ')).toMatch(/backward pass's non-matmul kernels/);
  });
});
