import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import type { ModelConfig } from '../src/config/model_config.js';
import {
  disposeWeights,
  forward,
  fusedGatedFfn,
  initWeights,
  rmsNorm,
  tokenIds,
  type LayerWeights,
  type ModelParts,
  type TransformerWeights,
} from '../src/model/index.js';
import { useBackend } from '../src/runtime/backend.js';
import { arbitraryDenseRun } from './helpers/arbitrary_dense_model.js';
import { maxAbsDifference, testValues } from './helpers/test_values.js';

// ---------------------------------------------------------------------------------------------
// A reference forward pass in plain JavaScript (float64), written from the definitions of the
// newer dense architectures (Qwen2/3, Gemma 2/3, Phi-3, as transformers' modeling files compute
// them), sharing no code with src/model: it reads each weight by its field name.
//
//   x = E[ids] (* sqrt(d) when scaled) (+ P[t] with learned positions)
//   per layer:  a = attn(norm(x, ln1));  x = x + post(a, post_attn_norm)
//               f = ffn(norm(x, ln2));   x = x + post(f, post_ffn_norm)
//   logits = cap_final(head(norm(x, ln_final)))
//   attn: q, k, v = h Wq, h Wk, h Wv (+ biases), or h Wqkv split [dq | dkv | dkv];
//         per head: q, k normed over dh (q_norm, k_norm), rotated (RoPE), scores q.k / sqrt(dh),
//         cap_attn(scores) before the causal mask, softmax over keys 0..t, weighted sum of v;
//         heads merged (H dh wide), times Wo (+ bias)
//   ffn:  SwiGLU  W2(SiLU(h W1) * h W3), GeGLU W2(GELU_tanh(h W1) * h W3), GELU MLP W2(GELU(h W1));
//         a fused gate_up [W1 | W3] split after the product, the gate's half first
//   norm: RMSNorm x / rms * g, LayerNorm (x - mean) / std * g + b; a zero-centred gain is 1 + g
//   cap(z) = c tanh(z / c)

type Matrix = number[][];
type Vector = number[];
const EPS = 1e-5;

const read = <T>(tensor: tf.Tensor | undefined): T => tensor?.arraySync() as T;

function project(x: Vector, w: Matrix, b?: Vector): Vector {
  const out = new Array<number>(w[0]!.length).fill(0);
  x.forEach((xi, i) => w[i]!.forEach((wio, o) => (out[o]! += xi * wio)));
  return b === undefined ? out : out.map((value, o) => value + b[o]!);
}

const gelu = (z: number): number => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
const siluOf = (z: number): number => z / (1 + Math.exp(-z));
const capOf = (cap: number | undefined) => (z: number) => (cap === undefined ? z : cap * Math.tanh(z / cap));

