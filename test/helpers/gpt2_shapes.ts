/**
 * The seed problem's GPT-2 shapes, written from its text rather than read from models/: V 50,257,
 * context 1,024 and F = 4d, so a test that uses them checks the presets and the code from outside.
 */
import type { ModelConfig } from '../../src/config/model_config.js';

export function gpt2Shape(name: string, num_layers: number, d_model: number, num_heads: number): ModelConfig {
  return {
    name,
    source: `test:${name}`,
    vocab_size: 50257,
    context_length: 1024,
    num_layers,
    d_model,
    num_heads,
    d_ff: 4 * d_model,
  };
}

/** L 48, d 1600, H 25, F 6400: the seed's sanity anchor of 2,127,057,600 parameters. */
export const GPT2_XL = gpt2Shape('gpt2-xl', 48, 1600, 25);
