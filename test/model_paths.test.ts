import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../src/runtime/backend.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { disposeWeights, forward, initWeights, tokenIds, type TransformerWeights } from '../src/model/index.js';
import { path } from '../src/core/module_paths.js';
import { currentModulePath } from '../src/core/scope.js';

const config: ModelConfig = {
  name: 'paths',
  source: 'test/model_paths.test.ts',
  vocab_size: 13,
  context_length: 6,
  num_layers: 3,
  d_model: 8,
  num_heads: 2,
  d_ff: 16,
};

interface Ran {
  kernel: string;
  path: string;
}

/**
 * The kernels `fn` dispatches on cpu with the module path active at each, recorded by wrapping
 * every registered cpu kernel (kept independent of src/trace so the two check each other).
 */
function kernelsRunBy(fn: () => tf.Tensor): Ran[] {
  const ran: Ran[] = [];
  const originals = tf.getKernelsForBackend('cpu');
  for (const original of originals) {
    tf.unregisterKernel(original.kernelName, 'cpu');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        ran.push({ kernel: original.kernelName, path: currentModulePath() });
        return original.kernelFunc(args);
      },
    });
  }
  try {
    fn().dispose();
  } finally {
    for (const original of originals) {
      tf.unregisterKernel(original.kernelName, 'cpu');
      tf.registerKernel(original);
    }
  }
  return ran;
}

describe('kernels of one forward pass', () => {
  let weights: TransformerWeights;
  let ids: tf.Tensor2D;
  let ran: Ran[];

  beforeAll(async () => {
    await useBackend('cpu');
    weights = initWeights(config, { seed: 1, init: 'random' });
    ids = tokenIds(config, { batch: 2, seq: 5 }, { seed: 1, init: 'random' });
    ran = kernelsRunBy(() => forward(config, weights, ids));
  });

  afterAll(() => {
    disposeWeights(weights);
    ids.dispose();
  });

  it('are exactly 9L + 1 matmuls, at the projection, attention-core, ffn and lm_head paths in order', () => {
    const matmulPaths = ran.filter((r) => r.kernel === 'BatchMatMul').map((r) => r.path);
    const expected: string[] = [];
    for (let i = 0; i < config.num_layers; i++) {
      expected.push(
        path.attnProjection(i, 'q_proj'),
        path.attnProjection(i, 'k_proj'),
        path.attnProjection(i, 'v_proj'),
        path.scores(i),
        path.weightedSum(i),
        path.attnProjection(i, 'output_proj'),
        path.ffnMatrix(i, 'w1'),
        path.ffnMatrix(i, 'w3'),
        path.ffnMatrix(i, 'w2'),
      );
    }
    expected.push(path.lmHead);
    expect(matmulPaths).toHaveLength(9 * 3 + 1);
    expect(matmulPaths).toEqual(expected);
    expect(ran.some((r) => r.kernel === 'Einsum' || r.kernel === '_FusedMatMul')).toBe(false);
  });

  it('all run inside a module, at the paths the shared vocabulary names', () => {
    const expected = new Set<string>([path.tokenEmbeddings, path.lnFinal, path.lmHead]);
    for (let i = 0; i < config.num_layers; i++) {
      for (const p of [
        path.layer(i),
        path.ln1(i),
        path.attn(i),
        path.attnProjection(i, 'q_proj'),
        path.attnProjection(i, 'k_proj'),
        path.attnProjection(i, 'v_proj'),
        path.rope(i),
        path.scores(i),
        path.softmax(i),
        path.weightedSum(i),
        path.attnProjection(i, 'output_proj'),
        path.ln2(i),
        path.ffnMatrix(i, 'w1'),
        path.ffnMatrix(i, 'w3'),
        path.silu(i),
        path.gate(i),
        path.ffnMatrix(i, 'w2'),
      ]) {
        expected.add(p);
      }
    }
    expect(new Set(ran.map((r) => r.path))).toEqual(expected);
  });

  it('put the embedding gather, residual adds, softmax and SiLU where they belong', () => {
    const at = (p: string) => ran.filter((r) => r.path === p).map((r) => r.kernel);
    expect(at(path.tokenEmbeddings)).toEqual(['GatherV2']);
    expect(at(path.attnProjection(2, 'q_proj'))).toEqual(
      ['Reshape', 'BatchMatMul', 'Reshape'] /* tokens flattened, then restored */,
    );
    expect(at(path.ffnMatrix(2, 'w2'))).toEqual(
      ['Reshape', 'BatchMatMul', 'Reshape'] /* tokens flattened, then restored */,
    );
    expect(at(path.lmHead)).toEqual(['Reshape', 'BatchMatMul', 'Reshape'] /* tokens flattened, then restored */);
    expect(at(path.layer(1))).toEqual(['Add', 'Add']); // the two residual adds
    expect(at(path.softmax(1))).toEqual(['Softmax']);
    expect(at(path.silu(1))).toEqual(['Sigmoid', 'Multiply']);
    expect(at(path.gate(1))).toEqual(['Multiply']);
    expect(at(path.ln1(0))).toEqual(['Square', 'Mean', 'Add', 'Rsqrt', 'Multiply', 'Multiply']);
    expect(at(path.attn(0))).toEqual([
      'Reshape',
      'Transpose',
      'Reshape',
      'Transpose',
      'Reshape',
      'Transpose',
      'Transpose',
      'Reshape',
    ]);
  });

  it('all exist on the wasm backend', () => {
    const wasmKernels = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    const used = [...new Set(ran.map((r) => r.kernel))];
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((kernel) => !wasmKernels.has(kernel))).toEqual([]);
  });
});

describe('gradients through the model', () => {
  it('reach every weight with its own shape, finite and not all zero', async () => {
    await useBackend('cpu');
    const weights = initWeights(config, { seed: 2, init: 'random' });
    const ids = tokenIds(config, { batch: 1, seq: 6 }, { seed: 2, init: 'random' });
    const baseline = tf.memory().numTensors;
    try {
      const layer = weights.layers[1]!;
      const untiedLmHead = weights.lm_head;
      if (untiedLmHead === undefined) throw new Error('the seed model has an untied lm_head');
      const gradients = tf.grads((w1: tf.Tensor, ln1: tf.Tensor, lmHead: tf.Tensor) => {
        const layers = weights.layers.slice();
        layers[1] = { ...layer, w1: w1 as tf.Tensor2D, ln1: ln1 as tf.Tensor1D };
        const logits = forward(config, { ...weights, layers, lm_head: lmHead as tf.Tensor2D }, ids);
        return tf.sum(tf.square(logits));
      })([layer.w1!, layer.ln1, untiedLmHead]);
      try {
        expect(gradients.map((g) => g.shape)).toEqual([layer.w1!.shape, layer.ln1.shape, untiedLmHead.shape]);
        for (const g of gradients) {
          const values = g.dataSync();
          expect(values.every((v) => Number.isFinite(v))).toBe(true);
          expect(values.some((v) => v !== 0)).toBe(true);
        }
      } finally {
        tf.dispose(gradients);
      }
      expect(tf.memory().numTensors).toBe(baseline);
    } finally {
      disposeWeights(weights);
      ids.dispose();
    }
  });
});
