import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  forwardFlopBreakdown,
  forwardMatmulInventory,
  perSequenceFlopPolynomial,
  summarizeParameters,
  sweepSequenceLengths,
  type MatmulComponent,
} from '../src/analytic/index.js';
import { arbitrarySeedConfig, withRunShape } from './helpers/arbitrary_config.js';

const arbitraryConfigAndRun = withRunShape(arbitrarySeedConfig, 64);

const sumOf = (values: bigint[]): bigint => values.reduce((a, b) => a + b, 0n);
const FEW_RUNS = { numRuns: 60 };

describe('analytic accounting properties', () => {
  it('has 9 matmuls per layer plus lm_head, each with macs * 2 = flops = 2 * batch * m * k * n', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const rows = forwardMatmulInventory(config, run);
        expect(rows).toHaveLength(9 * config.num_layers + 1);
        // One comparison for the whole inventory: a per-row expect costs more than the counting.
        expect(rows.map((row) => [row.macs * 2n, row.flops])).toEqual(
          rows.map((row) => {
            const batchElements = row.batch.reduce((a, b) => a * BigInt(b), 1n);
            const flops = 2n * batchElements * BigInt(row.m) * BigInt(row.k) * BigInt(row.n);
            return [flops, flops];
          }),
        );
      }),
      FEW_RUNS,
    );
  });

  it('sums rows to components, components to the total, and layers plus lm_head to the total', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const breakdown = forwardFlopBreakdown(config, run);
        const components = Object.keys(breakdown.byComponent) as MatmulComponent[];
        for (const component of components) {
          const fromRows = sumOf(breakdown.rows.filter((r) => r.component === component).map((r) => r.flops));
          expect(breakdown.byComponent[component]).toBe(fromRows);
        }
        expect(sumOf(components.map((c) => breakdown.byComponent[c]))).toBe(breakdown.total);
        expect(sumOf(breakdown.rows.map((r) => r.flops))).toBe(breakdown.total);

        expect(breakdown.perLayer).toHaveLength(config.num_layers);
        for (const layer of breakdown.perLayer) {
          expect(sumOf(components.map((c) => layer.byComponent[c]))).toBe(layer.total);
          expect(layer.byComponent.lm_head).toBe(0n);
        }
        expect(sumOf(breakdown.perLayer.map((l) => l.total)) + breakdown.byComponent.lm_head).toBe(breakdown.total);
        for (const component of components) {
          const acrossLayers = sumOf(breakdown.perLayer.map((l) => l.byComponent[component]));
          const outsideLayers = component === 'lm_head' ? breakdown.byComponent.lm_head : 0n;
          expect(acrossLayers + outsideLayers).toBe(breakdown.byComponent[component]);
        }
      }),
      FEW_RUNS,
    );
  });

  it('counts parameters as the closed form 2Vd + L(4d^2 + 3dF + 2d) + d, whatever the context', () => {
    fc.assert(
      fc.property(arbitrarySeedConfig, fc.integer({ min: 1, max: 1_000_000 }), (config, otherContext) => {
        const [V, L, d, F] = [config.vocab_size, config.num_layers, config.d_model, config.d_ff].map(BigInt) as [
          bigint,
          bigint,
          bigint,
          bigint,
        ];
        const summary = summarizeParameters(config);
        expect(summary.total).toBe(2n * V * d + L * (4n * d * d + 3n * d * F + 2n * d) + d);
        expect(sumOf(summary.rows.map((r) => r.count))).toBe(summary.total);
        expect(sumOf(Object.values(summary.byComponent))).toBe(summary.total);
        expect(summary.perLayer * L + summary.byComponent.token_embeddings + summary.byComponent.lm_head + d).toBe(
          summary.total,
        );
        expect(summarizeParameters({ ...config, context_length: otherContext })).toEqual(summary);
      }),
      FEW_RUNS,
    );
  });

  it('gives every point of a sequence or batch sweep the same parameter count', () => {
    fc.assert(
      fc.property(
        arbitrarySeedConfig,
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 64 }),
        (config, seqs, batch) => {
          const expected = summarizeParameters(config).total;
          for (const point of [...sweepSequenceLengths(config, seqs, batch), ...sweepSequenceLengths(config, seqs)]) {
            expect(point.parameters).toBe(expected);
            expect(point.config.context_length).toBe(Math.max(config.context_length, point.run.seq));
          }
        },
      ),
      FEW_RUNS,
    );
  });

  it('matches the per-sequence polynomial a + b*T + c*T^2 exactly at every T', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const { constant, linear, quadratic } = perSequenceFlopPolynomial(config);
        const T = BigInt(run.seq);
        const perSequence = forwardFlopBreakdown(config, { batch: 1, seq: run.seq }).total;
        expect(perSequence).toBe(constant + linear * T + quadratic * T * T);
      }),
      FEW_RUNS,
    );
  });

  it('is linear in the batch: flops(B) = B * flops(1), row by row', () => {
    fc.assert(
      fc.property(arbitraryConfigAndRun, ([config, run]) => {
        const batched = forwardFlopBreakdown(config, run);
        const single = forwardFlopBreakdown(config, { batch: 1, seq: run.seq });
        const B = BigInt(run.batch);
        expect(batched.total).toBe(B * single.total);
        expect(batched.rows.map((row) => [row.path, row.flops])).toEqual(
          single.rows.map((row) => [row.path, B * row.flops]),
        );
      }),
      FEW_RUNS,
    );
  });
});
