/**
 * Samples of N(0, std^2) truncated at `limit` standard deviations, by rejection: a draw outside
 * [-limit, limit] is discarded and drawn again, so the kept values follow the normal density
 * restricted to that interval (CS336's trunc_normal_ with a = -3 sigma, b = 3 sigma).
 *
 * tf.truncatedNormal is not used: it always truncates at 2 sigma, and it builds its values in a
 * JavaScript array through a generator call per draw. Draws here come from a ziggurat, which
 * needs about one 32-bit word per sample, written straight into the array the caller hands over
 * (on wasm, the backend's own buffer: host_constant.ts).
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
/** 2^-32: turns a 32-bit word into a fraction in [0, 1). */
const UNIT_SCALE = 2.3283064365386963e-10;

/**
 * Fills `values` with draws of N(0, std^2) truncated at `limitInStd` standard deviations, in
 * place, stepping `rng` past the words it used.
 *
 * The loop is the generator and the ziggurat written out flat: SFC32's four words live in locals
 * and each draw is one step (Sfc32.nextInt32's, repeated here), since a method call and a field
 * access per word took most of the time at a hundred million draws. The draws, and so the
 * weights of a seed, are the same as one Sfc32.nextInt32 per draw through the ziggurat gives
 * (Marsaglia and Tsang 2000, with Doornik's fix of taking the layer and the value from disjoint
 * bits); test/truncated_normal.test.ts holds the two to each other.
 */
export function fillTruncatedNormal(values: Float32Array, std: number, limitInStd: number, rng: Sfc32): void {
  if (!(limitInStd > 0 && limitInStd < TAIL_START)) {
    // Beyond TAIL_START the tail would be needed, which this sampler never draws from.
    throw new RangeError(`fillTruncatedNormal: limit must be in (0, ${TAIL_START}) sigma, got ${limitInStd}`);
  }
  let [a, b, c, d] = rng.state();
  const count = values.length;
  let filled = 0;
  while (filled < count) {
    const bits = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + bits) | 0;
    const layer = bits & (LAYER_COUNT - 1);
    // Arithmetic shift keeps the sign: a value in [-2^24, 2^24), centred to avoid an exact 0 bias.
    const fraction = ((bits >> 7) + 0.5) * VALUE_SCALE;
    const edge = edges[layer]!;
    const x = fraction * edge;
    if (Math.abs(fraction) >= innerRatio[layer]!) {
      // Outside the strip's rectangle: the tail (beyond TAIL_START > limit, so rejected), or the
      // wedge under the density, accepted with the density's height there.
      if (layer === 0) continue;
      const outer = edges[layer + 1]!;
      const densityAtEdge = Math.exp(-0.5 * (edge * edge - x * x));
      const densityAtOuter = Math.exp(-0.5 * (outer * outer - x * x));
      const word = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + word) | 0;
      const unit = (word >>> 0) * UNIT_SCALE;
      if (densityAtOuter + unit * (densityAtEdge - densityAtOuter) >= 1) continue;
    }
    if (x > limitInStd || x < -limitInStd) continue;
    values[filled++] = x * std;
  }
  rng.resume([a, b, c, d]);
}
