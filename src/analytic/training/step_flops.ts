import { forwardFlopBreakdown } from '../flop_breakdown.js';
import { summarizeParameters } from '../parameters.js';
import type { ModelConfig, RunShape } from '../../config/model_config.js';
import { adamwUpdateFlops } from './adamw.js';
import { backwardFlopBreakdown } from './backward_flops.js';

/**
 * FLOPs of one training step on one batch: forward matmuls + backward matmuls + one AdamW update
 * of every parameter (a tied table is one parameter set, updated once). Non-matmul work (norms,
 * softmax, RoPE, SiLU or GELU, bias and residual adds, the learned position add, cross-entropy,
 * the embedding's scatter-add) is left out of these totals: it is counted kernel by kernel from
 * a trace, not by formula.
 */
export interface TrainingStepFlops {
  run: RunShape;
  forward: bigint;
  backward: bigint;
  optimizer: bigint;
  total: bigint;
}

export function trainingStepFlops(config: ModelConfig, run: RunShape): TrainingStepFlops {
  const forward = forwardFlopBreakdown(config, run).total;
  const backward = backwardFlopBreakdown(config, run).total;
  const optimizer = adamwUpdateFlops(summarizeParameters(config).total).total;
  return { run, forward, backward, optimizer, total: forward + backward + optimizer };
}
