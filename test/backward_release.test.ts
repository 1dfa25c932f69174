/**
 * The backward pass frees what each node is done with (src/model/backward_release.ts): the same
 * gradients, bit for bit, as tfjs's own pass, which frees nothing until it ends; and the storage
 * of a real step at its last backward kernel, worked by hand.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { useBackend } from '../src/runtime/backend.js';
import { disposeWeights, forward, initWeights, tokenIds, type BlockCheckpointing } from '../src/model/index.js';
import { rerunInBackward, withRerunConstants } from '../src/model/checkpoint.js';
import { addKeepingNothing } from '../src/model/lean_gradients.js';
import { attributeBackward, meanCrossEntropy, parametersOf, targetIds, toTrainable } from '../src/runtime/index.js';
import { loadModelConfig } from '../src/config/index.js';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { everyVariantConfig, tinyConfig } from './helpers/small_configs.js';

const run: RunShape = { batch: 2, seq: 8 };

/** Every weight's gradient as plain numbers, from tfjs's own pass or from the releasing one. */
function gradientValues(
  config: ModelConfig,
  checkpoint: BlockCheckpointing,
  releasing: boolean,
  shape: RunShape = run,
): (number[] | null)[] {
  const weights = toTrainable(initWeights(config, { seed: 3, init: 'random' }));
  const ids = tokenIds(config, shape, { seed: 3, init: 'random' });
  const targets = targetIds(config, shape, { seed: 3, init: 'random' });
  try {
    const variables = parametersOf(weights).map((parameter) => parameter.variable);
    const lossOf = () => meanCrossEntropy(forward(config, weights, ids, {}, { checkpoint }), targets);
    const gradients = () =>
      withRerunConstants(() => tf.tidy(() => tf.engine().gradients(lossOf, variables, undefined, true)));
    const { value, grads } = releasing ? attributeBackward(gradients, variables) : gradients();
    // A weight the loss does not reach (an expert no token chose) has no gradient: null.
    const values = grads.map((grad) => (grad == null ? null : Array.from(grad.dataSync())));
    tf.dispose([value, ...grads.filter((grad): grad is tf.Tensor => grad != null)]);
    return values;
  } finally {
    tf.dispose([ids, targets]);
    disposeWeights(weights);
  }
}

