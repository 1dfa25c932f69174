/**
 * Random model configs for property tests. The ranges reach past every preset (GPT-2 XL's 48
 * layers and 50,257-token vocabulary, 32K context) so a property is checked well outside the
 * shapes the presets pin down.
 */
import fc from 'fast-check';
import type { ModelConfig, RunShape } from '../../src/config/model_config.js';

/** The seed's architecture (SwiGLU, RMSNorm, RoPE, untied, no biases) at random sizes. */
export const arbitrarySeedConfig: fc.Arbitrary<ModelConfig> = fc
  .record({
    vocab_size: fc.integer({ min: 1, max: 200_000 }),
    context_length: fc.integer({ min: 1, max: 32_768 }),
    num_layers: fc.integer({ min: 1, max: 48 }),
    num_heads: fc.integer({ min: 1, max: 64 }),
    halfHeadDim: fc.integer({ min: 1, max: 128 }), // RoPE rotates pairs: dk is even
    d_ff: fc.integer({ min: 1, max: 50_000 }),
  })
  .map(({ halfHeadDim, ...dims }) => ({
    name: 'random',
    source: 'test:random',
    ...dims,
    d_model: dims.num_heads * 2 * halfHeadDim,
  }));

/** Each config with a run of 1 to `maxBatch` sequences of 1 to context_length tokens. */
export function withRunShape(
  configs: fc.Arbitrary<ModelConfig>,
  maxBatch: number,
): fc.Arbitrary<[ModelConfig, RunShape]> {
  return configs.chain((config) =>
    fc.tuple(
      fc.constant(config),
      fc.record({
        batch: fc.integer({ min: 1, max: maxBatch }),
        seq: fc.integer({ min: 1, max: config.context_length }),
      }),
    ),
  );
}
