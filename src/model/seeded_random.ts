/**
 * A small seeded generator of 32-bit words (SFC32, Chris Doty-Humphrey's "small fast chaotic"
 * generator) and the derivation of one independent stream per named tensor. Every weight draws
 * from its own stream keyed by (base seed, module path), so a weight's values do not depend on
 * which other weights were made before it, and a run is reproducible from the seed alone.
 */

/** SFC32's state: the words a, b, c and d, each an int32. */
export type Sfc32State = [number, number, number, number];

export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    // The first outputs of a freshly seeded SFC32 are poorly mixed; the reference discards 12.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /**
   * The four state words. A loop that draws hundreds of millions of words (truncated_normal.ts)
   * steps the generator inline on local copies of them, and hands them back with `resume`.
   */
  state(): Sfc32State {
    return [this.a, this.b, this.c, this.d];
  }

  /** Continues from state words taken by `state()` and stepped as nextInt32 steps them. */
  resume([a, b, c, d]: Sfc32State): void {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
  }

  /** A uniform 32-bit word, as a signed int32 (cheaper to split into bits than the unsigned form). */
  nextInt32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t;
  }

  /** A uniform integer in [0, 2^32). */
  nextUint32(): number {
    return this.nextInt32() >>> 0;
  }

  /** A uniform float in [0, 1) with 32 random bits. */
  nextUnit(): number {
    return this.nextUint32() * 2.3283064365386963e-10; // 2^-32
  }

  /** A uniform integer in [0, bound), exactly uniform (rejects the short last block of 2^32). */
  nextBelow(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 32) {
      throw new RangeError(`nextBelow: bound must be an integer in [1, 2^32], got ${bound}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      const word = this.nextUint32();
      if (word < limit) return word % bound;
    }
  }
}

/** FNV-1a over the UTF-16 code units of `text`, starting from `basis`: a 32-bit hash of a name. */
function fnv1a(text: string, basis: number): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** SplitMix32 step: spreads one 32-bit word into a well-mixed sequence of seed words. */
function splitMix32(state: number): { state: number; word: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { state: next, word: z };
}

/**
 * The generator for the tensor named `name` (a module path) under `seed`. Seeds are safe
 * integers; both 32-bit halves take part, so seeds 1 and 2^32 + 1 give different streams.
 */
export function streamFor(seed: number, name: string): Sfc32 {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, got ${seed}`);
  }
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  let state = fnv1a(name, 0x811c9dc5 ^ low) ^ Math.imul(high, 0x27d4eb2f);
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const step = splitMix32(state);
    state = step.state;
    words.push(step.word);
  }
  const [a = 0, b = 0, c = 0, d = 0] = words;
  return new Sfc32(a, b, c, d);
}
