import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { scope } from '../src/core/scope.js';
import {
  matmulKernelCount,
  totalMatmulFlops,
  totalNonMatmulFlops,
  totalTimeMs,
  totalsByPath,
  traceKernels,
  uncountedKernels,
} from '../src/trace/index.js';
import type { KernelRecord } from '../src/trace/index.js';

tf.enableProdMode();

/** The registry entry of every kernel of `backend`, by name. */
type KernelConfig = ReturnType<typeof tf.getKernel>;

/** Every registered config of a backend with the kernelFunc it holds (the tracer swaps that in place). */
function registrySnapshot(
  backend: string,
): Map<string, { config: KernelConfig; kernelFunc: KernelConfig['kernelFunc'] }> {
  return new Map(
    tf.getKernelsForBackend(backend).map((config) => [config.kernelName, { config, kernelFunc: config.kernelFunc }]),
  );
}

function expectRegistryIs(
  backend: string,
  snapshot: ReadonlyMap<string, { config: KernelConfig; kernelFunc: KernelConfig['kernelFunc'] }>,
): void {
  const now = registrySnapshot(backend);
  expect([...now.keys()].sort()).toEqual([...snapshot.keys()].sort());
  for (const [name, { config, kernelFunc }] of snapshot) {
    expect(tf.getKernel(name, backend), name).toBe(config);
    expect(tf.getKernel(name, backend).kernelFunc, name).toBe(kernelFunc);
  }
}

/** Kernel name, path and shapes of each record: what a reader checks first. */
function outline(records: readonly KernelRecord[]): string[] {
  return records.map(
    (record) =>
      `${record.kernel} @${record.path} ${record.inputs.map((input) => `[${input.shape}]`).join(' ')} -> ` +
      record.outputs.map((output) => `[${output.shape}]`).join(' '),
  );
}

