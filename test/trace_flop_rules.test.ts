import { describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FLOP_RULES, nonMatmulFlops, ruleFor } from '../src/trace/index.js';
import type { Shaped } from '../src/trace/index.js';

const shaped = (...shapes: number[][]): Shaped[] => shapes.map((shape) => ({ shape }));

/** FLOPs of `kernel` with the given input and output shapes. */
function flopsOf(
  kernel: string,
  inputs: number[][],
  outputs: number[][],
  attrs: Record<string, unknown> = {},
): bigint | null {
  return nonMatmulFlops(kernel, shaped(...inputs), shaped(...outputs), attrs);
}

describe('the rule table', () => {
  test('covers the kernels the convention names, each in its category', () => {
    const categoryOf = (kernel: string) => ruleFor(kernel)?.category;
    for (const kernel of [
      'Add',
      'Sub',
      'Multiply',
      'RealDiv',
      'Neg',
      'Square',
      'Sqrt',
      'Rsqrt',
      'Exp',
      'Log',
      'Sigmoid',
      'Tanh',
      'Pow',
      'SquaredDifference',
      'Maximum',
      'Minimum',
      'Sin',
      'Cos',
      'Reciprocal',
      'Relu',
      'Abs',
      'Erf',
    ]) {
      expect(categoryOf(kernel), kernel).toBe('elementwise');
    }
    for (const kernel of ['Equal', 'Less', 'Greater', 'LogicalAnd', 'Select'])
      expect(categoryOf(kernel), kernel).toBe('comparison');
    for (const kernel of ['Sum', 'Max', 'Min', 'Prod', 'Mean']) expect(categoryOf(kernel), kernel).toBe('reduction');
    expect(categoryOf('Softmax')).toBe('softmax');
    for (const kernel of [
      'Reshape',
      'Transpose',
      'Slice',
      'StridedSlice',
      'Concat',
      'Pack',
      'Unpack',
      'GatherV2',
      'Cast',
      'Identity',
      'Fill',
      'Range',
      'Tile',
      'SplitV',
      'PadV2',
      'ZerosLike',
      'OnesLike',
    ]) {
      expect(categoryOf(kernel), kernel).toBe('data_movement');
      expect(ruleFor(kernel)?.formula, kernel).toBe('0 (data movement)');
      expect(flopsOf(kernel, [[2, 3]], [[3, 2]]), kernel).toBe(0n);
    }
  });

  test('every rule names a real tfjs kernel and says why in one line', () => {
    const kernelNames = tf as unknown as Record<string, unknown>;
    for (const [kernel, rule] of FLOP_RULES) {
      expect(kernelNames[kernel], `${kernel} is a tfjs kernel name`).toBe(kernel);
      expect(rule.kernel).toBe(kernel);
      expect(rule.why.length, kernel).toBeGreaterThan(20);
      expect(rule.why, kernel).not.toContain('\n');
      expect(rule.formula.length, kernel).toBeGreaterThan(0);
    }
  });

  test('a kernel without a rule has no rule and null FLOPs, never zero', () => {
    expect(ruleFor('MaxPool')).toBeUndefined();
    expect(flopsOf('MaxPool', [[1, 4, 4, 1]], [[1, 2, 2, 1]])).toBeNull();
    expect(flopsOf('NoSuchKernel', [], [])).toBeNull();
  });

  test('TopK costs k successive maxima of n - 1 comparisons per row', () => {
    // 3 rows of n = 4, k = 2: 3 * 2 * (4 - 1) = 18; k = 1 is one max, n - 1 per row.
    expect(
      flopsOf(
        'TopK',
        [[3, 4]],
        [
          [3, 2],
          [3, 2],
        ],
      ),
    ).toBe(18n);
    expect(
      flopsOf(
        'TopK',
        [[2, 5, 8]],
        [
          [2, 5, 1],
          [2, 5, 1],
        ],
      ),
    ).toBe(10n * 7n);
  });

  test('ruleFor returns the same rule the tracer applies, usable on shapes alone', () => {
    const softmax = ruleFor('Softmax');
    expect(softmax?.formula).toBe('5n - 2 per row of n (last axis)');
    expect(softmax?.flops(shaped([4, 10]), shaped([4, 10]), {})).toBe(4n * 48n);
  });
});

