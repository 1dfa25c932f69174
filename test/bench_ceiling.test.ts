import { describe, expect, it } from 'vitest';
import { ceilingFunctions } from '../scripts/bench_ceiling.js';

describe("the SIMD ceiling benchmark's wasm module", () => {
  it('adds 256 times per iteration, each add waiting for the one before', async () => {
    const { adds } = await ceilingFunctions();
    // 10 iterations x 256 adds of 3.
    expect(adds(10, 3)).toBe(7680);
    expect(adds(1, 7)).toBe(1792);
  });

  it('runs acc = acc x 0.5 + 0.5 four times per iteration on 12 accumulators', async () => {
    const { mulAdds } = await ceilingFunctions();
    // Accumulator i starts at 0.1 (i + 1); after 4 steps it is a / 16 + 15 / 16. The result is
    // the sum of their first lanes: (0.1 x 78) / 16 + 12 x 15 / 16 = 0.4875 + 11.25.
    expect(mulAdds(1)).toBeCloseTo(11.7375, 5);
    // Each accumulator tends to the fixed point 1.
    expect(mulAdds(100)).toBeCloseTo(12, 5);
  });
});