function rope(head: Vector, t: number, theta: number): Vector {
  const dh = head.length;
  const out = head.slice();
  for (let i = 0; i < dh / 2; i++) {
    const angle = t / theta ** ((2 * i) / dh);
    const [a, b] = [head[2 * i]!, head[2 * i + 1]!];
    out[2 * i] = a * Math.cos(angle) - b * Math.sin(angle);
    out[2 * i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
  }
  return out;
}

function referenceLogits(config: ModelConfig, weights: TransformerWeights, ids: number[][]): number[][][] {
  const H = config.num_heads;
  const Hkv = config.num_kv_heads ?? H;
  const dh = config.head_dim ?? config.d_model / H;
  const [dq, dkv, F] = [H * dh, Hkv * dh, config.d_ff];
  const zeroCentred = config.zero_centered_gain === true;
  const norm = (x: Vector, gain: Vector, bias?: Vector): Vector => {
    const g = gain.map((value) => (zeroCentred ? 1 + value : value));
    const n = x.length;
    if ((config.norm ?? 'rmsnorm') === 'rmsnorm') {
      const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / n + EPS);
      return x.map((v, j) => (v / rms) * g[j]!);
    }
    const mean = x.reduce((s, v) => s + v, 0) / n;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    return x.map((v, j) => ((v - mean) / Math.sqrt(variance + EPS)) * g[j]! + bias![j]!);
  };
  const E = read<Matrix>(weights.token_embeddings);
  const P = read<Matrix | undefined>(weights.position_embeddings);
  const layers = weights.layers.map((layer) => {
    const fields: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(layer)) fields[name] = read(tensor as tf.Tensor);
    return fields as Record<string, Matrix & Vector>;
  });
  const attnCap = capOf(config.attn_softcap);
  const finalCap = capOf(config.final_softcap);
  const scale = config.scale_embeddings === true ? Math.sqrt(config.d_model) : 1;
  const theta = config.rope_theta ?? 10000;

  return ids.map((sequence) => {
    let x: Matrix = sequence.map((id, t) => E[id]!.map((e, j) => e * scale + (P === undefined ? 0 : P[t]![j]!)));
    for (const w of layers) {
      const h = x.map((row) => norm(row, w['ln1']!, w['ln1_bias']));
      let q: Matrix, k: Matrix, v: Matrix;
      if (w['qkv_proj'] !== undefined) {
        const joined = h.map((row) => project(row, w['qkv_proj']!, w['qkv_proj_bias']));
        [q, k, v] = [
          joined.map((row) => row.slice(0, dq)),
          joined.map((row) => row.slice(dq, dq + dkv)),
          joined.map((row) => row.slice(dq + dkv)),
        ];
      } else {
        q = h.map((row) => project(row, w['q_proj']!, w['q_proj_bias']));
        k = h.map((row) => project(row, w['k_proj']!, w['k_proj_bias']));
        v = h.map((row) => project(row, w['v_proj']!, w['v_proj_bias']));
      }
      const headOf = (rows: Matrix, head: number, gain?: Vector, bias?: Vector, rotate = false): Matrix =>
        rows.map((row, t) => {
          let slice = row.slice(head * dh, (head + 1) * dh);
          if (gain !== undefined) slice = norm(slice, gain, bias);
          return rotate && config.positions !== 'learned' ? rope(slice, t, theta) : slice;
        });
      const merged: Matrix = x.map(() => []);
      for (let head = 0; head < H; head++) {
        const shared = Math.floor(head / (H / Hkv));
        const qh = headOf(q, head, w['q_norm'], w['q_norm_bias'], true);
        const kh = headOf(k, shared, w['k_norm'], w['k_norm_bias'], true);
        const vh = headOf(v, shared);
        qh.forEach((query, t) => {
          const scores = kh
            .slice(0, t + 1)
            .map((key) => attnCap(query.reduce((s, qj, j) => s + qj * key[j]!, 0) / Math.sqrt(dh)));
          const top = Math.max(...scores);
          const p = scores.map((s) => Math.exp(s - top));
          const total = p.reduce((a, b) => a + b, 0);
          for (let j = 0; j < dh; j++) merged[t]!.push(p.reduce((s, pi, key) => s + (pi / total) * vh[key]![j]!, 0));
        });
      }
      x = x.map((row, t) => {
        let attended = project(merged[t]!, w['output_proj']!, w['output_proj_bias']);
        if (w['post_attn_norm'] !== undefined) attended = norm(attended, w['post_attn_norm'], w['post_attn_norm_bias']);
        return row.map((value, j) => value + attended[j]!);
      });
      x = x.map((row) => {
        const h2 = norm(row, w['ln2']!, w['ln2_bias']);
        let gate: Vector, up: Vector | undefined;
        if (w['gate_up_proj'] !== undefined) {
          const joined = project(h2, w['gate_up_proj'], w['gate_up_proj_bias']);
          [gate, up] = [joined.slice(0, F), joined.slice(F)];
        } else {
          gate = project(h2, w['w1']!, w['w1_bias']);
          up = w['w3'] === undefined ? undefined : project(h2, w['w3'], w['w3_bias']);
        }
        const activation = config.ffn === 'swiglu' || config.ffn === undefined ? siluOf : gelu;
        const hidden = gate.map((g, f) => activation(g) * (up === undefined ? 1 : up[f]!));
        let out = project(hidden, w['w2']!, w['w2_bias']);
        if (w['post_ffn_norm'] !== undefined) out = norm(out, w['post_ffn_norm'], w['post_ffn_norm_bias']);
        return row.map((value, j) => value + out[j]!);
      });
    }
    const lnFinal = read<Vector>(weights.ln_final);
    const lnFinalBias = read<Vector | undefined>(weights.ln_final_bias);
    const lmHead = read<Matrix | undefined>(weights.lm_head);
    return x.map((row) => {
      const normed = norm(row, lnFinal, lnFinalBias);
      const logits =
        lmHead === undefined
          ? E.map((embedding) => embedding.reduce((s, e, j) => s + e * normed[j]!, 0))
          : project(normed, lmHead);
      return logits.map(finalCap);
    });
  });
}

// ---------------------------------------------------------------------------------------------