describe('rule values on hand-worked cases', () => {
  test('elementwise: one per output element, broadcasting included', () => {
    expect(flopsOf('Add', [[2, 3], [3]], [[2, 3]])).toBe(6n);
    expect(
      flopsOf(
        'Multiply',
        [
          [2, 3, 1],
          [1, 4],
        ],
        [[2, 3, 4]],
      ),
    ).toBe(24n);
    expect(flopsOf('Sigmoid', [[5]], [[5]])).toBe(5n);
    expect(flopsOf('Rsqrt', [[]], [[]])).toBe(1n);
    expect(
      flopsOf(
        'SquaredDifference',
        [
          [2, 2],
          [2, 2],
        ],
        [[2, 2]],
      ),
    ).toBe(4n);
    // Three [2, 2] tensors: two adds per element.
    expect(
      flopsOf(
        'AddN',
        [
          [2, 2],
          [2, 2],
          [2, 2],
        ],
        [[2, 2]],
      ),
    ).toBe(8n);
    expect(flopsOf('AddN', [[2, 2]], [[2, 2]])).toBe(0n);
  });

  test('comparisons and select: one per output element', () => {
    expect(flopsOf('Less', [[2, 3], []], [[2, 3]])).toBe(6n);
    expect(
      flopsOf(
        'Select',
        [
          [2, 3],
          [2, 3],
          [2, 3],
        ],
        [[2, 3]],
      ),
    ).toBe(6n);
  });

  test('reductions: input size - output size combines; mean adds the divides', () => {
    // Two rows of 3: 2 adds each.
    expect(flopsOf('Sum', [[2, 3]], [[2]], { axis: [1] })).toBe(4n);
    expect(flopsOf('Sum', [[2, 3, 4]], [[]])).toBe(23n);
    // keepDims does not change the count.
    expect(flopsOf('Sum', [[2, 3]], [[2, 1]], { axis: [1], keepDims: true })).toBe(4n);
    expect(flopsOf('Max', [[2, 3, 4]], [[2, 4]])).toBe(16n);
    expect(flopsOf('Prod', [[6]], [[]])).toBe(5n);
    // 4 adds + 2 divides.
    expect(flopsOf('Mean', [[2, 3]], [[2]])).toBe(6n);
    // 3 adds + 1 divide.
    expect(flopsOf('Mean', [[4]], [[]])).toBe(4n);
    // Reducing an empty axis combines nothing.
    expect(flopsOf('Sum', [[0, 3]], [[3]])).toBe(0n);
    // Each of the 4*3 data elements is added into its segment once.
    expect(flopsOf('UnsortedSegmentSum', [[4, 3], [4]], [[2, 3]], { numSegments: 2 })).toBe(12n);
    // ScatterNd(indices [5, 1], updates [5, 3]) into [8, 3]: each of the 15 update elements is added once.
    expect(
      flopsOf(
        'ScatterNd',
        [
          [5, 1],
          [5, 3],
        ],
        [[8, 3]],
        { shape: [8, 3] },
      ),
    ).toBe(15n);
  });

  test('softmax: 5n - 2 per row of n', () => {
    // 2 rows of 3: max 2, subtract 3, exp 3, sum 2, divide 3 = 13 each.
    expect(flopsOf('Softmax', [[2, 3]], [[2, 3]], { dim: 1 })).toBe(26n);
    // Attention scores [B=2, H=2, T=4, T=4]: 16 rows of 4, 18 each.
    expect(flopsOf('Softmax', [[2, 2, 4, 4]], [[2, 2, 4, 4]], { dim: 3 })).toBe(288n);
    // Rows of one: subtract, exp, divide.
    expect(flopsOf('Softmax', [[4, 1]], [[4, 1]], { dim: 1 })).toBe(12n);
  });

  test('scans: n - 1 per row, n - 2 when exclusive', () => {
    expect(flopsOf('Cumsum', [[2, 3]], [[2, 3]], { axis: 1, exclusive: false, reverse: false })).toBe(4n);
    expect(flopsOf('Cumsum', [[2, 3]], [[2, 3]], { axis: -1, exclusive: true, reverse: false })).toBe(2n);
    expect(flopsOf('Cumprod', [[4, 2]], [[4, 2]], { axis: 0, exclusive: false, reverse: true })).toBe(6n);
    expect(flopsOf('Cumsum', [[2, 3]], [[2, 3]], {})).toBeNull();
  });

  test('_FusedMatMul: the bias add and the activation, one pass over the output each', () => {
    const a = [1, 2, 3];
    const b = [1, 3, 4];
    const out = [1, 2, 4];
    expect(flopsOf('_FusedMatMul', [a, b, [4]], [out], { activation: 'relu' })).toBe(16n);
    expect(flopsOf('_FusedMatMul', [a, b, [4]], [out], { activation: 'linear' })).toBe(8n);
    expect(flopsOf('_FusedMatMul', [a, b], [out], { activation: 'linear' })).toBe(0n);
    expect(flopsOf('_FusedMatMul', [a, b], [out], { activation: 'sigmoid' })).toBe(8n);
    // Prelu weights are the third input when there is no bias, the fourth when there is.
    expect(flopsOf('_FusedMatMul', [a, b, [4]], [out], { activation: 'prelu' })).toBe(8n);
    expect(flopsOf('_FusedMatMul', [a, b, [4], [4]], [out], { activation: 'prelu' })).toBe(16n);
    expect(flopsOf('_FusedMatMul', [a, b], [out], { activation: 'gelu_new' })).toBeNull();
  });

  test('a plain matmul has no work besides its contraction', () => {
    expect(
      flopsOf(
        'BatchMatMul',
        [
          [3, 4],
          [4, 5],
        ],
        [[3, 5]],
        { transposeA: false, transposeB: false },
      ),
    ).toBe(0n);
  });
});
