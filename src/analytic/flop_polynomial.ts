import { architectureOf, type ModelConfig } from '../config/model_config.js';

/** Forward FLOPs of one sequence of T tokens as constant + linear*T + quadratic*T^2. */
export interface FlopPolynomial {
  constant: bigint;
  linear: bigint;
  quadratic: bigint;
}

/**
 * Worked by hand from the architecture, independently of the row inventory, so each can check
 * the other. Per sequence (B = 1), per layer, with dkv = num_kv_heads * dk the width of k and v:
 *   q and output projections      2 * 2*T*d*d           = 4*d^2 * T
 *   k and v projections           2 * 2*T*d*dkv         = 4*d*dkv * T
 *   FFN, c matrices of d x F      c * 2*T*d*F           = 2c*d*F * T   (c = 3 swiglu, 2 gelu)
 *   scores  q @ k^T               H * 2*T*dk*T = 2*d*T^2  (H query heads, H*dk = d; k is
 *                                 broadcast over the query heads sharing it, so dkv plays no part)
 *   weighted_sum  P @ v           H * 2*T*T*dk = 2*d*T^2
 * and once: lm_head 2*T*d*Vp (Vp the padded vocabulary; tied or not, the same product).
 * Embedding and position lookups are gathers and biases are adds, so nothing is constant.
 * Hence linear = 2L(2d^2 + 2d*dkv + c*d*F) + 2d*Vp and quadratic = 4Ld; with multi-head
 * attention (dkv = d) and swiglu that is the seed's 2L(4d^2 + 3dF) + 2dV.
 */
export function perSequenceFlopPolynomial(config: ModelConfig): FlopPolynomial {
  const architecture = architectureOf(config);
  const L = BigInt(config.num_layers);
  const d = BigInt(config.d_model);
  const F = BigInt(config.d_ff);
  const dq = BigInt(architecture.q_dim);
  const dkv = BigInt(architecture.kv_dim);
  const Vp = BigInt(architecture.padded_vocab_size);
  const ffnMatrices = architecture.gated_ffn ? 3n : 2n;
  return {
    constant: 0n,
    linear: 2n * L * (2n * d * dq + 2n * d * dkv + ffnMatrices * d * F) + 2n * d * Vp,
    quadratic: 4n * L * dq,
  };
}
