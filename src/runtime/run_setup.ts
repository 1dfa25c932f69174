/**
 * What every traced run decides before a tensor exists: which backend runs it, whether that
 * backend computes (meta does not), how the weights are made, and whether the run fits memory.
 * A run that cannot fit is refused here, not attempted.
 */
import { assertRunFits } from '../analytic/run_shape.js';
import { useBackend, type ActiveBackend, type BackendChoice } from './backend.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { defaultRealRunBudget } from './memory_budget.js';

export interface RunSetupOptions {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly backend: BackendChoice;
  /** Seed of the weights and inputs on real backends (default 0); meta fills constants. */
  readonly seed?: number;
  /** Bytes a real run may take (default: defaultRealRunBudget()); meta holds no data and ignores it. */
  readonly maxMemoryBytes?: bigint;
}

export interface RunSetup<Estimate> {
  readonly backend: ActiveBackend;
  /** True where the backend computes values; false on meta, which carries shapes only. */
  readonly real: boolean;
  /** 'random' weights where the backend computes, 'fill' constants on the shape-only meta backend. */
  readonly init: 'random' | 'fill';
  readonly seed: number;
  /** The memory guard's estimate; undefined on meta, which holds no data. */
  readonly estimate: Estimate | undefined;
}

/** Checks the run, starts the backend and, on a real backend, applies `guard` to the budget. */
export async function setUpRun<Estimate>(
  options: RunSetupOptions,
  guard: (config: ModelConfig, run: RunShape, backendName: string, budgetBytes: bigint) => Estimate,
): Promise<RunSetup<Estimate>> {
  const { config, run } = options;
  assertRunFits(config, run);
  const backend = await useBackend(options.backend);
  const real = backend.name !== 'meta';
  const estimate = real
    ? guard(config, run, backend.name, options.maxMemoryBytes ?? defaultRealRunBudget())
    : undefined;
  return { backend, real, init: real ? 'random' : 'fill', seed: options.seed ?? 0, estimate };
}
