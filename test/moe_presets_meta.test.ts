import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

import { forwardFlopBreakdown, summarizeParameters } from '../src/analytic/index.js';
import { loadModelConfig, resolveRunShape, type ModelConfig, type RunShape } from '../src/config/index.js';
import { registerMetaBackend } from '../src/meta/index.js';
import { verifyModel } from '../src/verify/index.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { expectRoutedTrainingExact } from './helpers/routed_reports.js';

/**
 * The mixture-of-experts presets on the shape-only backend at their full context (none reaches
 * 128K), where meta routes by the documented assignment; and the README's table of their
 * parameters and forward FLOPs, set against the tool and against closed forms written here from
 * the definitions, sharing no code with src/analytic.
 */

/** The dimensions every closed form below reads, as bigints. */
function dims(config: ModelConfig) {
  const big = (value: number | undefined) => BigInt(value ?? 0);
  const H = big(config.num_heads);
  const dh = big(config.head_dim ?? config.d_model / config.num_heads);
  return {
    d: big(config.d_model),
    V: big(config.vocab_size),
    L: big(config.num_layers),
    H,
    dh,
    dq: H * dh,
    dkv: big(config.num_kv_heads ?? config.num_heads) * dh,
    E: big(config.num_experts),
    k: big(config.experts_per_token),
    Fe: big(config.expert_d_ff ?? config.d_ff), // Mixtral's experts are d_ff wide
    Fs: big(config.shared_d_ff),
    gate: config.shared_expert_gate === true ? 1n : 0n,
  };
}

/**
 * Forward matmul FLOPs at B x T, every layer a MoE layer with SwiGLU experts (3 matrices): per layer
 * the projections 2N (d dq + 2 d dkv + dq d), the dense core 4 B H T^2 dh, the router 2 N d E, k
 * routed experts per token 2 (k N) 3 d Fe, the shared expert 2 N 3 d Fs and its gate 2 N d; then
 * lm_head 2 N d V.
 */
function forwardFlops(config: ModelConfig, run: RunShape): bigint {
  const { d, V, L, H, dh, dq, dkv, E, k, Fe, Fs, gate } = dims(config);
  const [B, T] = [BigInt(run.batch), BigInt(run.seq)];
  const N = B * T;
  const layer =
    2n * N * (d * dq + 2n * d * dkv + dq * d) +
    4n * B * H * T * T * dh +
    2n * N * d * E +
    2n * k * N * 3n * d * Fe +
    2n * N * 3n * d * Fs +
    2n * N * d * gate;
  return L * layer + 2n * N * d * V;
}

/**
 * Parameters: the embedding table and lm_head 2 V d, the final norm d; per layer q, k, v and the
 * output d dq + 2 d dkv + dq d (+ dq + 2 dkv of q/k/v biases; + 2 dh of q/k norms), two norms 2 d,
 * the router d E, E experts of 3 d Fe, the shared expert 3 d Fs and its gate d. Active per token:
 * less the E - k routed experts a token does not visit in each layer.
 */
function parameterCounts(config: ModelConfig): { total: bigint; active: bigint } {
  const { d, V, L, dh, dq, dkv, E, k, Fe, Fs, gate } = dims(config);
  const qkvBias = config.qkv_bias === true ? dq + 2n * dkv : 0n;
  const qkNorm = config.qk_norm === true ? 2n * dh : 0n;
  const layer =
    2n * d * dq + 2n * d * dkv + qkvBias + qkNorm + 2n * d + d * E + E * 3n * d * Fe + 3n * d * Fs + gate * d;
  const total = 2n * V * d + d + L * layer;
  return { total, active: total - L * (E - k) * 3n * d * Fe };
}

const PRESETS = ['mixtral-8x7b', 'qwen3-30b-a3b', 'qwen1.5-moe-a2.7b'] as const;