describe.each(['cpu', 'wasm'])('traceKernels on %s', (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    expect(tf.getBackend()).toBe(backend);
  });

  // Every test releases what it makes: a leak here would show as a leak of the tracer's.
  let tensorsBefore = 0;
  beforeEach(() => {
    tensorsBefore = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  /** One RMSNorm-like block with a projection and a softmax, each in its own scope. */
  function smallProgram(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      scope('layers.0', () => {
        const h = scope('attn.q_proj', () => tf.matMul(x, w, false, true)); // (2, 3, 5)
        const p = scope('attn.softmax', () => tf.softmax(h));
        const meanSquare = tf.mean(tf.square(p), -1, true); // (2, 3, 1)
        return tf.mul(p, tf.rsqrt(tf.add(meanSquare, 1e-5)));
      }),
    );
  }

  test('records the exact kernel sequence with paths, shapes, dtypes and attrs', () => {
    const x = tf.ones([2, 3, 4]);
    const w = tf.ones([5, 4]);
    const { result, records } = traceKernels(() => smallProgram(x, w));
    expect(result.shape).toEqual([2, 3, 5]);
    tf.dispose([result, x, w]);
    expect(outline(records)).toEqual([
      'BatchMatMul @layers.0.attn.q_proj [2,3,4] [5,4] -> [2,3,5]',
      'Softmax @layers.0.attn.softmax [2,3,5] -> [2,3,5]',
      'Square @layers.0 [2,3,5] -> [2,3,5]',
      'Mean @layers.0 [2,3,5] -> [2,3,1]',
      'Add @layers.0 [2,3,1] [] -> [2,3,1]',
      'Rsqrt @layers.0 [2,3,1] -> [2,3,1]',
      'Multiply @layers.0 [2,3,5] [2,3,1] -> [2,3,5]',
    ]);
    expect(records.map((record) => record.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(records.every((record) => !record.nested)).toBe(true);
    expect(records.every((record) => record.timeMs === undefined && !('timeMs' in record))).toBe(true);

    const [matmul, softmax, , mean] = records as [KernelRecord, KernelRecord, KernelRecord, KernelRecord];
    expect(matmul.attrs).toEqual({ transposeA: false, transposeB: true });
    expect(matmul.inputs).toEqual([
      { shape: [2, 3, 4], dtype: 'float32' },
      { shape: [5, 4], dtype: 'float32' },
    ]);
    expect(matmul.outputs).toEqual([{ shape: [2, 3, 5], dtype: 'float32' }]);
    // batch 2, m 3, k 4, n 5: 2 * 2*3*4*5.
    expect(matmul.matmul).toEqual({ batch: 2, m: 3, k: 4, n: 5, flops: 240n });
    expect(matmul.flops).toBe(0n);
    expect(softmax.attrs).toEqual({ dim: 2 });
    // 6 rows of 5: 6 * (5*5 - 2).
    expect(softmax.flops).toBe(138n);
    expect(mean.attrs).toEqual({ axis: -1, keepDims: true });
    // 30 - 6 adds + 6 divides.
    expect(mean.flops).toBe(30n);
    expect(records.map((record) => record.flops)).toEqual([0n, 138n, 30n, 30n, 6n, 6n, 30n]);

    expect(totalMatmulFlops(records)).toBe(240n);
    expect(matmulKernelCount(records)).toBe(1);
    expect(totalNonMatmulFlops(records)).toBe(138n + 30n + 30n + 6n + 6n + 30n);
    const byBlockPart = totalsByPath(records, 3);
    expect([...byBlockPart.keys()]).toEqual(['layers.0.attn', 'layers.0']);
    expect(byBlockPart.get('layers.0.attn')).toMatchObject({ kernels: 2, matmulFlops: 240n, nonMatmulFlops: 138n });
    expect(byBlockPart.get('layers.0')).toMatchObject({ kernels: 5, matmulFlops: 0n, nonMatmulFlops: 102n });
    expect(JSON.parse(JSON.stringify(records.map((record) => record.attrs)))).toEqual(records.map((r) => r.attrs));
  });

  test('matmul FLOPs follow transposes and broadcast batch dims as traced', () => {
    const cases: {
      a: number[];
      b: number[];
      transposeA: boolean;
      transposeB: boolean;
      out: number[];
      flops: bigint;
    }[] = [
      // 2-D: 2 * 3*4*5.
      { a: [3, 4], b: [4, 5], transposeA: false, transposeB: false, out: [3, 5], flops: 120n },
      // Both transposed: a^T is [3, 4], b^T is [4, 5].
      { a: [4, 3], b: [5, 4], transposeA: true, transposeB: true, out: [3, 5], flops: 120n },
      // 3-D with transposeA: batch 2, m 3, k 4, n 5.
      { a: [2, 4, 3], b: [2, 4, 5], transposeA: true, transposeB: false, out: [2, 3, 5], flops: 240n },
      // 4-D: batch 2*3, m 4, k 5, n 6: 2 * 6*4*5*6.
      { a: [2, 3, 4, 5], b: [2, 3, 5, 6], transposeA: false, transposeB: false, out: [2, 3, 4, 6], flops: 1440n },
      // A weight broadcast over 2*3 batch elements: the same 1440.
      { a: [2, 3, 4, 5], b: [5, 6], transposeA: false, transposeB: false, out: [2, 3, 4, 6], flops: 1440n },
      // A batch of 1 broadcast against 3: batch 3, 2 * 3*4*5*6.
      { a: [1, 4, 5], b: [3, 5, 6], transposeA: false, transposeB: false, out: [3, 4, 6], flops: 720n },
    ];
    for (const { a, b, transposeA, transposeB, out, flops } of cases) {
      const { records } = traceKernels(() =>
        tf.tidy(() => tf.matMul(tf.ones(a), tf.ones(b), transposeA, transposeB)).dispose(),
      );
      expect(records.map((record) => record.kernel)).toEqual(['BatchMatMul']);
      const record = records[0]!;
      expect(record.outputs[0]?.shape).toEqual(out);
      expect(record.attrs).toEqual({ transposeA, transposeB });
      expect(record.matmul?.flops, `[${a}] x [${b}]`).toBe(flops);
    }
  });

  test('a fused matmul counts its matmul apart from its bias add and activation', () => {
    const { records } = traceKernels(() =>
      tf
        .tidy(() => tf.fused.matMul({ a: tf.ones([2, 3]), b: tf.ones([3, 4]), bias: tf.ones([4]), activation: 'relu' }))
        .dispose(),
    );
    expect(outline(records)).toEqual([
      'Reshape @ [2,3] -> [1,2,3]',
      'Reshape @ [3,4] -> [1,3,4]',
      '_FusedMatMul @ [1,2,3] [1,3,4] [4] -> [1,2,4]',
      'Reshape @ [1,2,4] -> [2,4]',
    ]);
    const fused = records[2]!;
    expect(fused.matmul).toEqual({ batch: 1, m: 2, k: 3, n: 4, flops: 48n });
    // 8 bias adds + 8 relus.
    expect(fused.flops).toBe(16n);
  });

  test('gradient kernels of tf.grads are captured, with their transposed matmuls', () => {
    const x = tf.ones([3, 4]);
    const w = tf.ones([5, 4]);
    const { result, records } = traceKernels(() =>
      scope('train_step', () => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b, false, true)))([x, w])),
    );
    expect(result.map((gradient) => gradient.shape)).toEqual([
      [3, 4],
      [5, 4],
    ]);
    tf.dispose([...result, x, w]);
    const matmuls = records.filter((record) => record.kernel === 'BatchMatMul');
    expect(matmuls.map((record) => [outline([record])[0], record.attrs])).toEqual([
      // forward: x w^T
      ['BatchMatMul @train_step [3,4] [5,4] -> [3,5]', { transposeA: false, transposeB: true }],
      // dx = dy w
      ['BatchMatMul @train_step [3,5] [5,4] -> [3,4]', { transposeA: false, transposeB: false }],
      // dw = dy^T x
      ['BatchMatMul @train_step [3,5] [3,4] -> [5,4]', { transposeA: true, transposeB: false }],
    ]);
    expect(matmuls.map((record) => record.matmul?.flops)).toEqual([120n, 120n, 120n]);
    expect(totalMatmulFlops(records)).toBe(360n);
    // The sum's gradient: dy (scalar) reshaped and multiplied into ones of [3, 5].
    expect(records.some((record) => record.kernel === 'Sum' && record.flops === 14n)).toBe(true);
    expect(records.every((record) => record.path === 'train_step')).toBe(true);
  });

  test('weights are marked by their data as each kernel ran, through a gradient and past an assign', () => {
    const x = tf.ones([3, 4]);
    const initial = tf.ones([4, 5]);
    const w = tf.variable(initial);
    const { records } = traceKernels(
      () => {
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.matMul(a, b)))([x, w]);
        const updated = tf.add(w, dw!);
        w.assign(updated);
        tf.dispose([dx!, dw!, updated]);
        tf.matMul(x, w).dispose();
      },
      { weights: [w] },
    );
    const marks = (kernel: string) =>
      records
        .filter((record) => record.kernel === kernel && !record.nested)
        .map((record) => record.inputs.map((input) => input.weight === true));
    // forward x w; dx = dy w^T reads the clone of w the engine saved for the gradient (sharing
    // w's storage on cpu, a copy on wasm: weight data either way); dw = x^T dy reads no weight;
    // after the assign w holds new data, not the weights' data the trace started with.
    expect(marks('BatchMatMul')).toEqual([
      [false, true],
      [false, true],
      [false, false],
      [false, false],
    ]);
    expect(marks('Add')).toEqual([[true, false]]);
    tf.dispose([w, x, initial]);
  });

  test('the registry is restored after a throw: every original config object is back', () => {
    const before = registrySnapshot(backend);
    const matmul = before.get('BatchMatMul');
    expect(matmul).toBeDefined();
    let seenInside: { config: KernelConfig; kernelFunc: KernelConfig['kernelFunc']; setupFunc: unknown } | undefined;
    expect(() =>
      traceKernels(() => {
        tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2]))).dispose();
        const config = tf.getKernel('BatchMatMul', backend);
        seenInside = { config, kernelFunc: config.kernelFunc, setupFunc: config.setupFunc };
        throw new Error('model failed');
      }),
    ).toThrow('model failed');
    // While tracing, the same registered config ran a tracing kernelFunc and kept its setup function.
    expect(seenInside?.config).toBe(matmul?.config);
    expect(seenInside?.kernelFunc).not.toBe(matmul?.kernelFunc);
    expect(seenInside?.setupFunc).toBe(matmul?.config.setupFunc);
    expectRegistryIs(backend, before);

    const operands = [
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      tf.tensor2d([
        [5, 6],
        [7, 8],
      ]),
    ] as const;
    const product = tf.matMul(...operands);
    expect(product.arraySync()).toEqual([
      [19, 22],
      [43, 50],
    ]);
    tf.dispose([product, ...operands]);
  });

  test('a kernel registered after an earlier trace is traced too (the wrapper cache notices)', () => {
    traceKernels(() => tf.tidy(() => tf.neg(tf.ones([2]))).dispose());
    const probe = 'FlopledgerProbeKernel';
    tf.registerKernel({
      kernelName: probe,
      backendName: backend,
      kernelFunc: ({ inputs, backend: kernelBackend }) => {
        const x = inputs['x']!;
        (kernelBackend as { incRef(dataId: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
    try {
      const { records } = traceKernels(() => {
        const x = tf.ones([3]);
        const y = tf.engine().runKernel<tf.Tensor>(probe, { x }, {});
        x.dispose();
        y.dispose();
      });
      expect(records.map((record) => record.kernel)).toContain(probe);
      expect(records.find((record) => record.kernel === probe)?.flops).toBeNull(); // no rule: uncounted, by name
    } finally {
      tf.unregisterKernel(probe, backend);
    }
  });

  test('a kernel replaced after an earlier trace, the registry the same size, is traced as replaced', () => {
    traceKernels(() => tf.tidy(() => tf.neg(tf.ones([2]))).dispose());
    const stock = tf.getKernel('Neg', backend);
    let replacementRan = 0;
    tf.unregisterKernel('Neg', backend);
    tf.registerKernel({
      ...stock,
      kernelFunc: (args) => {
        replacementRan++;
        return stock.kernelFunc(args);
      },
    });
    try {
      const { records } = traceKernels(() => tf.tidy(() => tf.neg(tf.ones([2]))).dispose());
      expect(replacementRan).toBe(1);
      expect(records.map((record) => record.kernel)).toContain('Neg');
    } finally {
      tf.unregisterKernel('Neg', backend);
      tf.registerKernel(stock);
    }
  });

  test('nothing stays wrapped after a trace that returns', () => {
    const before = registrySnapshot(backend);
    traceKernels(() => tf.tidy(() => tf.softmax(tf.ones([2, 3]))).dispose());
    expectRegistryIs(backend, before);
  });

  test('a trace inside a trace is refused with a clear error, and the outer one still restores', () => {
    const before = registrySnapshot(backend);
    expect(() => traceKernels(() => traceKernels(() => 1))).toThrow(/already running; traces cannot nest/);
    expectRegistryIs(backend, before);
    expect(traceKernels(() => 7).result).toBe(7);
  });

  test('an asynchronous function is refused: kernels after an await would escape the trace', () => {
    const before = registrySnapshot(backend);
    expect(() => traceKernels(() => Promise.resolve(1))).toThrow(/returned a promise/);
    expectRegistryIs(backend, before);
  });

  test('tensor count returns to baseline after a traced program that disposes its tensors', () => {
    const x = tf.ones([2, 3, 4]);
    const w = tf.ones([5, 4]);
    const baseline = tf.memory().numTensors;
    const { records } = traceKernels(() => {
      const y = smallProgram(x, w);
      const h = tf.matMul(x, w, false, true);
      y.dispose();
      h.dispose();
    });
    expect(records).toHaveLength(8);
    expect(tf.memory().numTensors).toBe(baseline);
    x.dispose();
    w.dispose();
  });

  test('timeKernels adds a wall time to every record; total time sums them', () => {
    const x = tf.ones([2, 3, 4]);
    const w = tf.ones([5, 4]);
    const { result, records } = traceKernels(() => smallProgram(x, w), { timeKernels: true });
    tf.dispose([result, x, w]);
    expect(records).toHaveLength(7);
    for (const record of records) {
      expect(typeof record.timeMs).toBe('number');
      expect(Number.isFinite(record.timeMs)).toBe(true);
      expect(record.timeMs).toBeGreaterThanOrEqual(0);
    }
    const sum = records.reduce((total, record) => total + record.timeMs!, 0);
    expect(totalTimeMs(records)).toBeCloseTo(sum, 12);
  });

  test('a kernel with no FLOP rule is recorded with flops null and reported by name', () => {
    // A model never pools, so MaxPool has no rule; Exp over its 2 x 2 output costs 4.
    const { records } = traceKernels(() =>
      tf.tidy(() => tf.exp(tf.maxPool(tf.ones<tf.Rank.R4>([1, 4, 4, 1]), 2, 2, 'valid'))).dispose(),
    );
    expect(records.map((record) => [record.kernel, record.flops])).toEqual([
      ['MaxPool', null],
      ['Exp', 4n],
    ]);
    expect(records[0]?.outputs).toEqual([{ shape: [1, 2, 2, 1], dtype: 'float32' }]);
    expect(uncountedKernels(records)).toEqual(new Map([['MaxPool', 1]]));
    expect(totalNonMatmulFlops(records)).toBe(4n);
  });

  test('attrs are reduced to JSON-safe values', () => {
    const { records } = traceKernels(() => tf.fill([2], Infinity).dispose());
    expect(records.map((record) => record.kernel)).toEqual(['Fill']);
    expect(records[0]?.attrs).toEqual({ shape: [2], value: 'Infinity', dtype: 'float32' });
    expect(records[0]?.flops).toBe(0n);
  });
});

describe('traceKernels on wasm: setup and failing kernels', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });

  test('wasm kernels all keep their setupFunc while wrapped, and work after the backend is set again', async () => {
    const originals = registrySnapshot('wasm');
    const withSetup = [...originals.values()].filter(({ config }) => config.setupFunc !== undefined);
    expect(withSetup.length).toBeGreaterThan(100);
    const setupInside = traceKernels(() =>
      [...originals.keys()].map((name) => tf.getKernel(name, 'wasm').setupFunc),
    ).result;
    expect(setupInside).toEqual([...originals.values()].map(({ config }) => config.setupFunc));

    await tf.setBackend('cpu');
    await tf.setBackend('wasm');
    const { result, records } = traceKernels(() =>
      tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).arraySync()),
    );
    expect(result).toEqual([[11]]);
    expect(records.find((record) => record.kernel === 'BatchMatMul')?.matmul?.flops).toBe(4n);
  });

  test('a kernel that throws inside the trace leaves no record and does not mark later kernels nested', () => {
    const { records } = traceKernels(() => {
      // The wasm BatchMatMul kernel itself rejects int32 operands.
      expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 2], 'int32'), tf.ones([2, 2], 'int32')))).toThrow(/float32/);
      tf.tidy(() => tf.neg(tf.ones([3]))).dispose();
    });
    const kernels = records.map((record) => record.kernel);
    expect(kernels).not.toContain('BatchMatMul');
    expect(kernels[kernels.length - 1]).toBe('Neg');
    expect(records.every((record) => !record.nested)).toBe(true);
    expect(records.map((record) => record.index)).toEqual(records.map((_, i) => i));
  });
});

