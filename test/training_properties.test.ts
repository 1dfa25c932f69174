import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  forwardFlopBreakdown,
  forwardMatmulInventory,
  MATMUL_COMPONENTS,
  parameterInventory,
} from '../src/analytic/index.js';
import {
  backwardFlopBreakdown,
  backwardMatmulInventory,
  backwardToForwardRatio,
  largestBatch,
  runTime,
  trainingMemory,
  trainingMemoryPolynomial,
} from '../src/analytic/training/index.js';
import { arbitrarySeedConfig, withRunShape } from './helpers/arbitrary_config.js';

const arbitraryConfigAndRun = withRunShape(arbitrarySeedConfig, 64);

const rowsTimesColumnsTimesInner = (row: { batch: readonly number[]; m: number; k: number; n: number }) =>
  row.batch.reduce((a, b) => a * BigInt(b), 1n) * BigInt(row.m) * BigInt(row.k) * BigInt(row.n);

const FEW_RUNS = { numRuns: 60 };

describe('training accounting properties', () => {
  it('gives every forward matmul two gradient matmuls of the same size, so backward = 2 x forward per component', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const forward = forwardMatmulInventory(config, run);
        const backward = backwardMatmulInventory(config, run);
        // One comparison for the whole inventory: a per-row expect costs more than the counting.
        const summary = (row: (typeof backward)[number]) => ({
          path: row.path,
          component: row.component,
          skipped: row.skipped,
          // Folding batch dims into rows: the same batch * m * k * n terms as the forward matmul.
          product: rowsTimesColumnsTimesInner(row),
          flops: row.flops,
        });
        expect(backward.map(summary)).toEqual(
          forward.flatMap((row) => {
            const product = rowsTimesColumnsTimesInner(row);
            const gradient = {
              path: row.path,
              component: row.component,
              skipped: undefined,
              product,
              flops: 2n * product,
            };
            return [gradient, gradient];
          }),
        );
        const ratios = backwardToForwardRatio(config, run);
        expect(ratios.components.map((entry) => entry.component)).toEqual(
          // These configs have neither latent attention nor experts.
          MATMUL_COMPONENTS.filter(
            (c) => !['latent_projections', 'router', 'routed_experts', 'shared_experts'].includes(c),
          ),
        );
        for (const entry of ratios.components) {
          expect(entry.ratio).toEqual({ numerator: 2n, denominator: 1n });
        }
        expect(backwardFlopBreakdown(config, run).total).toBe(2n * forwardFlopBreakdown(config, run).total);
      }),
      FEW_RUNS,
    );
  });

  it('skips a weight gradient exactly when that weight is frozen, and keeps skipped rows out of totals', () => {
    const arbitraryFrozen = arbitraryConfigAndRun.chain(([config, run]) =>
      fc.tuple(fc.constant(config), fc.constant(run), fc.subarray(parameterInventory(config).map((row) => row.path))),
    );
    fc.assert(
      fc.property(arbitraryFrozen, ([config, run, frozen]) => {
        const breakdown = backwardFlopBreakdown(config, run, { frozen });
        for (const row of breakdown.rows.filter((r) => r.gradient === 'weight')) {
          expect(row.skipped !== undefined).toBe(frozen.includes(row.path));
        }
        const running = breakdown.rows.filter((row) => row.skipped === undefined);
        expect(breakdown.total).toBe(running.reduce((total, row) => total + row.flops, 0n));
        expect(breakdown.total + breakdown.skippedFlops).toBe(2n * forwardFlopBreakdown(config, run).total);
      }),
      { numRuns: 40 },
    );
  });

  it('skips every row when every weight is frozen', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const frozen = parameterInventory(config).map((row) => row.path);
        const breakdown = backwardFlopBreakdown(config, run, { frozen });
        expect(breakdown.rows.every((row) => row.skipped !== undefined)).toBe(true);
        expect(breakdown.total).toBe(0n);
      }),
      { numRuns: 20 },
    );
  });

  it('grows memory linearly in B: memory(B) = constant + perBatch * B, with constant = 16 bytes per parameter', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, fc.integer({ min: 1, max: 4096 }), ([config, run], otherBatch) => {
        const polynomial = trainingMemoryPolynomial(config, run.seq);
        const memory = trainingMemory(config, run);
        expect(memory.total).toBe(polynomial.constant + polynomial.perBatch * BigInt(run.batch));
        expect(polynomial.constant).toBe(16n * memory.parameterCount);
        const other = trainingMemory(config, { batch: otherBatch, seq: run.seq });
        const sumOfBatches = trainingMemory(config, { batch: run.batch + otherBatch, seq: run.seq });
        expect(memory.total + other.total).toBe(sumOfBatches.total + polynomial.constant);
        expect(memory.parameters + memory.gradients + memory.adamMoments + memory.activations.total).toBe(memory.total);
      }),
      FEW_RUNS,
    );
  });

  it('finds the largest batch: memory(batch) <= M < memory(batch + 1), or batch 0 when one sequence does not fit', () => {
    const arbitraryBudget = arbitraryConfigAndRun.chain(([config, run]) => {
      const { constant, perBatch } = trainingMemoryPolynomial(config, run.seq);
      return fc.tuple(
        fc.constant(config),
        fc.constant(run.seq),
        fc.oneof(
          fc.bigInt({ min: 1n, max: constant + 3n * perBatch }),
          fc.bigInt({ min: 0n, max: 10_000n }).map((sequences) => constant + sequences * perBatch),
          fc.bigInt({ min: 0n, max: 10_000n }).map((sequences) => constant + sequences * perBatch - 1n),
        ),
      );
    });
    fc.assert(
      fc.property(arbitraryBudget, ([config, seq, memoryBytes]) => {
        const result = largestBatch(config, seq, memoryBytes);
        const bytesAt = (batch: number) => trainingMemory(config, { batch, seq }).total;
        if (result.batch === 0) {
          expect(bytesAt(1)).toBeGreaterThan(memoryBytes);
          expect('reason' in result && result.reason.length > 0).toBe(true);
          return;
        }
        expect(bytesAt(result.batch)).toBeLessThanOrEqual(memoryBytes);
        expect(bytesAt(result.batch + 1)).toBeGreaterThan(memoryBytes);
        expect(result).toMatchObject({ bytesAtBatch: bytesAt(result.batch), bytesAtNext: bytesAt(result.batch + 1) });
      }),
      FEW_RUNS,
    );
  });

  it('keeps run time exact: seconds * peak * mfu = steps * step FLOPs', () => {
    const positiveFraction = fc
      .tuple(fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 6n }))
      .map(([numerator, denominator]) => ({ numerator, denominator }));
    const mfu = fc
      .tuple(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 0n, max: 1000n }))
      .map(([numerator, extra]) => ({ numerator, denominator: numerator + extra }));
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.bigInt({ min: 0n, max: 10n ** 7n }),
        positiveFraction,
        mfu,
        (stepFlops, steps, peak, utilization) => {
          const time = runTime({ stepFlops, steps, peakFlopsPerSecond: peak, mfu: utilization });
          expect(time.seconds.numerator * peak.numerator * utilization.numerator).toBe(
            steps * stepFlops * time.seconds.denominator * peak.denominator * utilization.denominator,
          );
          expect(time.days.numerator * 86_400n * time.seconds.denominator).toBe(
            time.seconds.numerator * time.days.denominator,
          );
        },
      ),
      FEW_RUNS,
    );
  });
});
