import { matmulFlops, matmulMacs, product } from '../core/counting.js';
import {
  architectureOf,
  headDim,
  isMoeLayer,
  type Architecture,
  type MlaArchitecture,
  type ModelConfig,
  type MoeArchitecture,
  type RunShape,
} from '../config/model_config.js';
import { assignedExpertRows } from '../config/moe.js';
import { path } from '../core/module_paths.js';
import { dimensionSymbols } from './dimension_symbols.js';
import { blockedExtraMatmuls, scheduledCoreRows } from './attention_blocks.js';
import { assertRunFits } from './run_shape.js';
import type { MatmulComponent, MatmulRow } from './types.js';

/**
 * Derived from the architecture on paper (design.md section 1 and its variants, read through
 * architectureOf), not from the model's code, so that checking a trace against these rows
 * proves something.
 *
 * A weight W[d_in, d_out] is applied as x @ W: [B, T, d_in] x [d_in, d_out], batch [B],
 * m = T, k = d_in, n = d_out. Causal attention is counted in full: the kernels compute every
 * T x T score, masked or not. Bias adds, norms, the GELU/SiLU, the learned position add and the
 * embedding lookup are not matmuls and are counted elsewhere, by kernel rules.
 */
function matmul(
  modulePath: string,
  component: MatmulComponent,
  description: string,
  symbolicShapes: string,
  batch: readonly number[],
  m: number,
  k: number,
  n: number,
): MatmulRow {
  const batchElements = product(batch);
  const [bm, bk, bn] = [BigInt(m), BigInt(k), BigInt(n)];
  return {
    path: modulePath,
    component,
    description,
    symbolicShapes,
    batch,
    m,
    k,
    n,
    flops: matmulFlops(batchElements, bm, bk, bn),
    macs: matmulMacs(batchElements, bm, bk, bn),
  };
}

/**
 * Matmuls per layer: q, k, v (or one fused qkv_proj), scores, weighted_sum, output_proj, then 3
 * FFN matrices for a gated FFN (swiglu, geglu; 2 with gate_up fused) or 2 for the GELU MLP.
 */
export function matmulsPerLayer(config: ModelConfig): number {
  const architecture = architectureOf(config);
  if (architecture.moe !== undefined)
    throw new Error('matmulsPerLayer: a MoE layer has as many matmuls as its routing');
  // Latent attention: q_down, q_up (or q_proj), kv_down, kv_up and output_proj.
  const latent = architecture.mla === undefined ? undefined : architecture.mla.q_lora_rank === undefined ? 4 : 5;
  const projections = latent ?? (architecture.fused_qkv ? 2 : 4);
  const ffn = architecture.gated_ffn && !architecture.fused_gate_up ? 3 : 2;
  return projections + 2 + ffn;
}

/**
 * Matmuls of one forward pass: 9L + 1 with the SwiGLU FFN, 8L + 1 with the GELU MLP (the 1 is
 * lm_head); fewer when fused; with a blocked run, two per computed pair of blocks in place of a
 * layer's two core matmuls (attention_blocks.ts).
 */
export function expectedMatmulCount(config: ModelConfig, run?: RunShape): number {
  // A MoE layer's count follows its routing (an expert with no tokens runs no matmul).
  if (architectureOf(config).moe !== undefined)
    return forwardMatmulInventory(config, run ?? { batch: 1, seq: 1 }).length;
  return config.num_layers * matmulsPerLayer(config) + 1 + (run === undefined ? 0 : blockedExtraMatmuls(config, run));
}

/**
 * Every matmul of one forward pass, in execution order: per layer q, k, v, scores,
 * weighted_sum, output_proj, then w1, w3, w2 (swiglu, geglu) or w1, w2 (gelu); then lm_head.
 *
 * Variants:
 * - head_dim of its own (dh, not d / H): q is [d, dq] with dq = H * dh, k and v [d, Hkv * dh],
 *   output_proj [dq, d], and the core's products are dh deep.
 * - fused q/k/v (Phi-3): one matmul [B,T,d] x [d, dq + 2 dkv], split after it; fused gate/up: one
 *   [B,T,d] x [d, 2F]. The same FLOPs as the matmuls they join, in fewer rows.
 * - GeGLU: the SwiGLU's three matrices with GELU in place of SiLU (not a matmul).
 * - q/k norms, post-norms, soft-caps and the embedding scale are elementwise work, counted by
 *   kernel rules (non_matmul_estimate.ts), not here.
 * - grouped-query / multi-query attention: k_proj and v_proj are [d, dkv], dkv = Hkv * dk. The
 *   core still computes H score matrices: each key/value head is broadcast over the G = H / Hkv
 *   query heads that share it, so scores and weighted_sum cost exactly what multi-head
 *   attention's do.
 * - GELU MLP: y = GELU(x W1) W2, two matrices, no w3.
 * - vocab padding: lm_head's output width is the padded vocabulary Vp.
 * - tied embeddings: lm_head multiplies by E^T, the token_embeddings table [Vp, d] transposed;
 *   the same shape and FLOPs as an untied [d, Vp] weight.
 */
