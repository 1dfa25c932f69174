/**
 * Samples of N(0, std^2) truncated at `limit` standard deviations, by rejection: a draw outside
 * [-limit, limit] is discarded and drawn again, so the kept values follow the normal density
 * restricted to that interval (CS336's trunc_normal_ with a = -3 sigma, b = 3 sigma).
 *
 * tf.truncatedNormal is not used: it always truncates at 2 sigma. Draws come from a ziggurat
 * (Marsaglia and Tsang 2000, with Doornik's fix of taking the layer and the value from disjoint
 * bits), which needs about one 32-bit word per sample, so GPT-2 small's 124M weights take
 * seconds rather than the tens of seconds Box-Muller takes in plain JavaScript.
 */

import type { Sfc32 } from './seeded_random.js';

const LAYER_COUNT = 128;
/** Right edge of the ziggurat's base strip; draws beyond it come from the tail. */
const TAIL_START = 3.442619855899;
/** Area of each of the 128 equal-area strips under the unnormalised density exp(-x^2/2). */
const STRIP_AREA = 9.91256303526217e-3;

function density(x: number): number {
  return Math.exp(-0.5 * x * x);
}

/** Strip edges x[0] > x[1] = TAIL_START > ... > x[LAYER_COUNT] = 0, and x[i+1]/x[i]. */
const edges = new Float64Array(LAYER_COUNT + 1);
const innerRatio = new Float64Array(LAYER_COUNT);
edges[0] = STRIP_AREA / density(TAIL_START);
edges[1] = TAIL_START;
for (let i = 2; i < LAYER_COUNT; i++) {
  const previous = edges[i - 1] ?? 0;
  edges[i] = Math.sqrt(-2 * Math.log(STRIP_AREA / previous + density(previous)));
}
edges[LAYER_COUNT] = 0;
for (let i = 0; i < LAYER_COUNT; i++) innerRatio[i] = (edges[i + 1] ?? 0) / (edges[i] ?? 1);

/** 2^-24: turns the 25-bit signed value field into a fraction in (-1, 1). */
const VALUE_SCALE = 5.960464477539063e-8;

/**
 * One standard normal draw truncated to [-limit, limit], for limit < TAIL_START (the tail is
 * never needed then: any draw from it lies beyond the limit and would be rejected anyway).
 */
function truncatedStandardNormal(rng: Sfc32, limit: number): number {
  for (;;) {
    const bits = rng.nextInt32();
    const layer = bits & (LAYER_COUNT - 1);
    // Arithmetic shift keeps the sign: a value in [-2^24, 2^24), centred to avoid an exact 0 bias.
    const fraction = ((bits >> 7) + 0.5) * VALUE_SCALE;
    const edge = edges[layer] ?? 0;
    const x = fraction * edge;
    if (Math.abs(fraction) >= (innerRatio[layer] ?? 0)) {
      if (layer === 0) continue; // the tail: beyond TAIL_START > limit
      const outer = edges[layer + 1] ?? 0;
      const densityAtEdge = Math.exp(-0.5 * (edge * edge - x * x));
      const densityAtOuter = Math.exp(-0.5 * (outer * outer - x * x));
      if (densityAtOuter + rng.nextUnit() * (densityAtEdge - densityAtOuter) >= 1) continue;
    }
    if (x > limit || x < -limit) continue;
    return x;
  }
}

/** `count` draws of N(0, std^2) truncated at `limitInStd` standard deviations. */
export function truncatedNormalArray(count: number, std: number, limitInStd: number, rng: Sfc32): Float32Array {
  if (!(limitInStd > 0 && limitInStd < TAIL_START)) {
    throw new RangeError(`truncatedNormalArray: limit must be in (0, ${TAIL_START}) sigma, got ${limitInStd}`);
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = truncatedStandardNormal(rng, limitInStd) * std;
  return values;
}
