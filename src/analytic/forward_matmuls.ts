import { matmulFlops, matmulMacs, product } from '../counting.js';
import { headDim, type ModelConfig, type RunShape } from '../config/model_config.js';
import { path } from '../module_paths.js';
import { assertRunFits } from './run_shape.js';
import type { MatmulComponent, MatmulRow } from './types.js';

/**
 * Derived from the architecture on paper (design.md section 1), not from the model's code, so
 * that checking a trace against these rows proves something.
 *
 * A weight W[d_in, d_out] is applied as x @ W: [B, T, d_in] x [d_in, d_out], batch [B],
 * m = T, k = d_in, n = d_out. Causal attention is counted in full: the kernels compute every
 * T x T score, masked or not.
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

/** Every matmul of one forward pass, in execution order: 9 per layer, then lm_head. */
export function forwardMatmulInventory(config: ModelConfig, run: RunShape): MatmulRow[] {
  assertRunFits(config, run);
  const { vocab_size: V, num_layers: L, d_model: d, num_heads: H, d_ff: F } = config;
  const { batch: B, seq: T } = run;
  const dk = headDim(config);
  const rows: MatmulRow[] = [];
  for (let i = 0; i < L; i++) {
    const projection = 'attention_projections';
    rows.push(
      matmul(path.attnProjection(i, 'q_proj'), projection, 'x @ Wq', '[B,T,d] x [d,d]', [B], T, d, d),
      matmul(path.attnProjection(i, 'k_proj'), projection, 'x @ Wk', '[B,T,d] x [d,d]', [B], T, d, d),
      matmul(path.attnProjection(i, 'v_proj'), projection, 'x @ Wv', '[B,T,d] x [d,d]', [B], T, d, d),
      // heads split: q, k, v are (B, H, T, dk)
      matmul(path.scores(i), 'attention_core', 'q @ k^T / sqrt(dk)', '[B,H,T,dk] x [B,H,dk,T]', [B, H], T, dk, T),
      matmul(path.weightedSum(i), 'attention_core', 'P @ v', '[B,H,T,T] x [B,H,T,dk]', [B, H], T, T, dk),
      // heads merged: o is (B, T, d)
      matmul(path.attnProjection(i, 'output_proj'), projection, 'o @ Wo', '[B,T,d] x [d,d]', [B], T, d, d),
      matmul(path.ffnMatrix(i, 'w1'), 'ffn', 'x @ W1', '[B,T,d] x [d,F]', [B], T, d, F),
      matmul(path.ffnMatrix(i, 'w3'), 'ffn', 'x @ W3', '[B,T,d] x [d,F]', [B], T, d, F),
      // h = SiLU(x W1) * (x W3) is (B, T, F)
      matmul(path.ffnMatrix(i, 'w2'), 'ffn', 'h @ W2', '[B,T,F] x [F,d]', [B], T, F, d),
    );
  }
  rows.push(matmul(path.lmHead, 'lm_head', 'x @ Wlm', '[B,T,d] x [d,V]', [B], T, d, V));
  return rows;
}
