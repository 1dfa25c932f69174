import type { NonMatmulEstimate } from '../analytic/non_matmul_estimate.js';
import type { KernelRecord } from '../core/kernel_record.js';

/**
 * The traced non-matmul FLOPs beside the analytic estimate, kernel name by kernel name, so the
 * report can say what a difference is made of. Both sides are costed by the same rule table; the
 * estimate does not decide pass or fail (see src/analytic/non_matmul_estimate.ts).
 */

export interface NonMatmulKernelComparison {
  readonly kernel: string;
  /** Outermost executions traced, and kernels the estimate lists. */
  readonly tracedKernels: number;
  readonly estimatedKernels: number;
  readonly traced: bigint;
  readonly estimate: bigint;
  /** traced - estimate. */
  readonly difference: bigint;
}

export interface UncountedKernel {
  readonly kernel: string;
  readonly count: number;
}

export interface NonMatmulComparison {
  /** Traced non-matmul FLOPs by the rule table (outermost kernels with a rule). */
  readonly traced: bigint;
  readonly estimate: bigint;
  /** traced - estimate. */
  readonly difference: bigint;
  /** Every kernel name with FLOPs on either side: the estimate's in its order, then the trace's others. */
  readonly byKernel: readonly NonMatmulKernelComparison[];
  /** Traced kernels without a rule, by name: their work is in neither total. */
  readonly uncounted: readonly UncountedKernel[];
}

interface Tally {
  kernels: number;
  flops: bigint;
}

function tallyInto(tallies: Map<string, Tally>, kernel: string, flops: bigint): void {
  const tally = tallies.get(kernel);
  if (tally === undefined) tallies.set(kernel, { kernels: 1, flops });
  else {
    tally.kernels += 1;
    tally.flops += flops;
  }
}

export function compareNonMatmul(estimate: NonMatmulEstimate, records: readonly KernelRecord[]): NonMatmulComparison {
  const estimated = new Map<string, Tally>();
  for (const kernel of estimate.kernels) tallyInto(estimated, kernel.kernel, kernel.flops);

  const traced = new Map<string, Tally>();
  const uncounted = new Map<string, number>();
  let tracedTotal = 0n;
  for (const record of records) {
    if (record.nested) continue;
    if (record.flops === null) {
      uncounted.set(record.kernel, (uncounted.get(record.kernel) ?? 0) + 1);
      continue;
    }
    tracedTotal += record.flops;
    tallyInto(traced, record.kernel, record.flops);
  }

  const byKernel: NonMatmulKernelComparison[] = [];
  for (const kernel of new Set([...estimated.keys(), ...traced.keys()])) {
    const fromTrace = traced.get(kernel) ?? { kernels: 0, flops: 0n };
    const fromEstimate = estimated.get(kernel) ?? { kernels: 0, flops: 0n };
    // Data movement costs 0 on both sides: listing it would only bury the kernels that count.
    if (fromTrace.flops === 0n && fromEstimate.flops === 0n) continue;
    byKernel.push({
      kernel,
      tracedKernels: fromTrace.kernels,
      estimatedKernels: fromEstimate.kernels,
      traced: fromTrace.flops,
      estimate: fromEstimate.flops,
      difference: fromTrace.flops - fromEstimate.flops,
    });
  }

  return {
    traced: tracedTotal,
    estimate: estimate.total,
    difference: tracedTotal - estimate.total,
    byKernel,
    uncounted: [...uncounted].map(([kernel, count]) => ({ kernel, count })),
  };
}
