import { groupDigits } from '../../core/format.js';

/**
 * A count that grows linearly in the batch B and polynomially in the sequence length T, with the
 * model's dimensions already substituted:
 *
 *   value(B, T) = B * (c1 T + c2 T^2 + ...),   perSequence[j] = c_j
 *
 * Saved activations and recomputed FLOPs have this form: every tensor leads with B, and T
 * appears once ([B, T, d]) or twice ([B, H, T, T]). No term is free of B.
 */
export interface BatchSeqPolynomial {
  /** perSequence[j] is the coefficient of B T^j. */
  readonly perSequence: readonly bigint[];
}

export const ZERO_POLYNOMIAL: BatchSeqPolynomial = { perSequence: [] };

/** Canonical form: no trailing zero coefficients, so equal polynomials have equal lists. */
function trimmed(perSequence: readonly bigint[]): BatchSeqPolynomial {
  let length = perSequence.length;
  while (length > 0 && perSequence[length - 1] === 0n) length--;
  return { perSequence: perSequence.slice(0, length) };
}

/** The single term coefficient * B * T^power. */
export function monomial(coefficient: bigint, power: number): BatchSeqPolynomial {
  return trimmed(Array.from({ length: power + 1 }, (_, j) => (j === power ? coefficient : 0n)));
}

export function addPolynomials(...terms: readonly BatchSeqPolynomial[]): BatchSeqPolynomial {
  const length = Math.max(0, ...terms.map((term) => term.perSequence.length));
  return trimmed(
    Array.from({ length }, (_, j) => terms.reduce((total, term) => total + (term.perSequence[j] ?? 0n), 0n)),
  );
}

export function scalePolynomial(polynomial: BatchSeqPolynomial, factor: bigint): BatchSeqPolynomial {
  return trimmed(polynomial.perSequence.map((coefficient) => coefficient * factor));
}

/** The value of one sequence of `seq` tokens: c1 T + c2 T^2 + ... */
export function perSequenceAt(polynomial: BatchSeqPolynomial, seq: number): bigint {
  const t = BigInt(seq);
  return polynomial.perSequence.reduce((total, coefficient, j) => total + coefficient * t ** BigInt(j), 0n);
}

export function evaluatePolynomial(polynomial: BatchSeqPolynomial, batch: number, seq: number): bigint {
  return BigInt(batch) * perSequenceAt(polynomial, seq);
}

/** "B (88 T + 6 T^2)"; "0" for the zero polynomial. */
export function formatPolynomial(polynomial: BatchSeqPolynomial): string {
  const terms = polynomial.perSequence
    .map((coefficient, j) => ({ coefficient, j }))
    .filter(({ coefficient }) => coefficient !== 0n)
    .map(({ coefficient, j }) => {
      const power = j === 0 ? '' : j === 1 ? 'T' : `T^${j}`;
      return power === '' ? groupDigits(coefficient) : `${groupDigits(coefficient)} ${power}`;
    });
  return terms.length === 0 ? '0' : `B (${terms.join(' + ')})`;
}
