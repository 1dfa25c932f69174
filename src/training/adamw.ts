import { sum } from '../counting.js';

/**
 * AdamW (Loshchilov & Hutter 2019, Algorithm 2, with schedule multiplier 1) as one step updates
 * each parameter p with gradient g, moments m and v, step t:
 *
 *   m     = b1 * m + (1 - b1) * g
 *   v     = b2 * v + (1 - b2) * g^2
 *   m_hat = m / (1 - b1^t)
 *   v_hat = v / (1 - b2^t)
 *   p     = p - lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)
 *
 * Convention: every elementwise arithmetic operation on a per-parameter value is one FLOP,
 * sqrt and division included (hardware spends more cycles on them; FLOP counts do not weigh
 * them). Scalars that are the same for every parameter (1 - b1, 1 - b2, b1^t, b2^t, 1 - b1^t,
 * 1 - b2^t) are computed once per step, not per parameter: a handful of FLOPs against billions,
 * so they are left out. Reading and writing memory, zeroing gradients and gradient clipping are
 * not arithmetic of the update and are not counted.
 *
 * Folding both bias corrections into the step size, alpha_t = lr * sqrt(1 - b2^t) / (1 - b1^t),
 * as the CS336 handout and PyTorch write it (p -= alpha_t m / (sqrt(v) + eps); p -= lr wd p),
 * saves the two per-parameter divisions: 3 + 4 + 5 + 2 = 14 per parameter. That is an
 * alternative, stated here and not substituted.
 */
export interface AdamwOperation {
  /** The line of the update it belongs to. */
  readonly step: string;
  /** The elementwise operations counted on that line. */
  readonly operations: string;
  readonly flopsPerParameter: bigint;
}

export const ADAMW_OPERATIONS: readonly AdamwOperation[] = [
  { step: 'm = b1 m + (1 - b1) g', operations: 'b1 * m, (1 - b1) * g, add', flopsPerParameter: 3n },
  { step: 'v = b2 v + (1 - b2) g^2', operations: 'g * g, b2 * v, (1 - b2) * g^2, add', flopsPerParameter: 4n },
  { step: 'm_hat = m / (1 - b1^t)', operations: 'divide', flopsPerParameter: 1n },
  { step: 'v_hat = v / (1 - b2^t)', operations: 'divide', flopsPerParameter: 1n },
  {
    step: 'p = p - lr (m_hat / (sqrt(v_hat) + eps) + wd p)',
    operations: 'sqrt, + eps, divide, wd * p, add, lr * (...), subtract',
    flopsPerParameter: 7n,
  },
];

/** FLOPs per parameter under the folded alternative described above (not used in totals). */
export const ADAMW_FOLDED_FLOPS_PER_PARAMETER = 14n;

export const ADAMW_CONVENTION =
  'AdamW FLOPs count every elementwise operation of the update on each parameter as 1 FLOP ' +
  '(sqrt and divide included): m = b1 m + (1-b1) g (3), v = b2 v + (1-b2) g^2 (4), ' +
  'm_hat = m/(1-b1^t) (1), v_hat = v/(1-b2^t) (1), p -= lr (m_hat/(sqrt(v_hat)+eps) + wd p) (7): ' +
  `${sum(ADAMW_OPERATIONS.map((op) => op.flopsPerParameter))} per parameter. ` +
  'Per-step scalars (1-b1, b1^t, 1-b1^t and the same for b2) are computed once, not per parameter, and left out. ' +
  `Folding the bias corrections into the step size (CS336, PyTorch) gives ${ADAMW_FOLDED_FLOPS_PER_PARAMETER} per parameter instead.`;

export interface AdamwFlops {
  perParameter: bigint;
  total: bigint;
  convention: string;
}

/** FLOPs of one AdamW step over `parameterCount` trained parameters. */
export function adamwUpdateFlops(parameterCount: bigint): AdamwFlops {
  if (parameterCount < 0n) throw new RangeError(`adamw: parameter count (${parameterCount}) is negative`);
  const perParameter = sum(ADAMW_OPERATIONS.map((op) => op.flopsPerParameter));
  return { perParameter, total: perParameter * parameterCount, convention: ADAMW_CONVENTION };
}
