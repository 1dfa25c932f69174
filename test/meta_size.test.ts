/**
 * The meta backend holds no data at any size (issue 12): no host array proportional to d, T, V
 * or L is made for it, and the work of a traced training step grows linearly with the layers.
 *
 * Both checks are structural, never timings. Every host array reaches a backend through its
 * write() (tf.tensor, tf.zeros, tf.ones, the engine's own zeros and ones) or move() (a tensor
 * coming from another backend), so a spy on those two sees every array made for meta. The work
 * of a step is counted as WeakMap lookups: the engine keeps its tensor bookkeeping in WeakMaps,
 * and the peak-memory sampler used to scan every live buffer against it after each kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { META_BACKEND_NAME, MetaBackend, registerMetaBackend } from '../src/meta/index.js';
import { backendHoldsValues } from '../src/model/host_constant.js';
import {
  disposeWeights,
  initWeights,
  ropeTables,
  tokenIds,
  weightEntries,
  type WeightInit,
} from '../src/model/index.js';
import {
  DEFAULT_ADAMW,
  currentPhase,
  disposeAdamW,
  initAdamW,
  measurePeakMemory,
  parametersOf,
  targetIds,
  toTrainable,
  trainingStep,
  traceTrainingStep,
} from '../src/runtime/index.js';
import { traceKernels } from '../src/trace/index.js';
import { traceForward } from '../src/runtime/traced_run.js';
import { everyVariantConfig } from './helpers/small_configs.js';

/** The largest host array meta may be handed: a scalar an op makes from a number (x * 0.5). */
const SCALAR = 1;

/** Lengths of the value arrays handed to the meta backend while `fn` runs. */
async function arraysHandedToMeta(fn: () => unknown): Promise<number[]> {
  const lengths: number[] = [];
  const write = vi.spyOn(MetaBackend.prototype, 'write');
  const move = vi.spyOn(MetaBackend.prototype, 'move');
  try {
    await fn();
    for (const [values] of write.mock.calls) lengths.push(values.length);
    for (const [, values] of move.mock.calls) lengths.push(values.length);
  } finally {
    write.mockRestore();
    move.mockRestore();
  }
  return lengths;
}

/** The seed's architecture (RoPE, RMSNorm, SwiGLU) with a width and length no host array of it could hide in. */
function wide(dModel: number, seq: number): ModelConfig {
  return {
    name: 'wide',
    source: 'test/meta_size.test.ts',
    vocab_size: 50_000,
    context_length: seq,
    num_layers: 2,
    d_model: dModel,
    num_heads: 4,
    d_ff: 4 * dModel,
  };
}

