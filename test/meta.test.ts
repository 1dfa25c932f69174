import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { UnavailableError } from '../src/core/errors.js';
import {
  META_BACKEND_NAME,
  META_KERNELS,
  META_READ_ERROR,
  MetaBackend,
  explainMetaError,
  metaKernelFileName,
  registerMetaBackend,
} from '../src/meta/index.js';
import { errorMessagesOnCpuAndMeta, f, i32, signaturesOn, type Build } from './helpers/meta_signatures.js';
import { ELEMENTWISE_KERNELS } from '../src/meta/kernels/elementwise.js';

/** Records the name of every meta kernel dispatched while `fn` runs, as a registry wrapper would. */
function dispatchedMetaKernels(fn: () => void): Set<string> {
  const seen = new Set<string>();
  const originals = META_KERNELS.map((name) => tf.getKernel(name, META_BACKEND_NAME));
  for (const config of originals) {
    tf.unregisterKernel(config.kernelName, META_BACKEND_NAME);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        seen.add(config.kernelName);
        return config.kernelFunc(args);
      },
    });
  }
  try {
    fn();
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, META_BACKEND_NAME);
      tf.registerKernel(config);
    }
  }
  return seen;
}

const bool = (shape: number[]): tf.Tensor => tf.fill(shape, 1, 'bool');

