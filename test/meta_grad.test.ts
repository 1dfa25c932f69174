import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { META_BACKEND_NAME, META_KERNELS, registerMetaBackend } from '../src/meta/index.js';
import { initWeights, tokenIds, type WeightInit } from '../src/model/index.js';
import { traceKernels, type KernelRecord } from '../src/trace/index.js';
import {
  DEFAULT_ADAMW,
  currentPhase,
  disposeAdamW,
  initAdamW,
  parametersOf,
  targetIds,
  toTrainable,
  trainingStep,
} from '../src/runtime/index.js';
import { disposeWeights } from '../src/model/index.js';
import { errorMessagesOnCpuAndMeta, f, i32, signaturesOn, type Build } from './helpers/meta_signatures.js';

/** The kernels a training step needs beyond the forward pass: the same op on cpu and on meta. */
const GRADIENT_KERNEL_CASES: readonly [string, string, Build][] = [
  ['Log', 'log float32', () => tf.log(f([2, 3]))],
  ['Log', 'log rank 3', () => tf.log(f([2, 1, 4]))],
  ['OneHot', 'oneHot int32 (the default)', () => tf.oneHot(tf.tensor1d([0, 2, 1], 'int32'), 4)],
  ['OneHot', 'oneHot float32 of 2-D indices', () => tf.oneHot(i32([2, 3]), 5, 1, 0, 'float32')],
  [
    'ScatterNd',
    'scatterND rows with a repeated index',
    () => tf.scatterND(tf.tensor2d([1, 3, 1], [3, 1], 'int32'), f([3, 2]), [5, 2]),
  ],
  [
    'ScatterNd',
    'scatterND single elements of int32',
    () => tf.scatterND(tf.tensor2d([0, 1, 2, 0], [2, 2], 'int32'), i32([2]), [3, 2]),
  ],
  ['ScatterNd', 'scatterND into a rank-3 output', () => tf.scatterND(i32([4, 1], 0), f([4, 2, 3]), [2, 2, 3])],
  // A MoE combine's gradient (src/model/moe.ts): each routed row's output gradient, gathered.
  ['GatherNd', 'gatherND rows of a matrix', () => tf.gatherND(f([5, 3]), tf.tensor2d([4, 0, 4], [3, 1], 'int32'))],
  ['GatherNd', 'gatherND single elements', () => tf.gatherND(f([2, 3, 4]), tf.tensor2d([1, 2, 0, 0], [2, 2], 'int32'))],
];

function tiny(): ModelConfig {
  return {
    name: 'tiny-train',
    source: 'test/meta_grad.test.ts',
    vocab_size: 13,
    context_length: 6,
    num_layers: 2,
    d_model: 8,
    num_heads: 2,
    d_ff: 12,
  };
}

/** One traced training step on `backendName`; every tensor it made is released. */
async function traceStep(
  backendName: string,
  config: ModelConfig,
  run: RunShape,
  init: WeightInit,
): Promise<KernelRecord[]> {
  await tf.setBackend(backendName);
  const weights = toTrainable(initWeights(config, { seed: 5, init }));
  const optimizer = initAdamW(parametersOf(weights));
  const ids = tokenIds(config, run, { seed: 5, init });
  const targets = targetIds(config, run, { seed: 5, init });
  try {
    const { result, records } = traceKernels(
      () => trainingStep(config, weights, { ids, targets }, optimizer, DEFAULT_ADAMW),
      { phaseOf: currentPhase },
    );
    result.dispose();
    return records;
  } finally {
    tf.dispose([ids, targets]);
    disposeAdamW(optimizer);
    disposeWeights(weights);
  }
}

describe('meta gradient kernels', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    registerMetaBackend();
    await tf.setBackend('cpu');
  });

  afterAll(() => {
    expect(tf.memory().numTensors).toBe(0);
  });

  it.each(GRADIENT_KERNEL_CASES)(
    '%s: %s has the output shapes and dtypes it has on cpu',
    async (_kernel, _name, build) => {
      const before = tf.memory().numTensors;
      const onCpu = await signaturesOn('cpu', build);
      const onMeta = await signaturesOn(META_BACKEND_NAME, build);
      expect(onMeta).toEqual(onCpu);
      expect(onMeta.length).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('the gradient kernels are registered on meta, each with a case above', () => {
    const covered = new Set(GRADIENT_KERNEL_CASES.map(([kernel]) => kernel));
    expect([...covered].sort()).toEqual(['GatherNd', 'Log', 'OneHot', 'ScatterNd']);
    for (const kernel of covered) {
      expect(META_KERNELS).toContain(kernel);
      expect(tf.getKernel(kernel, META_BACKEND_NAME)).toBeDefined();
    }
  });

  it('a scatter whose updates do not fit the shape fails on meta as on cpu', async () => {
    const build = () => tf.scatterND(tf.tensor2d([0, 1], [2, 1], 'int32'), f([2, 3]), [4, 2]);
    const messages = await errorMessagesOnCpuAndMeta(build, META_BACKEND_NAME);
    expect(messages[0]).not.toBe('no error');
    expect(messages[1]).toBe(messages[0]);
  });

  it('a training step on meta runs the kernels cpu runs, record for record: names, paths, phases, shapes, dtypes', async () => {
    const config = tiny();
    const run = { batch: 2, seq: 5 };
    const onCpu = await traceStep('cpu', config, run, 'random');
    const onMeta = await traceStep(META_BACKEND_NAME, config, run, 'fill');
    expect(onMeta).toEqual(onCpu);
    expect(onCpu.length).toBeGreaterThan(500);
    const kernels = new Set(onMeta.map((record) => record.kernel));
    for (const kernel of ['Log', 'OneHot', 'ScatterNd']) expect(kernels).toContain(kernel);
  });
});
