import { describe, expect, it } from 'vitest';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { stepBoundaries } from '../src/analytic/training/index.js';

/**
 * The gradients a boundary of the backward pass holds follow what the loss reaches: a routed
 * expert no token chose and a router's score bias (it only chooses) get theirs as zeros once the
 * pass is over, except under full checkpointing, whose block backward makes them as it ends.
 * Worked by hand on one MoE layer: d 4, E 3 experts of width 2, k 1, a score bias [E].
 */
const moe: ModelConfig = {
  name: 'moe-boundaries',
  source: 'test/step_boundaries.test.ts',
  vocab_size: 8,
  context_length: 4,
  num_layers: 1,
  d_model: 4,
  num_heads: 2,
  d_ff: 2,
  ffn: 'swiglu',
  num_experts: 3,
  experts_per_token: 1,
  expert_d_ff: 2,
  normalize_top_k: false,
  router_bias: false,
  router_scoring: 'softmax',
  router_score_bias: true,
  routed_scaling_factor: 1,
};

// One expert: w1 and w3 [4, 2], w2 [2, 4]: 24 parameters, 96 bytes of gradient.
const EXPERT_BYTES = 4n * 3n * 4n * 2n;
const SCORE_BIAS_BYTES = 4n * 3n;

function embeddingsBoundary(run: RunShape, checkpoint: 'none' | 'full') {
  const boundaries = stepBoundaries(moe, run, checkpoint);
  const last = boundaries.at(-1)!;
  expect(last.layer).toBeUndefined();
  return last;
}

describe('the backward boundaries of a mixture-of-experts step', () => {
  const run: RunShape = { batch: 1, seq: 4 };
  const everyExpert: RunShape = { ...run, routing: { rows: [[2, 1, 1]] } };
  const expertTwoUnchosen: RunShape = { ...run, routing: { rows: [[3, 1, 0]] } };

  it('an expert no token chose has no gradient yet, nor has the score bias', () => {
    const all = embeddingsBoundary(everyExpert, 'none');
    const unchosen = embeddingsBoundary(expertTwoUnchosen, 'none');
    expect(all.gradients - unchosen.gradients).toBe(EXPERT_BYTES);
    expect(all.bytes - unchosen.bytes).toBe(96n);
    // Held before counts every parameter, reached or not: 12 bytes each and the ids and targets.
    expect(unchosen.heldBefore).toBe(all.heldBefore);
  });

  it('full checkpointing gives every parameter of the block its gradient as the block ends', () => {
    const none = embeddingsBoundary(expertTwoUnchosen, 'none');
    const full = embeddingsBoundary(expertTwoUnchosen, 'full');
    expect(full.gradients - none.gradients).toBe(EXPERT_BYTES + SCORE_BIAS_BYTES);
    expect(full.gradients).toBe(embeddingsBoundary(everyExpert, 'full').gradients);
  });

  it('with no routing given, the shape-only assignment gives each of 3 experts a row of 4 tokens', () => {
    expect(embeddingsBoundary(run, 'none').gradients).toBe(embeddingsBoundary(everyExpert, 'none').gradients);
    expect(embeddingsBoundary({ batch: 1, seq: 2 }, 'none').gradients).toBe(
      embeddingsBoundary({ batch: 1, seq: 2, routing: { rows: [[1, 1, 0]] } }, 'none').gradients,
    );
  });
});