/**
 * The rows each routed expert of MoE layer `i` gets: the run's routing when it has one, else the
 * documented assignment (config/moe.ts, assignedExpertRows) for its batch * seq tokens.
 */
export function layerExpertRows(config: ModelConfig, run: RunShape, i: number): readonly number[] {
  const moe = architectureOf(config).moe;
  if (moe === undefined) return [];
  const given = run.routing?.rows[i];
  if (given !== undefined) return given;
  return assignedExpertRows(run.batch * run.seq, moe.num_experts, moe.experts_per_token);
}

/**
 * A MoE layer's matmuls on the N = B * T tokens flattened to rows: the router [N, d] x [d, E];
 * each routed expert e with n_e > 0 tokens runs its FFN on its gathered rows, [n_e, d] x [d, Fe]
 * (w1, w3) and [n_e, Fe] x [Fe, d] (w2), experts in index order (an expert no token chose runs
 * nothing); then the shared expert on all N rows and its gate [N, d] x [d, 1]. Sum over e of n_e
 * is k N, so the routed experts cost 2 k N * (3 d Fe) (gated) whatever the routing.
 */
function moeMatmuls(
  i: number,
  d: number,
  B: number,
  T: number,
  architecture: Architecture,
  moe: MoeArchitecture,
  expertRows: readonly number[],
): MatmulRow[] {
  const N = B * T;
  const E = moe.num_experts;
  const Fe = moe.expert_d_ff;
  const rows: MatmulRow[] = [
    // tokens flattened: x is (B*T, d)
    matmul(path.router(i), 'router', 'x @ Wr (router logits)', '[B*T,d] x [d,E]', [], N, d, E),
  ];
  for (let e = 0; e < E; e++) {
    const n = expertRows[e] ?? 0;
    if (n === 0) continue;
    const shape = `[n_${e},d] x [d,Fe]`;
    rows.push(matmul(path.expertMatrix(i, e, 'w1'), 'routed_experts', `x_${e} @ W1`, shape, [], n, d, Fe));
    if (architecture.gated_ffn) {
      rows.push(matmul(path.expertMatrix(i, e, 'w3'), 'routed_experts', `x_${e} @ W3`, shape, [], n, d, Fe));
    }
    rows.push(
      matmul(path.expertMatrix(i, e, 'w2'), 'routed_experts', `h_${e} @ W2`, `[n_${e},Fe] x [Fe,d]`, [], n, Fe, d),
    );
  }
  const Fs = moe.shared_d_ff;
  if (Fs !== undefined) {
    rows.push(matmul(path.sharedMatrix(i, 'w1'), 'shared_experts', 'x @ W1', '[B*T,d] x [d,Fs]', [], N, d, Fs));
    if (architecture.gated_ffn) {
      rows.push(matmul(path.sharedMatrix(i, 'w3'), 'shared_experts', 'x @ W3', '[B*T,d] x [d,Fs]', [], N, d, Fs));
    }
    rows.push(matmul(path.sharedMatrix(i, 'w2'), 'shared_experts', 'h @ W2', '[B*T,Fs] x [Fs,d]', [], N, Fs, d));
    if (moe.shared_expert_gate) {
      rows.push(matmul(path.sharedGate(i), 'shared_experts', 'x @ ws (shared gate)', '[B*T,d] x [d,1]', [], N, d, 1));
    }
  }
  return rows;
}

