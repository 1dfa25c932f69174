import { sum } from '../../core/counting.js';

/**
 * AdamW (Loshchilov & Hutter 2019, Algorithm 2, with schedule multiplier 1) in the form PyTorch
 * and the CS336 handout implement it, and that flopledger's traced training step runs
 * (src/model/adamw.ts), for each parameter p with gradient g, moments m and v, step t:
 *
 *   m   = b1 * m + (1 - b1) * g
 *   v   = b2 * v + (1 - b2) * g^2
 *   a_t = lr * sqrt(1 - b2^t) / (1 - b1^t)         (both bias corrections folded into one scalar)
 *   p   = p - a_t * m / (sqrt(v) + eps)
 *   p   = p - lr * wd * p                          (decoupled weight decay)
 *
 * Convention: every elementwise arithmetic operation on a per-parameter value is one FLOP,
 * sqrt and division included (hardware spends more cycles on them; FLOP counts do not weigh
 * them): 3 + 4 + 5 + 2 = 14 per parameter, the same count the tracer's rule table gives the
 * optimizer's kernels, so the traced step checks it. Scalars that are the same for every
 * parameter (1 - b1, 1 - b2, b1^t, b2^t, a_t, lr * wd) are computed once per step, not per
 * parameter, and left out. Reading and writing memory, zeroing gradients and gradient clipping
 * are not arithmetic of the update and are not counted.
 *
 * Applying the bias corrections to m and v per parameter instead (m_hat = m / (1 - b1^t),
 * v_hat = v / (1 - b2^t), as the paper's Algorithm 2 writes it) costs two more divisions:
 * 16 per parameter. That is an alternative, stated here and not substituted.
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
  {
    step: 'p = p - a_t m / (sqrt(v) + eps)',
    operations: 'sqrt, + eps, divide, a_t * (...), subtract',
    flopsPerParameter: 5n,
  },
  { step: 'p = p - lr wd p', operations: '(lr wd) * p, subtract', flopsPerParameter: 2n },
];

/** FLOPs per parameter with the bias corrections applied per parameter (the alternative above; not used in totals). */
export const ADAMW_UNFOLDED_FLOPS_PER_PARAMETER = 16n;

export const ADAMW_CONVENTION =
  'AdamW FLOPs count every elementwise operation of the update on each parameter as 1 FLOP ' +
  '(sqrt and divide included), in the form PyTorch and CS336 implement and the traced step runs: ' +
  'm = b1 m + (1-b1) g (3), v = b2 v + (1-b2) g^2 (4), p -= a_t m/(sqrt(v)+eps) (5), p -= lr wd p (2): ' +
  `${sum(ADAMW_OPERATIONS.map((op) => op.flopsPerParameter))} per parameter, with both bias corrections folded into the scalar a_t. ` +
  'Per-step scalars (1-b1, b1^t, a_t, lr wd and the like) are computed once, not per parameter, and left out. ' +
  `Applying the bias corrections per parameter (m_hat, v_hat) gives ${ADAMW_UNFOLDED_FLOPS_PER_PARAMETER} per parameter instead.`;

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
