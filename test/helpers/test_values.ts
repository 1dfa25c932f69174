/** Numbers for comparing the model's float32 results with a reference written apart from it. */
import { expect } from 'vitest';

/** A reproducible list of floats in [-1, 1) that does not come from the code under test. */
export function testValues(count: number, seed: number): number[] {
  const values: number[] = [];
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    values.push((state / 2147483648) * 2 - 1);
  }
  return values;
}

/** The largest elementwise gap between two equally long lists; fails the test when the lengths differ. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}
