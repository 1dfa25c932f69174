/**
 * Runs held together by the one memory guard: a bench that keeps several models' weights alive
 * while their passes take turns is held to the sum of every run's weights and the largest run's
 * activations, and refused on one line, before a tensor exists, when that does not fit.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadModelConfig } from '../src/config/index.js';
import { InputError } from '../src/core/errors.js';
import { assertRunsFitTogether, estimateRunMemory, WASM_HEAP_BYTES } from '../src/runtime/memory_guard.js';
import { setUpRuns } from '../src/runtime/run_setup.js';
import { BENCH_CONFIGS } from '../scripts/bench_configs.js';
import { tinyConfig } from './helpers/small_configs.js';

const small = { config: tinyConfig('tiny', 'test/memory_guard_together.test.ts'), run: { batch: 1, seq: 8 } };
const larger = {
  config: loadModelConfig('gpt2-small', { num_layers: 1, d_model: 64, num_heads: 2, d_ff: 256, vocab_size: 512 }),
  run: { batch: 1, seq: 32 },
};

describe('runs held together', () => {
  const [a, b] = [small, larger].map(({ config, run }) => estimateRunMemory(config, run, 'timing', 'wasm'));
  const weightsOf = (estimate: typeof a) => estimate!.weights + estimate!.packedWeights;
  const restOf = (estimate: typeof a) => estimate!.total - weightsOf(estimate);
  // both weights, and the activations of whichever pass holds more
  const together = weightsOf(a) + weightsOf(b) + (restOf(a) > restOf(b) ? restOf(a) : restOf(b));

  it('fit when every weight and the largest pass fit', () => {
    expect(assertRunsFitTogether([small, larger], 'timing', 'wasm', together)).toEqual([a, b]);
  });

  it('are refused on one line when the sum does not fit, though each run fits alone', () => {
    expect(a!.total).toBeLessThan(together);
    expect(b!.total).toBeLessThan(together);
    const refuse = () => assertRunsFitTogether([small, larger], 'timing', 'wasm', together - 1n);
    expect(refuse).toThrow(InputError);
    expect(refuse).toThrow(/^2 runs held at once \(timing tiny at batch 1 x 8 tokens; timing .* need about .* on wasm/);
    expect(refuse).toThrow(/over the .* budget \(--max-memory\); run fewer or smaller configs at once$/);
  });

  it("hold the roofline bench's configs to the budget before any tensor exists", async () => {
    const runs = BENCH_CONFIGS.map((bench) => ({
      config: loadModelConfig(bench.model, bench.overrides),
      run: bench.run,
    }));
    // The four configs fit the wasm heap together, so `npm run bench` is not refused there...
    const estimates = assertRunsFitTogether(runs, 'timing', 'wasm', WASM_HEAP_BYTES);
    expect(estimates).toHaveLength(4);
    // ...and a budget each fits alone but not the four together refuses them as a whole, before
    // the first pass.
    const largest = runs
      .map(({ config, run }) => estimateRunMemory(config, run, 'timing', 'cpu').total)
      .reduce((most, total) => (total > most ? total : most));
    await expect(setUpRuns({ backend: 'cpu', maxMemoryBytes: largest }, 'timing', runs, 'together')).rejects.toThrow(
      /^4 runs held at once .* over the .* budget \(--max-memory\)/,
    );
    expect(tf.memory().numTensors).toBe(0);
  });
});
