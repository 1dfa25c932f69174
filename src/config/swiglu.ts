/**
 * The SwiGLU sizing rule: d_ff = 8/3 * d_model rounded UP to a multiple of 64, so the three FFN
 * matrices hold about as many parameters as a 4*d_model two-matrix MLP and stay tile-friendly.
 *
 * Exact integer arithmetic: ceil((8d/3) / 64) * 64 = ceil(d / 24) * 64, because 8/(3*64) = 1/24.
 * Worked by hand: d=768 -> 32*64 = 2048; d=1024 -> ceil(42.67) = 43 -> 2752;
 * d=1280 -> ceil(53.33) = 54 -> 3456; d=1600 -> ceil(66.67) = 67 -> 4288.
 */
import { InputError } from '../core/errors.js';

export function swigluDff(d_model: number): number {
  if (!Number.isSafeInteger(d_model) || d_model <= 0) {
    throw new InputError(`swigluDff: d_model (${d_model}) must be a positive integer`);
  }
  const d = BigInt(d_model);
  const dff = ((d + 23n) / 24n) * 64n;
  if (dff > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(
      `swigluDff: d_model (${d_model}) is too large: the SwiGLU d_ff (${dff}) is not a safe integer`,
    );
  }
  return Number(dff);
}