/**
 * A latent-attention layer's matmuls (config/latent_attention.ts), H heads, dn + dr = dqk:
 *   q_down   [B,T,d] x [d,rq]                 (or q_proj [B,T,d] x [d,H*dqk] when q is full-rank)
 *   q_up     [B,T,rq] x [rq,H*dqk]
 *   kv_down  [B,T,d] x [d,r+dr]               the latent c_KV and the shared rope key k_R
 *   kv_up    [B,T,r] x [r,H*(dn+dv)]          every head's key part k_C and value v
 *   scores   [B,H,T,dqk] x [B,H,dqk,T]        [q_C | q_R] . [k_C | k_R], k_R broadcast over the heads
 *   weighted_sum [B,H,T,T] x [B,H,T,dv]
 *   output_proj  [B,T,H*dv] x [H*dv,d]
 * This is the naive form, which rebuilds every head's key and value from the latent, as the
 * Hugging Face and DeepSeek modeling code compute it; the absorbed form (W_UK folded into the
 * query, W_UV into the output) is another count, not this one.
 */
function latentAttentionMatmuls(i: number, config: ModelConfig, run: RunShape, mla: MlaArchitecture): MatmulRow[] {
  const { d_model: d, num_heads: H } = config;
  const { batch: B, seq: T } = run;
  const { kv_lora_rank: r, qk_rope_head_dim: dr, qk_nope_head_dim: dn, v_head_dim: dv, qk_head_dim: dqk } = mla;
  const latent = 'latent_projections';
  const rows: MatmulRow[] = [];
  if (mla.q_lora_rank === undefined) {
    rows.push(
      matmul(
        path.attnProjection(i, 'q_proj'),
        'attention_projections',
        'x @ Wq',
        '[B,T,d] x [d,H*dqk]',
        [B],
        T,
        d,
        H * dqk,
      ),
    );
  } else {
    const rq = mla.q_lora_rank;
    rows.push(
      matmul(path.latentProjection(i, 'q_down'), latent, 'x @ W_DQ (query latent)', '[B,T,d] x [d,rq]', [B], T, d, rq),
      // the query latent, normed, is (B, T, rq)
      matmul(path.latentProjection(i, 'q_up'), latent, 'c_Q @ W_UQ', '[B,T,rq] x [rq,H*dqk]', [B], T, rq, H * dqk),
    );
  }
  rows.push(
    matmul(
      path.latentProjection(i, 'kv_down'),
      latent,
      'x @ W_DKV (latent c_KV and rope key k_R)',
      '[B,T,d] x [d,r+dr]',
      [B],
      T,
      d,
      r + dr,
    ),
    // c_KV, the first r features, normed, is (B, T, r)
    matmul(
      path.latentProjection(i, 'kv_up'),
      latent,
      "c_KV @ W_UKV (every head's k_C and v)",
      '[B,T,r] x [r,H*(dn+dv)]',
      [B],
      T,
      r,
      H * (dn + dv),
    ),
    // heads split: q and k are (B, H, T, dn + dr), k_R broadcast over the heads; v is (B, H, T, dv)
    matmul(path.scores(i), 'attention_core', 'q @ k^T / sqrt(dn + dr)', '[B,H,T,dqk] x [B,H,dqk,T]', [B, H], T, dqk, T),
    matmul(path.weightedSum(i), 'attention_core', 'P @ v', '[B,H,T,T] x [B,H,T,dv]', [B, H], T, T, dv),
    // heads merged: o is (B, T, H dv)
    matmul(
      path.attnProjection(i, 'output_proj'),
      'attention_projections',
      'o @ Wo',
      '[B,T,H*dv] x [H*dv,d]',
      [B],
      T,
      H * dv,
      d,
    ),
  );
  return rows;
}