describe('a backward pass that frees as it goes', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  afterAll(() => {
    tf.disposeVariables();
  });

  // The every-variant model ties its table (two gradients summed into one) and its residual adds
  // hand dy to both inputs: the two cases where a gradient is not a node's own new tensor.
  const cases: [string, ModelConfig, BlockCheckpointing][] = [
    ['the seed model', tinyConfig('tiny', 'test/backward_release.test.ts'), 'none'],
    ['GPT-2 blocks, GQA, a tied and padded table', everyVariantConfig('test/backward_release.test.ts'), 'none'],
    ['the same, every block checkpointed', everyVariantConfig('test/backward_release.test.ts'), 'full'],
    ['the same, every attention core checkpointed', everyVariantConfig('test/backward_release.test.ts'), 'selective'],
  ];
  it.each(cases)('%s: the same gradients, bit for bit, and no tensor left behind', (_, config, checkpoint) => {
    const before = tf.memory().numTensors;
    const plain = gradientValues(config, checkpoint, false);
    const released = gradientValues(config, checkpoint, true);
    expect(released).toHaveLength(plain.length);
    released.forEach((values, i) => expect(values, `weight ${i}`).toEqual(plain[i]));
    expect(tf.memory().numTensors).toBe(before);
  });

  // Two tokens choose two of six experts each: at least two experts run nothing and get no
  // gradient, and the routing gathers, the top-k and the scatter back are on the tape.
  const moe: ModelConfig = {
    name: 'moe',
    source: 'test/backward_release.test.ts',
    vocab_size: 13,
    context_length: 8,
    num_layers: 2,
    d_model: 8,
    num_heads: 2,
    d_ff: 12,
    ffn: 'swiglu',
    num_experts: 6,
    experts_per_token: 2,
    expert_d_ff: 4,
    shared_d_ff: 4,
    shared_expert_gate: true,
    normalize_top_k: true,
    router_bias: true,
    tie_embeddings: true,
  };
  it.each(['none', 'selective', 'full'] as const)(
    'a tied MoE model with unused experts, checkpointing %s: the same gradients, bit for bit',
    (checkpoint) => {
      const before = tf.memory().numTensors;
      const twoTokens: RunShape = { batch: 1, seq: 2 };
      const plain = gradientValues(moe, checkpoint, false, twoTokens);
      const released = gradientValues(moe, checkpoint, true, twoTokens);
      // Each unused expert's three matrices: no gradient, or zeros where a checkpointed block's rerun made them.
      const unused = plain.filter((values) => values === null || values.every((value) => value === 0));
      expect(unused.length).toBeGreaterThanOrEqual(2 * 2 * 3);
      expect(released).toEqual(plain);
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('the seed model at 16 tokens: its last backward kernel holds the step state, the gradients and one dy', async () => {
    const config = loadModelConfig('tiny');
    const tokens = { batch: 1, seq: 16 };
    const verification = await verifyTraining({ config, run: tokens, backend: 'cpu', seed: 1 });
    const peak = verification.memory.measured.bufferPeakByPhase.backward!;
    // tiny: V 256, d 64, L 2, F 256, so P = 164,160 (the preset table's count) and 4P bytes of gradients.
    const P = summarizeParameters(config).total;
    expect(P).toBe(164_160n);
    // Held before: weights, m and v (12P) and the ids and targets (2 x 16 int32).
    const held = 12n * P + 2n * 16n * 4n;
    // The table's gradient is the pass's last kernel: every gradient is made, every kept
    // activation released, and only the gradient arriving at the lookup, [1, 16, 64] fp32,
    // and the 4-byte loss are left besides. tfjs's own pass held 3,604,236 bytes here.
    expect(peak.kernel).toBe('ScatterNd');
    expect(peak.path).toBe('token_embeddings');
    expect(BigInt(peak.bytes)).toBe(held + 4n * P + 4n + 16n * 64n * 4n);
    expect(BigInt(peak.bytes)).toBe(2_630_788n);
  });

  /** The gradients of `f` at `x`, from tfjs's own pass and from the releasing one, as plain numbers. */
  function bothPasses(f: (t: tf.Tensor) => tf.Tensor, x: tf.Tensor): { plain: number[]; released: number[] } {
    const run = (): tf.Tensor[] => tf.grads(f)([x]);
    const values = (grads: tf.Tensor[]): number[] => {
      const out = Array.from(grads[0]!.dataSync());
      tf.dispose(grads);
      return out;
    };
    return { plain: values(run()), released: values(attributeBackward(run)) };
  }

  // x = [1 .. 6]; each gradient by hand.
  const graphs: [string, (t: tf.Tensor) => tf.Tensor, number[]][] = [
    [
      // Split's unused middle output has no dy (null): tfjs hands the gradient zeros for it.
      'a Split with an unused output: d sum(a c) = [c, 0, a]',
      (t) => {
        const [a, , c] = tf.split(t, 3, 1); // (1, 2) each
        return tf.sum(tf.mul(a!, c!));
      },
      [5, 6, 0, 0, 1, 2],
    ],
    [
      'an Unstack with an unused output: d sum(a^2) = [2a, 0]',
      (t) => tf.sum(tf.square(tf.unstack(tf.reshape(t, [2, 3]))[0]!)), // (2, 3) rows
      [2, 4, 6, 0, 0, 0],
    ],
    ['one tensor as both factors: d sum(x x) = 2x', (t) => tf.sum(tf.mul(t, t)), [2, 4, 6, 8, 10, 12]],
    [
      'one tensor as both terms of a sum whose gradient is dy itself: d sum((x + x) x) = 4x',
      (t) => tf.sum(tf.mul(addKeepingNothing(t, t), t)),
      [4, 8, 12, 16, 20, 24],
    ],
    [
      'one tensor joined to itself: d sum(concat(x, x)^2) = 4x',
      (t) => tf.sum(tf.square(tf.concat([t, t], 1))),
      [4, 8, 12, 16, 20, 24],
    ],
    [
      'a rerun whose first gradient is its dy: d sum((a + 3a) x) = 8x',
      (t) =>
        tf.sum(
          tf.mul(
            rerunInBackward(([a]) => addKeepingNothing(a!, tf.mul(a!, 3)), [t]),
            t,
          ),
        ),
      [8, 16, 24, 32, 40, 48],
    ],
  ];
  it.each(graphs)('%s, as tfjs computes it, and nothing left behind', (_, f, expected) => {
    const x = tf.tensor2d([[1, 2, 3, 4, 5, 6]]);
    const before = tf.memory().numTensors;
    const { plain, released } = bothPasses(f, x);
    expect(plain).toEqual(expected);
    expect(released).toEqual(expected);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it("the dy a caller hands to the pass stays the caller's", () => {
    const x = tf.tensor1d([1, 2, 3]);
    const dy = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    // d/dx of 2x against dy is 2 dy.
    const [grad] = attributeBackward(() => tf.grads((t: tf.Tensor) => tf.mul(t, 2))([x], dy));
    expect(Array.from(grad!.dataSync())).toEqual([2, 4, 6]);
    grad!.dispose();
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(dy.dataSync())).toEqual([1, 2, 3]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy]);
  });

  it('two passes in one step (gradients accumulated over two batches) each sum their own gradients', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    // x reaches the loss twice, so each pass adds two gradients: d sum(2x + 3x) = 5 in each.
    const f = (t: tf.Tensor): tf.Tensor => tf.sum(tf.add(tf.mul(t, 2), tf.mul(t, 3)));
    const passes = attributeBackward(() => [tf.grads(f)([x]), tf.grads(f)([x])]);
    expect(passes.map(([grad]) => Array.from(grad!.dataSync()))).toEqual([
      [5, 5, 5],
      [5, 5, 5],
    ]);
    tf.dispose(passes.flat());
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('a gradient that throws mid-pass, in the step or in a rerun, leaves no tensor behind', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const initial = tf.tensor1d([1, 1, 1]);
    const w = tf.variable(initial);
    const before = tf.memory().numTensors;
    const failing = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
      (inputs[1] as tf.GradSaveFunc)([inputs[0] as tf.Tensor]);
      return {
        value: tf.mul(inputs[0] as tf.Tensor, 2),
        gradFunc: () => {
          throw new Error('planted');
        },
      };
    });
    // Nodes after the failing one (Exp, the last Mul) have already run and freed what they kept.
    const inStep = (): tf.Tensor => tf.sum(tf.mul(tf.exp(failing(tf.mul(x, w))), w));
    const inRerun = (): tf.Tensor =>
      tf.sum(
        tf.mul(
          rerunInBackward(([a]) => tf.exp(failing(tf.mul(a!, w))), [tf.mul(x, w)], [w]),
          w,
        ),
      );
    for (const loss of [inStep, inRerun]) {
      expect(() => attributeBackward(() => tf.tidy(() => tf.engine().gradients(loss, [w])), [w])).toThrow('planted');
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x, w, initial]);
  });
});