describe('nested kernels (a kernel that runs another kernel through the engine)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  test('only the outermost matmul is counted, as for tfjs-node _FusedMatMul calling BatchMatMul', () => {
    const original = tf.getKernel('_FusedMatMul', 'cpu');
    // Like tfjs-node: the fused kernel runs matMul, add and relu as ops, through the engine.
    const engineCallingFusedMatMul: ReturnType<typeof tf.getKernel> = {
      kernelName: '_FusedMatMul',
      backendName: 'cpu',
      kernelFunc: ({ inputs, attrs }) => {
        const { a, b, bias } = inputs as { a: tf.Tensor; b: tf.Tensor; bias?: tf.Tensor };
        const { transposeA, transposeB, activation } = attrs as {
          transposeA: boolean;
          transposeB: boolean;
          activation: string;
        };
        return tf.tidy(() => {
          let y = tf.matMul(a, b, transposeA, transposeB);
          if (bias !== undefined) y = tf.add(y, bias);
          return activation === 'relu' ? tf.relu(y) : y;
        });
      },
    };
    tf.unregisterKernel('_FusedMatMul', 'cpu');
    tf.registerKernel(engineCallingFusedMatMul);
    try {
      const { result, records } = traceKernels(() =>
        scope('lm_head', () =>
          tf.tidy(() =>
            tf.fused
              .matMul({ a: tf.ones([2, 3]), b: tf.ones([3, 4]), bias: tf.ones([4]), activation: 'relu' })
              .arraySync(),
          ),
        ),
      );
      // 3 ones summed, plus bias 1.
      expect(result).toEqual([
        [4, 4, 4, 4],
        [4, 4, 4, 4],
      ]);
      expect(records.map((record) => [record.kernel, record.nested])).toEqual([
        ['Reshape', false],
        ['Reshape', false],
        ['_FusedMatMul', false],
        ['BatchMatMul', true],
        ['Add', true],
        ['Relu', true],
        ['Reshape', false],
      ]);
      const fused = records[2]!;
      const inner = records[3]!;
      expect(fused.matmul).toEqual({ batch: 1, m: 2, k: 3, n: 4, flops: 48n });
      expect(inner.matmul).toBeUndefined();
      expect(inner.path).toBe('lm_head');
      expect(totalMatmulFlops(records)).toBe(48n);
      expect(matmulKernelCount(records)).toBe(1);
      // The fused kernel's 8 bias adds and 8 relus, once; the nested Add and Relu are its own work.
      expect(fused.flops).toBe(16n);
      expect(totalNonMatmulFlops(records)).toBe(16n);
      // The trace restored the registration it found, the custom one.
      expect(tf.getKernel('_FusedMatMul', 'cpu')).toBe(engineCallingFusedMatMul);
    } finally {
      tf.unregisterKernel('_FusedMatMul', 'cpu');
      tf.registerKernel(original);
    }
    expect(tf.getKernel('_FusedMatMul', 'cpu')).toBe(original);
  });
});
