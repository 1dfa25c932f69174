/**
 * Prefill: one forward pass over the P prompt tokens of each of B sequences, which fills the
 * cache with their keys and values (the same matmuls as the forward pass; computing K and V
 * costs nothing extra for keeping them). Its attention core is the forward pass's, counted as
 * the forward inventory counts it.
 *
 * Two labelled counts, never substituted for each other:
 * - logits at every position: lm_head over all B x P tokens, as the forward pass computes it
 *   (what a training-style forward or a scoring run does);
 * - logits at the last position only: lm_head over the B last tokens, all that sampling the
 *   first generated token needs (what inference servers run).
 */
import type { ModelConfig } from '../../config/model_config.js';
import { matmulFlops } from '../../core/counting.js';
import { path } from '../../core/module_paths.js';
import { forwardMatmulInventory } from '../forward_matmuls.js';
import type { MatmulRow } from '../types.js';

export interface PrefillFlops {
  readonly batch: number;
  readonly prompt: number;
  /** Matmul FLOPs with lm_head at every position. */
  readonly allLogits: bigint;
  /** Matmul FLOPs with lm_head at the last position of each sequence only. */
  readonly lastLogits: bigint;
  /** lm_head's FLOPs in each count. */
  readonly lmHeadAll: bigint;
  readonly lmHeadLast: bigint;
  /** Every matmul of the prefill, logits at every position. */
  readonly rows: readonly MatmulRow[];
}

/** Matmul FLOPs of a prefill of `prompt` tokens for `batch` sequences; throws InputError past the context. */
export function prefillFlops(config: ModelConfig, batch: number, prompt: number): PrefillFlops {
  const rows = forwardMatmulInventory(config, { batch, seq: prompt });
  const lmHead = rows.find((row) => row.path === path.lmHead);
  if (lmHead?.m !== prompt) throw new Error('prefill: the forward inventory has no lm_head row');
  const allLogits = rows.reduce((total, row) => total + row.flops, 0n);
  // [B, 1, d] x [d, Vp]: the last position of each sequence.
  const lmHeadLast = matmulFlops(BigInt(batch), 1n, BigInt(lmHead.k), BigInt(lmHead.n));
  return {
    batch,
    prompt,
    allLogits,
    lastLogits: allLogits - lmHead.flops + lmHeadLast,
    lmHeadAll: lmHead.flops,
    lmHeadLast,
    rows,
  };
}