/** The same op on cpu and on meta; `[name, build]`. Inputs are made inside, on the backend under test. */
const CASES: readonly [string, Build][] = [
  ['fill float32', () => tf.fill([2, 3], 1.5)],
  ['fill int32', () => tf.fill([4], 3, 'int32')],
  ['gather rows', () => tf.gather(f([5, 3]), tf.tensor1d([0, 4, 2, 2], 'int32'))],
  ['gather axis 1 with 2-D indices', () => tf.gather(f([2, 5, 3]), tf.tensor2d([0, 1, 4, 3], [2, 2], 'int32'), 1)],
  ['gather with batchDims', () => tf.gather(f([2, 4, 3]), tf.tensor2d([0, 1, 3, 2], [2, 2], 'int32'), 1, 1)],
  ['matMul', () => tf.matMul(f([2, 3]), f([3, 4]))],
  ['matMul transposeA', () => tf.matMul(f([3, 2]), f([3, 4]), true, false)],
  ['matMul transposeB', () => tf.matMul(f([2, 3]), f([4, 3]), false, true)],
  ['matMul both transposed', () => tf.matMul(f([3, 2]), f([4, 3]), true, true)],
  ['matMul broadcast batch', () => tf.matMul(f([2, 1, 3, 4]), f([5, 4, 6]))],
  ['matMul rank 3 by rank 2', () => tf.matMul(f([2, 3, 4]), f([5, 4]), false, true)],
  ['matMul int32', () => tf.matMul(i32([2, 3]), i32([3, 2]))],
  [
    'fused matMul bias relu',
    () => tf.fused.matMul({ a: f([2, 3]), b: f([4, 3]), transposeB: true, bias: f([4]), activation: 'relu' }),
  ],
  ['fused matMul batch bias', () => tf.fused.matMul({ a: f([2, 2, 3]), b: f([3, 5]), bias: f([2, 1, 5]) })],
  [
    'fused matMul prelu',
    () => tf.fused.matMul({ a: f([2, 3]), b: f([3, 4]), activation: 'prelu', preluActivationWeights: f([4]) }),
  ],
  ['reshape with -1', () => tf.reshape(f([2, 3, 4]), [-1, 2])],
  ['expandDims at the end', () => tf.expandDims(f([2, 3]), -1)],
  ['expandDims in front', () => tf.expandDims(i32([2, 3]), 0)],
  ['transpose', () => tf.transpose(f([2, 3, 4]), [2, 0, 1])],
  ['transpose default', () => tf.transpose(f([2, 3]))],
  ['add broadcast', () => tf.add(f([2, 1, 4]), f([3, 1]))],
  ['add int32', () => tf.add(i32([3]), i32([2, 1]))],
  ['sub scalar', () => tf.sub(f([2, 3]), tf.scalar(1))],
  ['mul broadcast', () => tf.mul(f([4, 1]), f([1, 5]))],
  ['div', () => tf.div(f([2, 3]), f([3]))],
  ['maximum', () => tf.maximum(f([2, 3]), f([1, 3]))],
  ['minimum int32', () => tf.minimum(i32([2, 3]), i32([2, 1]))],
  ['pow', () => tf.pow(f([2, 3]), tf.scalar(2))],
  ['greater', () => tf.greater(f([2, 3]), f([3]))],
  ['greaterEqual int32', () => tf.greaterEqual(i32([2, 1]), i32([4]))],
  ['less', () => tf.less(f([3, 1]), f([1, 2]))],
  ['lessEqual', () => tf.lessEqual(f([2]), f([2]))],
  // A sliding window's mask: a future key, or one before the window (src/model/causal_softmax.ts).
  ['logicalOr broadcast', () => tf.logicalOr(tf.greater(i32([1, 4]), i32([3, 1])), tf.less(i32([1, 4]), i32([3, 1])))],
  ['equal', () => tf.equal(i32([2, 3]), i32([3]))],
  ['square', () => tf.square(f([2, 3]))],
  ['sqrt', () => tf.sqrt(f([4]))],
  ['rsqrt', () => tf.rsqrt(f([2, 2]))],
  ['exp float32', () => tf.exp(f([3]))],
  ['exp int32 yields float32', () => tf.exp(i32([3]))],
  ['sigmoid', () => tf.sigmoid(f([2, 3]))],
  ['tanh', () => tf.tanh(f([2, 3]))],
  ['tanh rank 3', () => tf.tanh(f([2, 1, 4]))],
  ['log', () => tf.log(f([2, 3]))],
  ['neg int32', () => tf.neg(i32([2]))],
  ['cos', () => tf.cos(f([5]))],
  ['sin', () => tf.sin(f([1, 5]))],
  ['reciprocal', () => tf.reciprocal(f([3]))],
  ['mean last axis keepDims', () => tf.mean(f([2, 3, 4]), -1, true)],
  ['mean all of int32', () => tf.mean(i32([2, 3]))],
  ['sum axes 0 and 2', () => tf.sum(f([2, 3, 4]), [0, 2])],
  ['sum keepDims unsorted axes', () => tf.sum(f([2, 3, 4]), [2, 0], true)],
  ['sum int32', () => tf.sum(i32([2, 3]), 1)],
  ['sum bool yields int32', () => tf.sum(bool([2, 3]))],
  ['max keepDims', () => tf.max(f([2, 3, 4]), 1, true)],
  ['max int32', () => tf.max(i32([2, 3]))],
  ['softmax', () => tf.softmax(f([2, 3, 5]))],
  ['slice', () => tf.slice(f([4, 5]), [1, 0], [2, -1])],
  ['slice rank 3', () => tf.slice(i32([3, 4, 5]), [0, 1, 2], [3, 2, 1])],
  ['stridedSlice strided', () => tf.stridedSlice(f([4, 6]), [0, 1], [4, 6], [2, 2])],
  ['stridedSlice shrink axis', () => tf.stridedSlice(f([4, 6]), [1, 0], [2, 6], [1, 1], 0, 0, 0, 0, 1)],
  ['stridedSlice identity', () => tf.stridedSlice(f([3, 2]), [0, 0], [3, 2], [1, 1])],
  ['stridedSlice new axis', () => tf.stridedSlice(f([3, 2]), [0, 0, 0], [3, 1, 2], [1, 1, 1], 0, 0, 0, 2)],
  ['concat axis 1', () => tf.concat([f([2, 3]), f([2, 4])], 1)],
  ['concat three axis 0', () => tf.concat([i32([1, 3]), i32([2, 3]), i32([4, 3])], 0)],
  ['concat with an empty input', () => tf.concat([f([2, 0]), f([2, 3])], 1)],
  ['concat negative axis', () => tf.concat([f([2, 3, 1]), f([2, 3, 2])], -1)],
  ['stack axis 1', () => tf.stack([f([2, 3]), f([2, 3]), f([2, 3])], 1)],
  ['stack negative axis', () => tf.stack([i32([2, 3]), i32([2, 3])], -1)],
  ['stack one tensor', () => tf.stack([f([2, 3])], 0)],
  ['unstack axis 1', () => tf.unstack(f([2, 3, 4]), 1)],
  ['unstack negative axis', () => tf.unstack(i32([2, 3]), -1)],
  ['split sizes', () => tf.split(f([4, 6]), [1, 2, 3], 1)],
  ['split count', () => tf.split(f([4, 6]), 2, 0)],
  ['split inferred size', () => tf.split(f([2, 7]), [2, -1], 1)],
  ['cast float32 to int32', () => tf.cast(f([2, 3]), 'int32')],
  ['cast int32 to float32', () => tf.cast(i32([2, 3]), 'float32')],
  ['cast bool to float32', () => tf.cast(bool([3]), 'float32')],
  ['cast float32 to bool', () => tf.cast(f([3]), 'bool')],
  ['clone', () => tf.clone(f([2, 2]))],
  ['range', () => tf.range(0, 10, 3)],
  ['range descending int32', () => tf.range(5, 1, -1, 'int32')],
  ['range empty', () => tf.range(3, 3)],
  ['range fractional step', () => tf.range(0, 1, 0.3)],
  ['where same shapes', () => tf.where(bool([2, 3]), f([2, 3]), f([2, 3], 1))],
  ['where broadcast', () => tf.where(tf.greater(f([3, 1]), f([1, 4])), f([3, 4]), tf.scalar(-1e9))],
  ['tile', () => tf.tile(f([2, 3]), [2, 1])],
  ['tile int32', () => tf.tile(i32([1, 2, 1]), [3, 1, 4])],
  ['reverse one axis', () => tf.reverse(f([2, 3, 2]), 2)],
  ['reverse two axes', () => tf.reverse(f([2, 3, 4]), [0, 2])],
  [
    'pad rows after (a slice gradient)',
    () =>
      tf.pad(f([3, 4]), [
        [0, 5],
        [0, 0],
      ]),
  ],
  [
    'pad every side of int32',
    () =>
      tf.pad(
        i32([2, 1, 3]),
        [
          [1, 2],
          [0, 3],
          [2, 0],
        ],
        7,
      ),
  ],
  [
    'pad nothing',
    () =>
      tf.pad(f([2, 3]), [
        [0, 0],
        [0, 0],
      ]),
  ],
  ['oneHot int32 (the default)', () => tf.oneHot(tf.tensor1d([0, 2, 1], 'int32'), 4)],
  ['oneHot float32 of 2-D indices', () => tf.oneHot(i32([2, 3]), 5, 1, 0, 'float32')],
  [
    'scatterND rows with a repeated index',
    () => tf.scatterND(tf.tensor2d([1, 3, 1], [3, 1], 'int32'), f([3, 2]), [5, 2]),
  ],
  ['scatterND into a rank-3 output', () => tf.scatterND(i32([4, 1], 0), f([4, 2, 3]), [2, 2, 3])],
  // A MoE layer's top-k (src/model/moe.ts): values float32, indices int32.
  ['topk of rows', () => Object.values(tf.topk(f([4, 5]), 2))],
  ['topk of a vector, k = n', () => Object.values(tf.topk(f([3]), 3))],
  // The gradient of its combine.
  ['gatherND rows', () => tf.gatherND(f([5, 3]), tf.tensor2d([4, 0, 4], [3, 1], 'int32'))],
  ['zerosLike', () => tf.zerosLike(f([2, 3]))],
  ['onesLike int32', () => tf.onesLike(i32([4]))],
  ['zeros (written from JS)', () => tf.zeros([2, 2])],
];

