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

/** The ziggurat's tables, handed to truncatedNormalLoop (and to a worker that runs its source). */
export interface ZigguratTables {
  readonly edges: Float64Array;
  readonly innerRatio: Float64Array;
}

export const ZIGGURAT_TABLES: ZigguratTables = { edges, innerRatio };

/**
 * Fills `values` with draws of N(0, std^2) truncated at `limitInStd` standard deviations, in
 * place, stepping `rng` past the words it used.
 *
 * The draws, and so the weights of a seed, are the same as one Sfc32.nextInt32 per draw through
 * the ziggurat gives (Marsaglia and Tsang 2000, with Doornik's fix of taking the layer and the
 * value from disjoint bits); test/truncated_normal.test.ts holds the two to each other.
 */
export function fillTruncatedNormal(values: Float32Array, std: number, limitInStd: number, rng: Sfc32): void {
  assertLimitInRange(limitInStd);
  const state = Int32Array.from(rng.state());
  truncatedNormalLoop(values, std, limitInStd, state, edges, innerRatio);
  rng.resume([state[0]!, state[1]!, state[2]!, state[3]!]);
}

function assertLimitInRange(limitInStd: number): void {
  if (!(limitInStd > 0 && limitInStd < TAIL_START)) {
    // Beyond TAIL_START the tail would be needed, which this sampler never draws from.
    throw new RangeError(`fillTruncatedNormal: limit must be in (0, ${TAIL_START}) sigma, got ${limitInStd}`);
  }
}

/**
 * The sampler itself, over SFC32 state words `state` (a, b, c, d; stepped in place) and the
 * ziggurat's `edges` and `innerRatio` (ZIGGURAT_TABLES). The limit must be in (0, TAIL_START).
 *
 * Self-contained on purpose: it reads only its arguments and Math, its constants are literals,
 * and it calls nothing of this module, so its source text (Function.prototype.toString) is a
 * complete program that a worker thread evaluates and runs on its share of the tensors
 * (src/runtime/parallel_fill.ts). One algorithm, whichever thread draws.
 *
 * The loop is the generator and the ziggurat written out flat: SFC32's four words live in locals
 * and each draw is one step (Sfc32.nextInt32's, repeated here), since a method call and a field
 * access per word took most of the time at a hundred million draws.
 */
export function truncatedNormalLoop(
  values: Float32Array,
  std: number,
  limitInStd: number,
  state: Int32Array,
  edges: Float64Array,
  innerRatio: Float64Array,
): void {
  // 2^-24 turns the 25-bit signed value field into a fraction in (-1, 1); 2^-32 a word into [0, 1).
  const valueScale = 5.960464477539063e-8;
  const unitScale = 2.3283064365386963e-10;
  // The layer is the word's low 7 bits: 128 strips.
  const layerMask = 127;
  let a = state[0]! | 0;
  let b = state[1]! | 0;
  let c = state[2]! | 0;
  let d = state[3]! | 0;
  const count = values.length;
  let filled = 0;
  while (filled < count) {
    const bits = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + bits) | 0;
    const layer = bits & layerMask;
    // Arithmetic shift keeps the sign: a value in [-2^24, 2^24), centred to avoid an exact 0 bias.
    const fraction = ((bits >> 7) + 0.5) * valueScale;
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
      const unit = (word >>> 0) * unitScale;
      if (densityAtOuter + unit * (densityAtEdge - densityAtOuter) >= 1) continue;
    }
    if (x > limitInStd || x < -limitInStd) continue;
    values[filled++] = x * std;
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}
