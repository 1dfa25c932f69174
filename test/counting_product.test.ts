import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { product } from '../src/core/counting.js';

/** The product written plainly, one bigint step per dim: the reference the fast path must equal. */
const plainProduct = (dims: readonly number[]): bigint => dims.reduce((total, dim) => total * BigInt(dim), 1n);

describe('product', () => {
  it('equals the plain bigint product for dims on both sides of 2^53, zeros and negatives included', () => {
    const dim = fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      // Near 2^26.5: two or three of these cross 2^53 somewhere in the middle of a product.
      fc.integer({ min: 2 ** 26, max: 2 ** 27 }),
      fc.integer({ min: -(2 ** 20), max: -1 }),
      fc.constantFrom(2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e300),
    );
    fc.assert(
      fc.property(fc.array(dim, { maxLength: 6 }), (dims) => {
        expect(product(dims)).toBe(plainProduct(dims));
      }),
      { numRuns: 2000 },
    );
  });

  it('is exact where doubles would round: (2^27 + 1)^2 and 3^34', () => {
    // (2^27 + 1)^2 = 2^54 + 2^28 + 1, odd, so no double holds it.
    expect(product([2 ** 27 + 1, 2 ** 27 + 1])).toBe(18014398777917441n);
    expect(product(Array<number>(34).fill(3))).toBe(16677181699666569n);
    // 1e300 * 1e300 overflows a double to Infinity, and Infinity * 0 is NaN; the product is 0.
    expect(product([1e300, 1e300, 0])).toBe(0n);
  });

  it('takes bigint dims and refuses a dim that is not whole', () => {
    expect(product([2n ** 40n, 3, 2n ** 40n])).toBe(3n * 2n ** 80n);
    expect(product([])).toBe(1n);
    expect(() => product([2, 1.5, 2])).toThrow(RangeError);
  });
});