export function forwardMatmulInventory(config: ModelConfig, run: RunShape): MatmulRow[] {
  assertRunFits(config, run);
  const architecture = architectureOf(config);
  const { num_layers: L, d_model: d, num_heads: H, d_ff: F } = config;
  const { padded_vocab_size: Vp, q_dim: dq, kv_dim: dkv } = architecture;
  const { batch: B, seq: T } = run;
  const dk = headDim(config);
  const symbol = dimensionSymbols(config);
  const grouped = architecture.num_kv_heads !== H;
  const kvHeads = grouped ? 'Hkv' : 'H';
  const shared = grouped ? `, each k shared by H/Hkv = ${H / architecture.num_kv_heads} query heads` : '';
  const sharedV = grouped ? `, each v shared by H/Hkv = ${H / architecture.num_kv_heads} query heads` : '';
  const rows: MatmulRow[] = [];
  for (let i = 0; i < L; i++) {
    const projection = 'attention_projections';
    if (architecture.mla !== undefined) rows.push(...latentAttentionMatmuls(i, config, run, architecture.mla));
    else
      rows.push(
        ...(architecture.fused_qkv
          ? [
              // one matmul for q, k and v, split after it along the output features
              matmul(
                path.qkvProj(i),
                projection,
                'x @ [Wq | Wk | Wv] (fused)',
                `[B,T,d] x [d,${symbol.q}+2*${symbol.kv}]`,
                [B],
                T,
                d,
                dq + 2 * dkv,
              ),
            ]
          : [
              matmul(
                path.attnProjection(i, 'q_proj'),
                projection,
                'x @ Wq',
                `[B,T,d] x [d,${symbol.q}]`,
                [B],
                T,
                d,
                dq,
              ),
              matmul(
                path.attnProjection(i, 'k_proj'),
                projection,
                'x @ Wk',
                `[B,T,d] x [d,${symbol.kv}]`,
                [B],
                T,
                d,
                dkv,
              ),
              matmul(
                path.attnProjection(i, 'v_proj'),
                projection,
                'x @ Wv',
                `[B,T,d] x [d,${symbol.kv}]`,
                [B],
                T,
                d,
                dkv,
              ),
            ]),
        // heads split: q is (B, H, T, dk); k and v are (B, Hkv, T, dk), broadcast over each group of query heads
        matmul(
          path.scores(i),
          'attention_core',
          `q @ k^T / sqrt(dk)${shared}`,
          `[B,H,T,dk] x [B,${kvHeads},dk,T]`,
          [B, H],
          T,
          dk,
          T,
        ),
        matmul(
          path.weightedSum(i),
          'attention_core',
          `P @ v${sharedV}`,
          `[B,H,T,T] x [B,${kvHeads},T,dk]`,
          [B, H],
          T,
          T,
          dk,
        ),
        // heads merged: o is (B, T, dq)
        matmul(
          path.attnProjection(i, 'output_proj'),
          projection,
          'o @ Wo',
          `[B,T,${symbol.q}] x [${symbol.q},d]`,
          [B],
          T,
          dq,
          d,
        ),
      );
    if (architecture.moe !== undefined && isMoeLayer(architecture, i)) {
      rows.push(...moeMatmuls(i, d, B, T, architecture, architecture.moe, layerExpertRows(config, run, i)));
    } else if (architecture.gated_ffn && architecture.fused_gate_up) {
      rows.push(
        // one matmul for W1 x and W3 x, split after it into the gate's halves
        matmul(path.gateUpProj(i), 'ffn', 'x @ [W1 | W3] (fused)', '[B,T,d] x [d,2*F]', [B], T, d, 2 * F),
        // h = SiLU(x W1) * (x W3), or GELU(x W1) * (x W3) for GeGLU, is (B, T, F)
        matmul(path.ffnMatrix(i, 'w2'), 'ffn', 'h @ W2', '[B,T,F] x [F,d]', [B], T, F, d),
      );
    } else if (architecture.gated_ffn) {
      rows.push(
        matmul(path.ffnMatrix(i, 'w1'), 'ffn', 'x @ W1', '[B,T,d] x [d,F]', [B], T, d, F),
        matmul(path.ffnMatrix(i, 'w3'), 'ffn', 'x @ W3', '[B,T,d] x [d,F]', [B], T, d, F),
        // h = SiLU(x W1) * (x W3), or GELU(x W1) * (x W3) for GeGLU, is (B, T, F)
        matmul(path.ffnMatrix(i, 'w2'), 'ffn', 'h @ W2', '[B,T,F] x [F,d]', [B], T, F, d),
      );
    } else {
      rows.push(
        matmul(path.ffnMatrix(i, 'w1'), 'ffn', 'x @ W1', '[B,T,d] x [d,F]', [B], T, d, F),
        // h = GELU(x W1) is (B, T, F)
        matmul(path.ffnMatrix(i, 'w2'), 'ffn', 'h @ W2', '[B,T,F] x [F,d]', [B], T, F, d),
      );
    }
  }
  rows.push(
    architecture.tie_embeddings
      ? matmul(
          path.lmHead,
          'lm_head',
          'x @ E^T (tied: reuses token_embeddings)',
          `[B,T,d] x [d,${symbol.vocab}]`,
          [B],
          T,
          d,
          Vp,
        )
      : matmul(path.lmHead, 'lm_head', 'x @ Wlm', `[B,T,d] x [d,${symbol.vocab}]`, [B], T, d, Vp),
  );
  // A blocked run computes each layer's core block by block (attention_blocks.ts).
  return scheduledCoreRows(config, run, rows);
}