/** Every norm gain and LayerNorm bias replaced by distinct values, so (1 + g) and the wrong vector would both show. */
function withVariedNorms(weights: TransformerWeights, seed: number): TransformerWeights {
  let next = seed;
  const varied = (tensor: tf.Tensor1D): tf.Tensor1D => {
    const values = testValues(tensor.size, next++).map((value) => 0.5 * value + (tensor.dataSync()[0] ?? 0));
    tensor.dispose();
    return tf.tensor1d(values);
  };
  const NORMS = ['ln1', 'ln2', 'q_norm', 'k_norm', 'post_attn_norm', 'post_ffn_norm'] as const;
  const layers = weights.layers.map((layer) => {
    const out: LayerWeights = { ...layer };
    for (const name of NORMS) {
      const gain = layer[name];
      if (gain !== undefined) out[name] = varied(gain);
      const bias = layer[`${name}_bias`];
      if (bias !== undefined) out[`${name}_bias`] = varied(bias);
    }
    return out;
  });
  return {
    ...weights,
    layers,
    ln_final: varied(weights.ln_final),
    ...(weights.ln_final_bias === undefined ? {} : { ln_final_bias: varied(weights.ln_final_bias) }),
  };
}

const denseRun = arbitraryDenseRun({
  source: 'test/dense_features_reference.test.ts',
  batchMax: 2,
  seqMax: 6,
  spareContextMax: 0,
  seedMax: 1000,
});

describe('the newer dense features against a plain-JavaScript reference (cpu)', () => {
  beforeAll(async () => {
    tf.env().set('IS_TEST', true);
    await useBackend('cpu');
  });

  it('logits match the definitions within 1e-5 for random configs across the feature space', () => {
    fc.assert(
      fc.property(denseRun, ({ config, run, seed }) => {
        const weights = withVariedNorms(initWeights(config, { seed, init: 'random' }), seed);
        try {
          const baseline = tf.memory().numTensors;
          const idsT = tokenIds(config, run, { seed, init: 'random' });
          const ids = idsT.arraySync();
          const logits = tf.tidy(() => forward(config, weights, idsT).arraySync());
          idsT.dispose();
          const reference = referenceLogits(config, weights, ids);
          const flat = (values: number[][][]) => values.flat(2);
          const scaleOf = Math.max(1, ...flat(reference).map(Math.abs));
          expect(flat(logits).length).toBe(flat(reference).length);
          expect(maxAbsDifference(flat(logits), flat(reference)) / scaleOf).toBeLessThan(1e-5);
          expect(tf.memory().numTensors).toBe(baseline);
        } finally {
          disposeWeights(weights);
        }
      }),
      { numRuns: 60, seed: 15_2026 },
    );
  });

  it('tells apart a model that leaves out any one feature: the reference is not blind to them', () => {
    // Every feature on at once, Gemma 2's block with Qwen3's q/k norms and Phi-3's fusion.
    const config: ModelConfig = {
      name: 'every-dense-feature',
      source: 'test/dense_features_reference.test.ts',
      vocab_size: 7,
      context_length: 4,
      num_layers: 2,
      d_model: 6,
      num_heads: 2,
      d_ff: 5,
      num_kv_heads: 1,
      head_dim: 4,
      ffn: 'geglu',
      qkv_bias: true,
      qk_norm: true,
      fused_qkv: true,
      fused_gate_up: true,
      scale_embeddings: true,
      zero_centered_gain: true,
      post_norms: true,
      attn_softcap: 0.5,
      final_softcap: 2,
    };
    const weights = withVariedNorms(initWeights(config, { seed: 3, init: 'random' }), 3);
    const ids = tf.tensor2d([[1, 4, 0, 6]], [1, 4], 'int32');
    try {
      const reference = referenceLogits(config, weights, [[1, 4, 0, 6]]).flat(2);
      const gapWith = (parts: Partial<ModelParts>) =>
        maxAbsDifference(
          tf.tidy(() => forward(config, weights, ids, parts).dataSync()),
          reference,
        );
      expect(gapWith({})).toBeLessThan(1e-5);
      const leftOut: Record<string, Partial<ModelParts>> = {
        'the embedding scale': { scaleEmbeddings: (x) => x },
        'the output cap': { capLogits: (x) => x },
        'the attention cap': { softcap: (scores) => scores },
        "GeGLU's GELU (SiLU instead)": {
          fusedGatedFfn: (x, gateUp, w2, _activation, project) => fusedGatedFfn(x, gateUp, w2, 'silu', project),
        },
        'the (1 + gain) of the norms': { rmsNorm: (x, gain, eps) => rmsNorm(x, tf.sub(gain, 1), eps) },
      };
      for (const [feature, parts] of Object.entries(leftOut)) expect(gapWith(parts), feature).toBeGreaterThan(1e-3);
    } finally {
      ids.dispose();
      disposeWeights(weights);
    }
  });
});
