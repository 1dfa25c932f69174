import type { ModelConfig } from '../../config/model_config.js';
import { trainingMemory, type ActivationRow } from './training_memory.js';

/**
 * Peak training memory at a fixed sequence length is linear in the batch: every activation has
 * B as its leading dimension and nothing else grows with B. So
 *
 *   bytes(B) = constant + perBatch * B,
 *
 * constant = parameters + gradients + AdamW moments (16 bytes per parameter in fp32) and
 * perBatch = the activations of one sequence, T^2 attention terms included.
 */
export interface TrainingMemoryPolynomial {
  readonly seq: number;
  readonly constant: bigint;
  readonly perBatch: bigint;
  /**
   * "16 P + 4 B (L (8 T d + 4 T F + 2 H T^2) + T d + 2 T V)" bytes, built from the activation
   * table; with learned positions the position add leads: "16 P + 4 B (T d + L (...) + ...)".
   */
  readonly symbolic: string;
}

export function trainingMemoryPolynomial(config: ModelConfig, seq: number): TrainingMemoryPolynomial {
  const oneSequence = trainingMemory(config, { batch: 1, seq });
  const perBatch = oneSequence.activations.total;
  const constant = oneSequence.total - perBatch;
  const bytesPerParameter = constant / oneSequence.parameterCount;
  const { initial: initialRows } = oneSequence.activations;
  const initial = initialRows.length === 0 ? '' : `${perSequenceMonomials(initialRows)} + `;
  const perLayer = perSequenceMonomials(oneSequence.activations.perLayer);
  const final = perSequenceMonomials(oneSequence.activations.final);
  const symbolic =
    `${bytesPerParameter} P + ${oneSequence.bytesPerElement} B ` + `(${initial}L (${perLayer}) + ${final})`;
  return { seq, constant, perBatch, symbolic };
}

/**
 * Sums the rows' shapes with B factored out, like terms gathered, lower degrees first:
 * [B,H,T,T] + 2 x [B,T,d] -> "2 T d + H T^2".
 */
function perSequenceMonomials(rows: readonly ActivationRow[]): string {
  const terms = new Map<string, { degree: number; count: number }>();
  for (const row of rows) {
    const [leading, ...rest] = row.shape.symbolic;
    if (leading !== 'B') throw new Error(`activation ${row.name}: shape [${row.shape.symbolic}] does not lead with B`);
    const term = monomial(rest);
    const entry = terms.get(term) ?? { degree: rest.length, count: 0 };
    terms.set(term, { ...entry, count: entry.count + 1 });
  }
  return [...terms]
    .sort(([, a], [, b]) => a.degree - b.degree)
    .map(([term, { count }]) => (count === 1 ? term : `${count} ${term}`))
    .join(' + ');
}

/** ["H", "T", "T"] -> "H T^2": each symbol once, in order of first appearance, with its power. */
function monomial(symbols: readonly string[]): string {
  const powers = new Map<string, number>();
  for (const symbol of symbols) powers.set(symbol, (powers.get(symbol) ?? 0) + 1);
  return [...powers].map(([symbol, power]) => (power === 1 ? symbol : `${symbol}^${power}`)).join(' ');
}
