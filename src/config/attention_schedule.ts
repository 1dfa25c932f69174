/**
 * How the attention core is computed, a property of the run (the kernels), not of the model:
 *
 * - dense: every score of the T x T matrix (q @ k^T), then the mask, the softmax and P @ v over
 *   all T keys. What eager attention does, and what flopledger counted before there was a choice.
 * - blocked: the queries and the keys are cut into blocks of `block` positions (the last block of
 *   each may be shorter). A (query block, key block) pair whose every score the mask removes (a
 *   key block wholly after the query block, or wholly before its window) is skipped, as
 *   FlashAttention-style kernels skip it; every other pair is computed in full, scores and P @ v,
 *   and the positions the mask removes inside it are masked. The softmax of a query block runs
 *   over the key blocks it kept.
 *
 * The model computes the blocked schedule by testing each pair of blocks against the mask
 * (src/model/causal_softmax.ts); the formulas count it in closed form
 * (src/analytic/attention_blocks.ts), so a trace that matches them checks one against the other.
 */

export type AttentionSchedule =
  | { readonly kind: 'dense' }
  | {
      readonly kind: 'blocked';
      /** Query and key positions per block (FlashAttention-2 uses 64 or 128). */
      readonly block: number;
    };

export const DENSE_ATTENTION: AttentionSchedule = { kind: 'dense' };

export type AttentionKind = AttentionSchedule['kind'];

/** The block size a blocked run takes when none is given: FlashAttention-2's usual 64. */
export const DEFAULT_ATTENTION_BLOCK = 64;

/** "dense attention", or "blocked attention, 64 x 64 blocks". */
export function attentionLabel(schedule: AttentionSchedule): string {
  return schedule.kind === 'dense'
    ? 'dense attention'
    : `blocked attention, ${schedule.block} x ${schedule.block} blocks`;
}

/** The block size of a blocked schedule, or undefined for dense. */
export function blockOf(schedule: AttentionSchedule | undefined): number | undefined {
  return schedule?.kind === 'blocked' ? schedule.block : undefined;
}
