/**
 * What every run of a model decides before a tensor exists: whether its shape is valid, which
 * backend runs it, whether that backend computes (meta does not), how the weights are made, and
 * whether the run fits memory. A traced forward pass, a traced training step and a timing run
 * (every point of a sweep) all come through here, so a run that cannot fit is refused here, with
 * the estimate, the budget and the fix, and never attempted.
 */
import { assertRunFits } from '../analytic/run_shape.js';
import type { WeightInit } from '../model/index.js';
import { useBackend, type ActiveBackend } from './backend.js';
import { defaultRealRunBudget } from './memory_budget.js';
import { assertRunFitsMemory, assertRunsFitTogether, type MemoryGuardEstimate, type RunKind } from './memory_guard.js';
import type { ModelRunOptions, ModelShape, RunOptions } from './run_options.js';

export interface RunSetup {
  readonly backend: ActiveBackend;
  /** True where the backend computes values; false on meta, which carries shapes only. */
  readonly real: boolean;
  /** 'random' weights where the backend computes, 'fill' constants on the shape-only meta backend. */
  readonly init: WeightInit;
  readonly seed: number;
}

export interface SweepSetup extends RunSetup {
  /** The guard's estimate of each run, in order; empty on meta, which holds no data. */
  readonly estimates: readonly MemoryGuardEstimate[];
}

export interface SingleRunSetup extends RunSetup {
  /** The guard's estimate; undefined on meta, which holds no data. */
  readonly estimate: MemoryGuardEstimate | undefined;
}

/**
 * How a series of runs holds memory: 'in turn' makes and frees each run's weights before the
 * next; 'together' keeps every run's weights alive while their passes take turns.
 */
export type RunsHeld = 'in turn' | 'together';

/**
 * Checks every run's shape, starts the backend and, on a real backend, holds every run to the
 * budget (a series is refused as a whole before its first run starts; runs held together are
 * held to it as a sum).
 */
export async function setUpRuns(
  options: RunOptions,
  kind: RunKind,
  runs: readonly ModelShape[],
  held: RunsHeld = 'in turn',
): Promise<SweepSetup> {
  for (const { config, run } of runs) assertRunFits(config, run);
  const backend = await useBackend(options.backend);
  const real = backend.name !== 'meta';
  const budget = options.maxMemoryBytes ?? defaultRealRunBudget();
  const estimates = !real
    ? []
    : held === 'together'
      ? assertRunsFitTogether(runs, kind, backend.name, budget)
      : runs.map(({ config, run }) => assertRunFitsMemory(config, run, kind, backend.name, budget));
  return { backend, real, init: real ? 'random' : 'fill', seed: options.seed ?? 0, estimates };
}

/** setUpRuns for one run. */
export async function setUpRun(options: ModelRunOptions, kind: RunKind): Promise<SingleRunSetup> {
  const { estimates, ...setup } = await setUpRuns(options, kind, [options]);
  return { ...setup, estimate: estimates[0] };
}
