import type { ModelConfig } from '../config/model_config.js';

/** Forward FLOPs of one sequence of T tokens as constant + linear*T + quadratic*T^2. */
export interface FlopPolynomial {
  constant: bigint;
  linear: bigint;
  quadratic: bigint;
}

/**
 * Worked by hand from the architecture, independently of the row inventory, so each can check
 * the other. Per sequence (B = 1), per layer:
 *   q, k, v, output projections  4 * 2*T*d*d           = 8*d^2 * T
 *   w1, w3, w2                    3 * 2*T*d*F           = 6*d*F * T
 *   scores  q @ k^T               H * 2*T*dk*T = 2*d*T^2  (H*dk = d)
 *   weighted_sum  P @ v           H * 2*T*T*dk = 2*d*T^2
 * and once: lm_head 2*T*d*V. Embedding is a gather, not a matmul, so nothing is constant.
 * Hence linear = 2L(4d^2 + 3dF) + 2dV and quadratic = 4Ld.
 */
export function perSequenceFlopPolynomial(config: ModelConfig): FlopPolynomial {
  const L = BigInt(config.num_layers);
  const d = BigInt(config.d_model);
  const F = BigInt(config.d_ff);
  const V = BigInt(config.vocab_size);
  return {
    constant: 0n,
    linear: 2n * L * (4n * d * d + 3n * d * F) + 2n * d * V,
    quadratic: 4n * L * d,
  };
}

/** The polynomial's value at T tokens. */
export function evaluateFlopPolynomial(polynomial: FlopPolynomial, seq: number): bigint {
  const T = BigInt(seq);
  return polynomial.constant + polynomial.linear * T + polynomial.quadratic * T * T;
}