/** The README's row for `preset` in the MoE table, its numbers as bigints. */
function readmeRow(preset: string): bigint[] {
  // The MoE table's rows, after its header (DeepSeek's presets have rows in the latent table too).
  const lines = readFileSync('README.md', 'utf8').split('\n');
  const header = lines.findIndex((row) => row.startsWith('| preset | experts |'));
  const line = lines.slice(header).find((row) => row.startsWith(`| ${preset} |`));
  if (line === undefined) throw new Error(`README.md has no table row for ${preset}`);
  return line
    .split('|')
    .slice(3, -1)
    .map((cell) => BigInt(cell.trim().replaceAll(',', '')));
}

describe('the mixture-of-experts presets on meta at full context', () => {
  beforeAll(() => {
    registerMetaBackend();
  });

  it.each(PRESETS)('%s: the forward pass verifies exactly, every expert on its assigned rows', async (preset) => {
    const config = loadModelConfig(preset);
    const run = resolveRunShape(config);
    expect(run).toEqual({ batch: 1, seq: config.context_length });
    const forward = await verifyModel({ config, run, backend: 'meta' });
    expect(forward.matmuls.mismatches).toEqual([]);
    expect(forward.work.mismatches).toEqual([]);
    expect(forward.bytes.mismatches).toEqual([]);
    expect(forward.ok).toBe(true);
    expect(forward.matmuls.tracedTotal).toBe(forwardFlops(config, run));
    // The documented assignment spreads the k T rows evenly: each expert takes k residues mod E,
    // floor(T / E) or ceil(T / E) tokens each (Mixtral, Qwen3: E divides T; Qwen1.5: 60 does not).
    const [T, k, E] = [config.context_length, config.experts_per_token!, config.num_experts!];
    for (const layer of forward.routing!.layers) {
      expect(layer.expertRows).toHaveLength(E);
      expect(layer.expertRows.reduce((a, b) => a + b, 0)).toBe(k * T);
      for (const rows of layer.expertRows) {
        expect(rows).toBeGreaterThanOrEqual(k * Math.floor(T / E));
        expect(rows).toBeLessThanOrEqual(k * Math.ceil(T / E));
      }
    }
  });

  it.each(PRESETS)('%s: the training step verifies exactly', async (preset) => {
    const config = loadModelConfig(preset);
    const run = resolveRunShape(config);
    const flops = forwardFlops(config, run);
    const training = await verifyTraining({ config, run, backend: 'meta' });
    expectRoutedTrainingExact(training);
    expect(training.total.forward).toBe(flops);
    expect(training.total.backward).toBe(2n * flops);
  });
});

describe("the README's table of the MoE presets", () => {
  it.each(PRESETS)('%s: parameters and forward FLOPs as the tool and the closed forms give them', (preset) => {
    const config = loadModelConfig(preset);
    const [total, active, activeNonEmbedding, flopsAt4096, flopsAtContext] = readmeRow(preset);
    const counts = parameterCounts(config);
    const summary = summarizeParameters(config);
    expect([summary.total, summary.active]).toEqual([counts.total, counts.active]);
    expect([total, active, activeNonEmbedding]).toEqual([
      counts.total,
      counts.active,
      counts.active - BigInt(config.vocab_size * config.d_model),
    ]);
    const short = { batch: 1, seq: 4096 };
    const full = resolveRunShape(config);
    expect(forwardFlopBreakdown(config, short).total).toBe(forwardFlops(config, short));
    expect([flopsAt4096, flopsAtContext]).toEqual([forwardFlops(config, short), forwardFlops(config, full)]);
  });
});

describe("the README's rows of the DeepSeek presets", () => {
  it.each(['deepseek-v2-lite', 'deepseek-v2', 'deepseek-v3'])(
    '%s: parameters and forward FLOPs as the tool gives them',
    (preset) => {
      const config = loadModelConfig(preset);
      const summary = summarizeParameters(config);
      const full = resolveRunShape(config);
      expect(full.seq).toBe(163_840);
      expect(readmeRow(preset)).toEqual([
        summary.total,
        summary.active,
        summary.activeNonEmbedding,
        forwardFlopBreakdown(config, { batch: 1, seq: 4096 }).total,
        forwardFlopBreakdown(config, full).total,
      ]);
    },
  );
});
