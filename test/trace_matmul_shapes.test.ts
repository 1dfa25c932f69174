import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  einsumContraction,
  isMatmulKernel,
  matmulFromKernel,
  nonMatmulFlops,
  traceKernels,
} from '../src/trace/index.js';
import type { KernelRecord, Shaped } from '../src/trace/index.js';

tf.enableProdMode();

// Every test releases what it makes: a leak here would show as a leak of the tracer's.
let tensorsBefore = 0;
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

const shaped = (...shapes: number[][]): Shaped[] => shapes.map((shape) => ({ shape }));

describe('matmulFromKernel from shapes alone', () => {
  test('BatchMatMul: m, k, n after transposes; batch from the output leading dims', () => {
    expect(
      matmulFromKernel('BatchMatMul', shaped([3, 4], [4, 5]), shaped([3, 5]), { transposeA: false, transposeB: false }),
    ).toEqual({ batch: 1, m: 3, k: 4, n: 5, flops: 120n });
    // x [B*T=6, d=8] @ W^T with W [16, 8]: 2 * 6*8*16.
    expect(
      matmulFromKernel('BatchMatMul', shaped([6, 8], [16, 8]), shaped([6, 16]), {
        transposeA: false,
        transposeB: true,
      }),
    ).toEqual({ batch: 1, m: 6, k: 8, n: 16, flops: 1536n });
    // q [B=2, H=3, T=4, dk=5] @ k^T: batch 6, m 4, k 5, n 4: 2 * 6*4*5*4.
    expect(
      matmulFromKernel('BatchMatMul', shaped([2, 3, 4, 5], [2, 3, 4, 5]), shaped([2, 3, 4, 4]), {
        transposeA: false,
        transposeB: true,
      }),
    ).toEqual({ batch: 6, m: 4, k: 5, n: 4, flops: 960n });
    expect(matmulFromKernel('BatchMatMul', shaped([1, 4, 5], [3, 5, 6]), shaped([3, 4, 6]), {})).toEqual({
      batch: 3,
      m: 4,
      k: 5,
      n: 6,
      flops: 720n,
    });
  });

  test('BatchMatMul with inconsistent shapes is unreadable, not guessed', () => {
    expect(matmulFromKernel('BatchMatMul', shaped([3, 4], [5, 6]), shaped([3, 6]), {})).toBeUndefined();
    expect(matmulFromKernel('BatchMatMul', shaped([3, 4], [4, 5]), shaped([3, 6]), {})).toBeUndefined();
    expect(matmulFromKernel('BatchMatMul', shaped([4], [4, 5]), shaped([5]), {})).toBeUndefined();
    expect(nonMatmulFlops('BatchMatMul', shaped([3, 4], [5, 6]), shaped([3, 6]), {})).toBeNull();
  });

  test('non-matmul kernels have no matmul', () => {
    expect(isMatmulKernel('BatchMatMul')).toBe(true);
    expect(isMatmulKernel('_FusedMatMul')).toBe(true);
    expect(isMatmulKernel('Conv2DBackpropFilter')).toBe(true);
    expect(isMatmulKernel('Softmax')).toBe(false);
    expect(isMatmulKernel('batchmatmul')).toBe(false);
    expect(matmulFromKernel('Add', shaped([3, 4], [3, 4]), shaped([3, 4]), {})).toBeUndefined();
  });

  test('two-operand einsum: 2 * product of the sizes of all distinct indices', () => {
    expect(
      einsumContraction('ij,jk->ik', [
        [3, 4],
        [4, 5],
      ]),
    ).toEqual({ batch: 1, m: 3, k: 4, n: 5, flops: 120n });
    // b is kept in both operands and the output: a batch index.
    expect(
      einsumContraction('bij,bjk->bik', [
        [2, 3, 4],
        [2, 4, 5],
      ]),
    ).toEqual({ batch: 2, m: 3, k: 4, n: 5, flops: 240n });
    // Attention scores as an einsum: b,h batch; t,s kept; d summed: 2 * 2*3*4*4*5.
    expect(
      einsumContraction('bhtd,bhsd->bhts', [
        [2, 3, 4, 5],
        [2, 3, 4, 5],
      ])?.flops,
    ).toBe(960n);
    // A dot product sums i: 2 * 5.
    expect(einsumContraction('i,i->', [[5], [5]])).toEqual({ batch: 1, m: 1, k: 5, n: 1, flops: 10n });
    // An outer product sums nothing, yet the convention still counts 2 per term: 2 * 3*4.
    expect(einsumContraction('i,j->ij', [[3], [4]])).toEqual({ batch: 1, m: 3, k: 1, n: 4, flops: 24n });
    // Implicit output (numpy rule: indices used once, sorted): ij,jk -> ik.
    expect(
      einsumContraction('ij,jk', [
        [3, 4],
        [4, 5],
      ])?.flops,
    ).toBe(120n);
    // An index summed inside one operand still counts: 2 * 2*3*4.
    expect(einsumContraction('ij,k->k', [[2, 3], [4]])?.flops).toBe(48n);
  });

  test('einsum that cannot be read is undefined: size clash, rank clash, ellipsis', () => {
    expect(
      einsumContraction('ij,jk->ik', [
        [3, 4],
        [5, 6],
      ]),
    ).toBeUndefined();
    expect(
      einsumContraction('ij,jk->ik', [
        [3, 4, 1],
        [4, 5],
      ]),
    ).toBeUndefined();
    expect(
      einsumContraction('...ij,jk->...ik', [
        [2, 3, 4],
        [4, 5],
      ]),
    ).toBeUndefined();
    expect(
      einsumContraction('ij,jk->iz', [
        [3, 4],
        [4, 5],
      ]),
    ).toBeUndefined();
    expect(nonMatmulFlops('Einsum', shaped([3, 4], [5, 6]), shaped([3, 6]), { equation: 'ij,jk->ik' })).toBeNull();
  });

  test('Conv2D as its im2col matmul: per image [outH*outW, kh*kw*inC] @ [kh*kw*inC, outC]', () => {
    // x [2,5,5,2], filter [3,3,2,4], same padding: y [2,5,5,4]; 2 * 2*25 * 18 * 4.
    expect(
      matmulFromKernel('Conv2D', shaped([2, 5, 5, 2], [3, 3, 2, 4]), shaped([2, 5, 5, 4]), { dataFormat: 'NHWC' }),
    ).toEqual({ batch: 2, m: 25, k: 18, n: 4, flops: 7200n });
    // The same conv in NCHW: x [2,2,5,5], y [2,4,5,5].
    expect(
      matmulFromKernel('Conv2D', shaped([2, 2, 5, 5], [3, 3, 2, 4]), shaped([2, 4, 5, 5]), { dataFormat: 'NCHW' })
        ?.flops,
    ).toBe(7200n);
    // Filter channels that do not match the input: unreadable.
    expect(matmulFromKernel('Conv2D', shaped([2, 5, 5, 3], [3, 3, 2, 4]), shaped([2, 5, 5, 4]), {})).toBeUndefined();
  });
});

