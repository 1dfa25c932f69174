import { architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import { forwardFlopBreakdown, type FlopBreakdown } from './flop_breakdown.js';
import { summarizeParameters } from './parameters.js';

/** One model at one run shape, with the counts a comparison table needs. */
export interface SweepPoint {
  label: string;
  /** The config the counts were made with (context_length possibly raised, see label). */
  config: ModelConfig;
  run: RunShape;
  parameters: bigint;
  breakdown: FlopBreakdown;
}

/**
 * A sweep asks "what if", so a run longer than the context is answered with the context raised
 * to fit, and the label says so. With RoPE the parameters do not depend on context_length; with
 * learned positions the position table grows to the raised context, so the point's parameter
 * count is the raised model's, and the label says that too.
 */
function sweepPoint(config: ModelConfig, run: RunShape, label: string): SweepPoint {
  const raised = run.seq > config.context_length;
  const fitted: ModelConfig = raised
    ? {
        ...config,
        context_length: run.seq,
        variant: [config.variant, `ctx=${run.seq}`].filter((part) => part !== undefined).join(', '),
      }
    : config;
  const positionTable =
    architectureOf(config).positions === 'learned' ? `; the learned position table grows to ${run.seq} rows` : '';
  const fullLabel = raised
    ? `${label} (context_length raised from ${config.context_length} to ${run.seq}${positionTable})`
    : label;
  return {
    label: fullLabel,
    config: fitted,
    run,
    parameters: summarizeParameters(fitted).total,
    breakdown: forwardFlopBreakdown(fitted, run),
  };
}

function describeRun(config: ModelConfig, run: RunShape): string {
  const name = config.variant === undefined ? config.name : `${config.name} (${config.variant})`;
  return run.batch === 1 ? `${name} T=${run.seq}` : `${name} B=${run.batch} T=${run.seq}`;
}

/** Several models, each by default at its own context_length with batch 1. */
export function sweepModels(
  configs: ModelConfig[],
  run: (config: ModelConfig) => RunShape = (config) => ({ batch: 1, seq: config.context_length }),
): SweepPoint[] {
  return configs.map((config) => {
    const shape = run(config);
    return sweepPoint(config, shape, describeRun(config, shape));
  });
}

/** One model at several sequence lengths, which may exceed its context_length. */
export function sweepSequenceLengths(config: ModelConfig, seqs: number[], batch = 1): SweepPoint[] {
  return seqs.map((seq) => {
    const shape: RunShape = { batch, seq };
    return sweepPoint(config, shape, describeRun(config, shape));
  });
}
