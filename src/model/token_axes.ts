/**
 * The axes of every dimension but the last, i.e. the tokens of a (..., d) activation: the
 * gradient of a per-channel weight (a norm's gain or bias) sums dy over them.
 */
export function tokenAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, axis) => axis);
}
