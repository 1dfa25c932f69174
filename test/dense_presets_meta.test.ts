import { beforeAll, describe, expect, it } from 'vitest';

import {
  architectureOf,
  loadModelConfig,
  resolveRunShape,
  type ModelConfig,
  type RunShape,
} from '../src/config/index.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { verifyModel } from '../src/verify/index.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { cli } from './helpers/cli_runner.js';

/**
 * Every preset of the newer dense models, verified on the shape-only backend at its full context
 * (Llama 3.1 at 131,072 tokens), forward and training step; and each hub config.json read by
 * --config with no key left unexplained, describing exactly its preset.
 */
const PRESETS: readonly [preset: string, fixture: string][] = [
  ['qwen2.5-0.5b', 'Qwen2.5-0.5B.json'],
  ['qwen2.5-7b', 'Qwen2.5-7B.json'],
  ['qwen3-8b', 'Qwen3-8B.json'],
  ['gemma-2-2b', 'Gemma-2-2B.json'],
  ['gemma-2-9b', 'Gemma-2-9B.json'],
  ['phi-3-mini-4k', 'Phi-3-mini-4k-instruct.json'],
  ['llama-3.1-8b', 'Llama-3.1-8B.json'],
  ['llama-3.1-70b', 'Llama-3.1-70B.json'],
  ['llama-3.1-405b', 'Llama-3.1-405B.json'],
];

/**
 * Forward matmul FLOPs written from the definitions, dense attention: per layer
 * 2N (d dq + 2 d dkv + dq d + 3 d F) + 4 B H T^2 dh, then 2 N d V (N = B T, dq = H dh,
 * dkv = Hkv dh; every one of these models has a gated FFN; a fused projection costs what it joins).
 */
function forwardFlops(config: ModelConfig, run: RunShape): bigint {
  const H = BigInt(config.num_heads);
  const Hkv = BigInt(config.num_kv_heads ?? config.num_heads);
  const dh = BigInt(config.head_dim ?? config.d_model / config.num_heads);
  const [d, F, L, V] = [config.d_model, config.d_ff, config.num_layers, config.vocab_size].map(BigInt) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  const [B, T] = [BigInt(run.batch), BigInt(run.seq)];
  const N = B * T;
  const perLayer = 2n * N * (2n * d * H * dh + 2n * d * Hkv * dh + 3n * d * F) + 4n * B * H * T * T * dh;
  return L * perLayer + 2n * N * d * V;
}

/** Every dimension and architecture choice, defaults resolved, so two configs that say the same thing compare equal. */
function shape(config: ModelConfig) {
  const { vocab_size, context_length, num_layers, d_model, num_heads, d_ff, window, window_layers } = config;
  return {
    vocab_size,
    context_length,
    num_layers,
    d_model,
    num_heads,
    d_ff,
    window,
    window_layers,
    ...architectureOf(config),
  };
}

describe('the newer dense presets on meta at full context', () => {
  beforeAll(() => {
    registerMetaBackend();
  });

  it.each(PRESETS)('%s: forward and training step verify exactly', async (preset) => {
    const config = loadModelConfig(preset);
    const run = resolveRunShape(config);
    expect(run).toEqual({ batch: 1, seq: config.context_length });
    const flops = forwardFlops(config, run);
    const forward = await verifyModel({ config, run, backend: 'meta' });
    expect(forward.matmuls.mismatches).toEqual([]);
    expect(forward.ok).toBe(true);
    expect(forward.matmuls.tracedTotal).toBe(flops);
    expect(forward.nonMatmul.uncounted).toEqual([]);
    expect(forward.nonMatmul.traced).toBe(forward.nonMatmul.estimate);

    const training = await verifyTraining({ config, run, backend: 'meta' });
    expect(training.forward.mismatches).toEqual([]);
    expect(training.backward.mismatches).toEqual([]);
    expect(training.ok).toBe(true);
    expect(training.total.forward).toBe(flops);
    expect(training.total.backward).toBe(2n * flops);
  });
});

describe('the hub configs of the newer dense models', () => {
  it.each(PRESETS)('%s: --config reads %s with every key explained, as the preset', async (preset, fixture) => {
    const path = `test/fixtures/hf/${fixture}`;
    const { code, stdout, stderr } = await cli('params', '--config', path, '--format', 'json');
    expect(code).toBe(0);
    const notes = stderr.split('\n').filter((line) => line !== '');
    for (const line of notes) expect(line).toMatch(/^flopledger: note: /);
    expect(stderr).not.toContain('not understood');
    expect(BigInt(JSON.parse(stdout).total)).toBe(
      BigInt(JSON.parse((await cli('params', preset, '--format', 'json')).stdout).total),
    );
    expect(shape(loadModelConfig(path))).toEqual(shape(loadModelConfig(preset)));
  });
});
