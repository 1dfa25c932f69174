/**
 * What scripts/bench measures: forward-pass configs from overhead-bound to matmul-bound, the
 * config the single-thread and threaded wasm builds race on, and the meta-trace points.
 */
import type { ConfigOverrides } from '../src/config/index.js';
import type { RunShape } from '../src/config/model_config.js';

export interface BenchConfig {
  /** Short name for tables. */
  readonly label: string;
  readonly model: string;
  readonly overrides: ConfigOverrides;
  readonly run: RunShape;
}

export const BENCH_CONFIGS: readonly BenchConfig[] = [
  { label: 'tiny (d=64, L=2), 1 x 64', model: 'tiny', overrides: {}, run: { batch: 1, seq: 64 } },
  {
    label: 'd=256, L=4, V=8192, 1 x 256',
    model: 'gpt2-small',
    overrides: { num_layers: 4, d_model: 256, num_heads: 4, d_ff: 1024, vocab_size: 8192, context_length: 256 },
    run: { batch: 1, seq: 256 },
  },
  {
    label: 'd=512, L=4, V=8192, 1 x 256',
    model: 'gpt2-small',
    overrides: { num_layers: 4, d_model: 512, num_heads: 8, d_ff: 2048, vocab_size: 8192, context_length: 256 },
    run: { batch: 1, seq: 256 },
  },
  {
    label: 'gpt2-small with 2 layers (d=768, V=50257), 1 x 128',
    model: 'gpt2-small',
    overrides: { num_layers: 2 },
    run: { batch: 1, seq: 128 },
  },
];

/** The matmul-bound config (d_model >= 512) both wasm builds are timed on. */
export const BENCH_THREAD_CONFIG: BenchConfig = BENCH_CONFIGS[2]!;

/** Full-size shape-only traces: GPT-2 XL at its context and at 16,384 tokens. */
export const META_POINTS: readonly { model: string; seq: number }[] = [
  { model: 'gpt2-xl', seq: 1024 },
  { model: 'gpt2-xl', seq: 16384 },
];