describe('meta backend', () => {
  let baseline = 0;

  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    registerMetaBackend();
    await tf.setBackend('cpu');
  });

  beforeEach(() => {
    baseline = tf.memory().numTensors;
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it.each(CASES)('%s: the same output shapes and dtypes as cpu', async (_name, build) => {
    const onCpu = await signaturesOn('cpu', build);
    const onMeta = await signaturesOn(META_BACKEND_NAME, build);
    expect(onMeta).toEqual(onCpu);
    expect(onMeta.length).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('the cases above run every meta kernel', async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const seen = dispatchedMetaKernels(() => {
      for (const [, build] of CASES) {
        tf.tidy(() => {
          build();
        });
      }
    });
    expect([...META_KERNELS].filter((name) => !seen.has(name))).toEqual([]);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('a wrong shape fails on meta with the message it fails with on cpu', async () => {
    const wrong: Build[] = [
      () => tf.matMul(f([2, 3]), f([4, 5])),
      () => tf.matMul(f([2, 2, 3]), f([3, 3, 4])),
      () => tf.add(f([2, 3]), f([4])),
      () => tf.reshape(f([2, 3]), [4, 2]),
      () => tf.concat([f([2, 3]), f([3, 3])], 1),
      () => tf.slice(f([2, 3]), [1, 1], [2, 2]),
    ];
    for (const build of wrong) {
      const messages = await errorMessagesOnCpuAndMeta(build, META_BACKEND_NAME);
      expect(messages[0]).not.toBe('no error');
      expect(messages[1]).toBe(messages[0]);
    }
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('reading a meta tensor throws the clear error, synchronously and asynchronously', async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const x = tf.fill([2, 3], 1);
    expect(() => x.dataSync()).toThrow(META_READ_ERROR);
    expect(() => x.dataSync()).toThrow(UnavailableError);
    expect(() => x.arraySync()).toThrow(META_READ_ERROR);
    await expect(x.data()).rejects.toThrow(META_READ_ERROR);
    x.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('reshape shares storage: no new data id, one more reference, released with the last view', async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const backend = tf.backend() as MetaBackend;
    const idsBefore = backend.numDataIds();
    const x = tf.fill([4, 6], 2);
    expect(backend.numDataIds()).toBe(idsBefore + 1);
    const y = tf.reshape(x, [2, 12]);
    expect(y.shape).toEqual([2, 12]);
    expect(backend.numDataIds()).toBe(idsBefore + 1);
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(backend.refCount(y.dataId)).toBe(1);
    expect(backend.numDataIds()).toBe(idsBefore + 1);
    y.dispose();
    expect(backend.refCount(y.dataId)).toBe(0);
    expect(backend.numDataIds()).toBe(idsBefore);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it("runs under tfjs's per-kernel leak check, which would catch a kernel leaking storage", async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const leakProbe = 'MetaLeakProbe';
    tf.registerKernel({
      kernelName: leakProbe,
      backendName: META_BACKEND_NAME,
      kernelFunc: ({ backend }) => {
        (backend as MetaBackend).makeOutput([1], 'float32');
        return (backend as MetaBackend).makeOutput([2], 'float32');
      },
    });
    try {
      expect(() => tf.engine().runKernel(leakProbe, {}, {})).toThrow(
        "Backend 'meta' has an internal memory leak (1 data ids) after running 'MetaLeakProbe'",
      );
    } finally {
      tf.unregisterKernel(leakProbe, META_BACKEND_NAME);
    }
  });

  it('a real kernel allocates a new data id and disposal frees it', async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const backend = tf.backend() as MetaBackend;
    const idsBefore = backend.numDataIds();
    const x = tf.fill([3, 3], 1);
    const y = tf.matMul(x, x);
    expect(backend.numDataIds()).toBe(idsBefore + 2);
    tf.dispose([x, y]);
    expect(backend.numDataIds()).toBe(idsBefore);
  });

  it('holds no bytes however large the tensors, while the engine still counts them', async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const bytesBefore = tf.memory().numBytes;
    // 16384 x 50257 float32 logits: 3.3 GB that a data-holding backend would have to allocate.
    const logits = tf.fill([16384, 50257], 0);
    const memory = tf.memory() as tf.MemoryInfo & { numBytesHeld?: number };
    expect(memory.numBytesHeld).toBe(0);
    expect(memory.unreliable).toBe(false);
    expect(memory.numBytes - bytesBefore).toBe(16384 * 50257 * 4);
    logits.dispose();
  });

  it('reports its numeric facts and times a function without a device timer', async () => {
    await tf.setBackend(META_BACKEND_NAME);
    const backend = tf.backend() as MetaBackend;
    expect(backend.floatPrecision()).toBe(32);
    expect(backend.epsilon()).toBe(1e-7);
    expect(backend.timerAvailable()).toBe(false);
    let ran = 0;
    const timing = await backend.time(() => {
      ran++;
    });
    expect(ran).toBe(1);
    expect(typeof timing.kernelMs).toBe('number');
    expect(timing.kernelMs as number).toBeGreaterThanOrEqual(0);
  });

  it('takes in a tensor made on cpu and gives back meta tensors', async () => {
    await tf.setBackend('cpu');
    const onCpu = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    await tf.setBackend(META_BACKEND_NAME);
    const product = tf.matMul(onCpu, onCpu, false, true);
    const view = tf.reshape(onCpu, [3, 2]);
    expect(product.shape).toEqual([2, 2]);
    expect(view.shape).toEqual([3, 2]);
    expect(() => product.dataSync()).toThrow(META_READ_ERROR);
    tf.dispose([onCpu, product, view]);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('registering twice changes nothing and warns about nothing', () => {
    const warn = vi.spyOn(console, 'warn');
    try {
      registerMetaBackend();
      registerMetaBackend();
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
    const registered = tf.getKernelsForBackend(META_BACKEND_NAME).map((config) => config.kernelName);
    expect(registered.sort()).toEqual([...META_KERNELS].sort());
    expect(new Set(META_KERNELS).size).toBe(META_KERNELS.length);
    expect(tf.findBackend(META_BACKEND_NAME)).toBeInstanceOf(MetaBackend);
  });

  it('names every kernel file after its kernel, as the missing-kernel message advises', () => {
    expect(metaKernelFileName('BatchMatMul')).toBe('batch_mat_mul');
    expect(metaKernelFileName('_FusedMatMul')).toBe('fused_mat_mul');
    expect(metaKernelFileName('GatherV2')).toBe('gather_v2');
    expect(metaKernelFileName('Conv2D')).toBe('conv2d');
    expect(metaKernelFileName('Conv2DBackpropInput')).toBe('conv2d_backprop_input');
    expect(metaKernelFileName('LRNGrad')).toBe('lrn_grad');
    for (const name of META_KERNELS) {
      const file = fileURLToPath(new URL(`../src/meta/kernels/${metaKernelFileName(name)}.ts`, import.meta.url));
      // An elementwise kernel is a row of one table, never a one-line file of its own.
      expect(existsSync(file), `${name} -> ${file}`).toBe(!ELEMENTWISE_KERNELS.includes(name));
    }
    expect(ELEMENTWISE_KERNELS).toEqual(expect.arrayContaining(['Add', 'Exp', 'Greater', 'Tanh']));
  });

  it('a kernel meta lacks fails by name with what to do, never with a number', async () => {
    expect(META_KERNELS).not.toContain('Conv2D');
    await tf.setBackend(META_BACKEND_NAME);
    let caught: unknown;
    try {
      tf.tidy(() => tf.conv2d(f([1, 4, 4, 1]) as tf.Tensor4D, f([2, 2, 1, 1]) as tf.Tensor4D, 1, 'valid'));
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).message).toBe("Kernel 'Conv2D' not registered for backend 'meta'");
    const explained = explainMetaError(caught);
    expect(explained).toBeInstanceOf(UnavailableError);
    expect((explained as UnavailableError).message).toBe(
      'the meta backend has no kernel "Conv2D" yet; run on --backend wasm or cpu for this model, ' +
        'or add src/meta/kernels/conv2d.ts (or, for an elementwise kernel, a row of src/meta/kernels/elementwise.ts)',
    );
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('passes every other error through untouched', () => {
    const other = new Error("Kernel 'Conv2D' not registered for backend 'cpu'");
    expect(explainMetaError(other)).toBe(other);
    const shapeError = new Error('Error in matMul: inner shapes (3) and (4) must match');
    expect(explainMetaError(shapeError)).toBe(shapeError);
    expect(explainMetaError('a string')).toBe('a string');
    expect(explainMetaError(undefined)).toBe(undefined);
  });
});