describe('the meta backend holds no data at any size', () => {
  let baseline = 0;

  beforeAll(async () => {
    registerMetaBackend();
    await tf.setBackend(META_BACKEND_NAME);
    baseline = tf.memory().numTensors;
  });

  afterEach(() => {
    expect(tf.memory().numTensors).toBe(baseline);
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the model sees that meta keeps no values, and that cpu does', async () => {
    expect(backendHoldsValues()).toBe(false);
    await tf.setBackend('cpu');
    try {
      expect(backendHoldsValues()).toBe(true);
    } finally {
      await tf.setBackend(META_BACKEND_NAME);
    }
  });

  it('the rope tables of 16,384 positions of a 2,048-wide head reach meta as shapes only', async () => {
    // 33,554,432 floats per table on a backend that keeps values.
    const lengths = await arraysHandedToMeta(() => {
      const { cos, sin } = ropeTables(16_384, 2_048);
      expect(cos.shape).toEqual([16_384, 2_048]);
      expect(sin.shape).toEqual([16_384, 2_048]);
      tf.dispose([cos, sin]);
    });
    expect(Math.max(0, ...lengths)).toBeLessThanOrEqual(SCALAR);
  });

  it.each<[string, ModelConfig, RunShape]>([
    ['RoPE, d_model 65,536, 512 tokens', wide(65_536, 512), { batch: 1, seq: 512 }],
    [
      'learned positions, LayerNorm, GELU, biases, grouped-query, tied',
      everyVariantConfig('meta_size'),
      { batch: 2, seq: 8 },
    ],
  ])('a traced forward pass (%s) hands meta no array beyond a scalar', async (_label, config, run) => {
    const lengths = await arraysHandedToMeta(() => traceForward({ config, run, backend: 'meta' }));
    expect(lengths.length).toBeGreaterThan(0);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SCALAR);
  });

  it('a traced training step (forward, loss, backward, AdamW) hands meta no array beyond a scalar', async () => {
    const lengths = await arraysHandedToMeta(() =>
      traceTrainingStep({ config: wide(16_384, 256), run: { batch: 2, seq: 256 }, backend: 'meta' }),
    );
    expect(lengths.length).toBeGreaterThan(0);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SCALAR);
  });

  it("seeded 'random' weights and ids on meta draw nothing: the shapes are made, no values", async () => {
    const config = wide(1_024, 1_024);
    const run = { batch: 2, seq: 1_024 };
    const lengths = await arraysHandedToMeta(() => {
      const weights = initWeights(config, { seed: 3, init: 'random' });
      const ids = tokenIds(config, run, { seed: 3, init: 'random' });
      const targets = targetIds(config, run, { seed: 3, init: 'random' });
      try {
        expect(weightEntries(weights)[0]?.tensor.shape).toEqual([50_000, 1_024]);
        expect(ids.shape).toEqual([2, 1_024]);
        expect(ids.dtype).toBe('int32');
      } finally {
        tf.dispose([ids, targets]);
        disposeWeights(weights);
      }
    });
    expect(Math.max(0, ...lengths)).toBeLessThanOrEqual(SCALAR);
  });
});

/** WeakMap lookups (has and get) made while `fn` runs. */
function weakMapLookups(fn: () => void): number {
  // Counted by hand: a vi.spyOn would keep the arguments of millions of calls.
  let lookups = 0;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with each map as `this`
  const { has, get } = WeakMap.prototype;
  WeakMap.prototype.has = function (this: WeakMap<object, unknown>, key: object): boolean {
    lookups++;
    return has.call(this, key);
  };
  WeakMap.prototype.get = function (this: WeakMap<object, unknown>, key: object): unknown {
    lookups++;
    return get.call(this, key);
  };
  try {
    fn();
  } finally {
    WeakMap.prototype.has = has;
    WeakMap.prototype.get = get;
  }
  return lookups;
}

/**
 * The WeakMap lookups of one traced training step of `layers` layers on meta, with memory
 * sampled after every kernel and the records built, as verify --train runs it.
 */
function stepLookups(layers: number, init: WeightInit = 'fill'): number {
  const config: ModelConfig = { ...wide(64, 32), num_layers: layers, vocab_size: 97 };
  const run = { batch: 1, seq: 32 };
  const weights = toTrainable(initWeights(config, { seed: 0, init }));
  const optimizer = initAdamW(parametersOf(weights));
  const ids = tokenIds(config, run, { seed: 0, init });
  const targets = targetIds(config, run, { seed: 0, init });
  const held = [
    ...weightEntries(weights).map((entry) => entry.tensor),
    ...optimizer.moments.flatMap((moment) => [moment.first, moment.second]),
    ids,
    targets,
  ];
  try {
    return weakMapLookups(() => {
      const { result: trace } = measurePeakMemory(held, () =>
        traceKernels(() => trainingStep(config, weights, { ids, targets }, optimizer, DEFAULT_ADAMW), {
          phaseOf: currentPhase,
        }),
      );
      expect(trace.records.length).toBeGreaterThan(100 * layers);
      trace.result.dispose();
    });
  } finally {
    tf.dispose([ids, targets]);
    disposeAdamW(optimizer);
    disposeWeights(weights);
  }
}