describe('matmul counts of traced contraction kernels (cpu)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  function traceOne(fn: () => tf.Tensor | tf.Tensor[], kernel: string): KernelRecord[] {
    const { records } = traceKernels(() => tf.dispose(tf.tidy(fn)));
    return records.filter((record) => record.kernel === kernel);
  }

  test('Einsum kernels: two operands as a matmul, one operand as a non-matmul pass', () => {
    const [matmul] = traceOne(() => tf.einsum('ij,jk->ik', tf.ones([3, 4]), tf.ones([4, 5])), 'Einsum');
    expect(matmul?.attrs).toEqual({ equation: 'ij,jk->ik' });
    expect(matmul?.matmul).toEqual({ batch: 1, m: 3, k: 4, n: 5, flops: 120n });
    expect(matmul?.flops).toBe(0n);
    const [transpose] = traceOne(() => tf.einsum('ij->ji', tf.ones([3, 4])), 'Einsum');
    expect(transpose?.matmul).toBeUndefined();
    // One operand: the input's 12 elements.
    expect(transpose?.flops).toBe(12n);
  });

  test('Conv2D valid: x [1,5,5,2], filter [3,3,2,4] -> y [1,3,3,4]: 2 * 9 * 18 * 4', () => {
    const [conv] = traceOne(
      () => tf.conv2d(tf.ones<tf.Rank.R4>([1, 5, 5, 2]), tf.ones<tf.Rank.R4>([3, 3, 2, 4]), 1, 'valid'),
      'Conv2D',
    );
    expect(conv?.outputs[0]?.shape).toEqual([1, 3, 3, 4]);
    expect(conv?.matmul).toEqual({ batch: 1, m: 9, k: 18, n: 4, flops: 1296n });
  });

  test('Conv2D gradients cost what the forward conv costs: 1296 each', () => {
    const inputs = [tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 2, 4])];
    const { result, records } = traceKernels(() =>
      tf.grads((x: tf.Tensor, filter: tf.Tensor) =>
        tf.sum(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'valid')),
      )(inputs),
    );
    tf.dispose([...result, ...inputs]);
    const byKernel = new Map(
      records.filter((record) => record.matmul !== undefined).map((record) => [record.kernel, record]),
    );
    expect([...byKernel.keys()]).toEqual(['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
    // dx: dy [1,3,3,4] @ filter^T per image: m 9, k 4, n 18.
    expect(byKernel.get('Conv2DBackpropInput')?.matmul).toEqual({ batch: 1, m: 9, k: 4, n: 18, flops: 1296n });
    expect(byKernel.get('Conv2DBackpropInput')?.attrs['inputShape']).toEqual([1, 5, 5, 2]);
    // dW: cols^T [18, 9] @ dy [9, 4].
    expect(byKernel.get('Conv2DBackpropFilter')?.matmul).toEqual({ batch: 1, m: 18, k: 9, n: 4, flops: 1296n });
    expect(byKernel.get('Conv2DBackpropFilter')?.outputs[0]?.shape).toEqual([3, 3, 2, 4]);
  });

  test('DepthwiseConv2dNative: x [1,5,5,2], filter [3,3,2,3] -> y [1,3,3,6]: 2 * 9 * 6 * 9', () => {
    const [conv] = traceOne(
      () => tf.depthwiseConv2d(tf.ones<tf.Rank.R4>([1, 5, 5, 2]), tf.ones<tf.Rank.R4>([3, 3, 2, 3]), 1, 'valid'),
      'DepthwiseConv2dNative',
    );
    expect(conv?.outputs[0]?.shape).toEqual([1, 3, 3, 6]);
    // One [9, 9] @ [9, 1] per output channel: batch 6.
    expect(conv?.matmul).toEqual({ batch: 6, m: 9, k: 9, n: 1, flops: 972n });
  });
});