describe('a traced training step on meta grows linearly with the layers', () => {
  beforeAll(async () => {
    registerMetaBackend();
    await tf.setBackend(META_BACKEND_NAME);
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('each layer adds the same work: going from 4 to 8 layers costs twice going from 2 to 4', () => {
    stepLookups(1); // the first step also fills the tracer's and the engine's caches
    const [at2, at4, at8] = [2, 4, 8].map((layers) => stepLookups(layers)) as [number, number, number];
    const perLayerFrom2 = (at4 - at2) / 2;
    const perLayerFrom4 = (at8 - at4) / 4;
    // Linear work gives equal increments per layer. The quadratic sweep the peak-memory sampler
    // did (every live buffer looked up after each kernel that could set a new peak) made the
    // second increment 1.88 times the first at these sizes, and worse with every layer.
    expect(perLayerFrom2).toBeGreaterThan(0);
    expect(perLayerFrom4 / perLayerFrom2).toBeGreaterThan(0.98);
    expect(perLayerFrom4 / perLayerFrom2).toBeLessThan(1.02);
  });
});

interface TapeNodeLike {
  readonly inputs: Record<string, { readonly id: number }>;
  readonly outputs: readonly { readonly id: number }[];
}

interface GradientsEngine {
  gradients: (f: () => tf.Tensor, xs: tf.Tensor[], ...rest: unknown[]) => unknown;
  state: { activeTape: TapeNodeLike[] | null };
}

/**
 * The inputs on the tape tfjs filters whose node has no input derived from the differentiated
 * tensors, counted by the filter's own rule as the forward function returns. tfjs's filter
 * (tape.ts, getFilteredNodesXToY) looks each of them up once per differentiated tensor.
 */
function underivedTapeInputs(step: () => void): { inputs: number; differentiated: number } {
  const engine = tf.engine() as unknown as GradientsEngine;
  const hadOwn = Object.prototype.hasOwnProperty.call(engine, 'gradients');
  const original = engine.gradients;
  const counted = { inputs: -1, differentiated: 0 };
  engine.gradients = function (this: unknown, f, xs, ...rest) {
    const forward = (): tf.Tensor => {
      const y = f();
      const derived = new Set(xs.map((x) => x.id));
      counted.inputs = 0;
      counted.differentiated = xs.length;
      for (const node of engine.state.activeTape ?? []) {
        const inputs = Object.values(node.inputs);
        if (inputs.some((input) => derived.has(input.id))) for (const output of node.outputs) derived.add(output.id);
        else counted.inputs += inputs.length;
      }
      return y;
    };
    return original.call(this, forward, xs, ...rest);
  };
  try {
    step();
  } finally {
    if (hadOwn) engine.gradients = original;
    else delete (engine as Partial<GradientsEngine>).gradients;
  }
  return counted;
}

describe("tfjs's tape filter stays linear in the layers", () => {
  beforeAll(async () => {
    registerMetaBackend();
    await tf.setBackend(META_BACKEND_NAME);
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('no input the filter would look up once per weight is left on the tape of a training step', () => {
    const config: ModelConfig = { ...wide(64, 32), num_layers: 3, vocab_size: 97 };
    const run = { batch: 1, seq: 32 };
    const weights = toTrainable(initWeights(config, { seed: 0, init: 'fill' }));
    const optimizer = initAdamW(parametersOf(weights));
    const ids = tokenIds(config, run, { seed: 0, init: 'fill' });
    const targets = targetIds(config, run, { seed: 0, init: 'fill' });
    try {
      const counted = underivedTapeInputs(() => {
        trainingStep(config, weights, { ids, targets }, optimizer, DEFAULT_ADAMW).dispose();
      });
      // 9 weights per layer and ln_final, token_embeddings, lm_head: the filter's inner loop length.
      expect(counted.differentiated).toBe(9 * 3 + 3);
      // Before the tape was pruned: 64 here, 21 per layer (the causal mask's Range, Greater, Fill and
      // Select, the clones kept for their gradients, the scalars of the scaled scores), each
      // looked up 30 times here and 3,459 times at 384 layers of GPT-2 XL's shape.
      expect(counted.inputs).toBe(0);
    } finally {
      tf.dispose([ids, targets]);
      disposeAdamW(optimizer);
      disposeWeights(weights);
    }
  });
});
