/**
 * The SIMD ceiling of one core of this CPU, for WebAssembly's 128-bit SIMD, measured rather than
 * read from the CPU's name:
 *
 *   node dist/scripts/bench_ceiling.js     prints the measurement as JSON
 *
 * 1. The clock under load. A virtual machine's /proc/cpuinfo gives the nominal or the host's base
 *    clock ("cpu MHz" reads 2596 here), while a busy core runs at its boost clock. So the clock
 *    is timed: a tiny wasm function runs a chain of dependent 32-bit integer adds, each waiting
 *    for the one before it. An add takes one cycle on every x86 core since the Pentium Pro, so
 *    adds per second is cycles per second, on a core that the loop itself keeps loaded. Other
 *    work on a shared machine can only take time from the loop, never give it, so the fastest of
 *    many short timings (2 ms, shorter than a scheduler's time slice) is the estimate.
 * 2. The ceiling: clock x 4 fp32 lanes (128 bits) x 2 FLOPs per multiply-add x 2 multiply-add
 *    pipes per core. The 2 pipes are an assumption, true of every x86 core since Haswell and Zen
 *    (two FMA units, or on Zen two multiply and two add pipes); WebAssembly SIMD without relaxed
 *    SIMD has no fused multiply-add, so XNNPACK's wasm kernels issue an f32x4.mul and an
 *    f32x4.add per multiply-add, and the ceiling holds for them only where the core can issue two
 *    of each per cycle (Zen: separate multiply and add pipes; Intel's shared ports halve it).
 * 3. A check on the assumption: the same mul-then-add pair timed in a wasm loop over twelve
 *    independent accumulators (enough to cover the pair's latency on two pipes), as XNNPACK's
 *    kernels issue it, with nothing loaded from memory. Its rate is what wasm SIMD code can reach
 *    on one core here.
 */
import { pathToFileURL } from 'node:url';

export interface SimdCeiling {
  /** Measured clock under load, from the dependent-add chain (fastest timing), and the median. */
  readonly clock_ghz: number;
  readonly clock_ghz_median: number;
  /** Nominal or momentary clock /proc/cpuinfo or os.cpus() reports, for comparison. */
  readonly reported_mhz: number | null;
  readonly fp32_lanes: 4;
  readonly flops_per_multiply_add: 2;
  /** Assumed multiply-add pipes per core. */
  readonly pipes: 2;
  /** clock x lanes x 2 x pipes, GFLOP/s on one core. */
  readonly ceiling_gflops: number;
  /** f32x4.mul + f32x4.add over independent accumulators, GFLOP/s on one core (fastest timing). */
  readonly measured_mul_add_gflops: number;
  readonly derivation: string;
}

// ---------------------------------------------------------------- a minimal wasm encoder

const unsignedLeb = (value: number): number[] => {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
};
const vector = (items: number[][]): number[] => [...unsignedLeb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...unsignedLeb(body.length), ...body];
const name = (text: string): number[] => vector([...Buffer.from(text)].map((byte) => [byte]));
const f32Bytes = (value: number): number[] => [...new Uint8Array(new Float32Array([value]).buffer)];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const op = {
  localGet: (index: number) => [0x20, ...unsignedLeb(index)],
  localSet: (index: number) => [0x21, ...unsignedLeb(index)],
  i32Const1: [0x41, 0x01],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  f32Add: [0x92],
  f32Const: (value: number) => [0x43, ...f32Bytes(value)],
  loop: [0x03, 0x40],
  brIf0: [0x0d, 0x00],
  end: [0x0b],
  f32x4Splat: [0xfd, ...unsignedLeb(0x13)],
  f32x4ExtractLane0: [0xfd, ...unsignedLeb(0x1f), 0x00],
  f32x4Add: [0xfd, ...unsignedLeb(0xe4)],
  f32x4Mul: [0xfd, ...unsignedLeb(0xe6)],
};

/** Dependent integer adds per loop iteration (the loop's own counter runs beside the chain). */
const ADDS_PER_ITERATION = 256;
/** Independent accumulators: the pair's latency (about 6 cycles) times two pipes, and a little. */
const ACCUMULATORS = 12;
/** The multiply-add pairs per iteration, unrolled. */
const MUL_ADD_ROUNDS = 4;

/**
 * Two exported functions:
 *   adds(n, step): i32 — n iterations of ADDS_PER_ITERATION dependent `x = x + step`
 *   mulAdds(n): f32    — n iterations of MUL_ADD_ROUNDS x ACCUMULATORS `acc = acc * m + c`
 */
function ceilingModule(): Uint8Array {
  const addsBody = [
    // locals: 0 n, 1 step (params), 2 x
    ...vector([[1, I32]]),
    ...op.loop,
    ...op.localGet(2),
    ...Array.from({ length: ADDS_PER_ITERATION }, () => [...op.localGet(1), ...op.i32Add]).flat(),
    ...op.localSet(2),
    ...op.localGet(0),
    ...op.i32Const1,
    ...op.i32Sub,
    ...op.localSet(0),
    ...op.localGet(0),
    ...op.brIf0,
    ...op.end,
    ...op.localGet(2),
    ...op.end,
  ];
  // locals: 0 n (param), 1 m, 2 c, 3.. accumulators
  const m = 1;
  const c = 2;
  const accumulator = (i: number) => 3 + i;
  const mulAddsBody = [
    ...vector([[ACCUMULATORS + 2, V128]]),
    ...op.f32Const(0.5),
    ...op.f32x4Splat,
    ...op.localSet(m),
    ...op.f32Const(0.5),
    ...op.f32x4Splat,
    ...op.localSet(c),
    ...Array.from({ length: ACCUMULATORS }, (_, i) => [
      ...op.f32Const(0.1 * (i + 1)),
      ...op.f32x4Splat,
      ...op.localSet(accumulator(i)),
    ]).flat(),
    ...op.loop,
    ...Array.from({ length: MUL_ADD_ROUNDS * ACCUMULATORS }, (_, k) => {
      const i = k % ACCUMULATORS;
      return [
        ...op.localGet(accumulator(i)),
        ...op.localGet(m),
        ...op.f32x4Mul,
        ...op.localGet(c),
        ...op.f32x4Add,
        ...op.localSet(accumulator(i)),
      ];
    }).flat(),
    ...op.localGet(0),
    ...op.i32Const1,
    ...op.i32Sub,
    ...op.localSet(0),
    ...op.localGet(0),
    ...op.brIf0,
    ...op.end,
    // The sum of every accumulator's first lane, so no accumulator is dead code.
    ...op.f32Const(0),
    ...Array.from({ length: ACCUMULATORS }, (_, i) => [
      ...op.localGet(accumulator(i)),
      ...op.f32x4ExtractLane0,
      ...op.f32Add,
    ]).flat(),
    ...op.end,
  ];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vector([
        [0x60, ...vector([[I32], [I32]]), ...vector([[I32]])],
        [0x60, ...vector([[I32]]), ...vector([[F32]])],
      ]),
    ),
    ...section(3, vector([[0], [1]])),
    ...section(
      7,
      vector([
        [...name('adds'), 0x00, 0],
        [...name('mulAdds'), 0x00, 1],
      ]),
    ),
    // A code entry is its body's size, then the body (locals, then instructions).
    ...section(10, vector([addsBody, mulAddsBody].map((body) => [...unsignedLeb(body.length), ...body]))),
  ];
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------- timing

/** Seconds per call of `run(n)`, fastest and median of `repeats`, with n sized for ~`targetMs`. */
function timeCalls(run: (n: number) => unknown, targetMs: number, repeats: number): { n: number; seconds: number[] } {
  let n = 1000;
  for (;;) {
    const start = performance.now();
    run(n);
    const elapsed = performance.now() - start;
    if (elapsed > targetMs / 4) {
      n = Math.max(1, Math.round((n * targetMs) / elapsed));
      break;
    }
    n *= 4;
  }
  const seconds: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run(n);
    seconds.push((performance.now() - start) / 1000);
  }
  return { n, seconds: seconds.sort((a, b) => a - b) };
}

/** The two timed functions; see ceilingModule. */
export interface CeilingFunctions {
  readonly adds: (n: number, step: number) => number;
  readonly mulAdds: (n: number) => number;
}

export async function ceilingFunctions(): Promise<CeilingFunctions> {
  // Node has WebAssembly at run time; the project's type libraries (no DOM) do not declare it.
  const wasm = (
    globalThis as unknown as {
      WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }> };
    }
  ).WebAssembly;
  const { instance } = await wasm.instantiate(ceilingModule());
  return instance.exports as CeilingFunctions;
}

export async function measureSimdCeiling(reportedMhz: number | null, repeats = 300): Promise<SimdCeiling> {
  const exports = await ceilingFunctions();
  // A first long call lets V8 move the functions to its optimising tier before anything is timed.
  timeCalls((n) => exports.adds(n, 3), 200, 1);
  timeCalls((n) => exports.mulAdds(n), 200, 1);
  // Short timings, many of them: on a loaded machine the scheduler takes a core away every few
  // ms, so a long timing always includes a wait, while some 2 ms timings see none.
  const adds = timeCalls((n) => exports.adds(n, 3), 2, repeats);
  const mulAdds = timeCalls((n) => exports.mulAdds(n), 2, repeats);
  const cyclesPerCall = adds.n * ADDS_PER_ITERATION;
  const clockGhz = cyclesPerCall / adds.seconds[0]! / 1e9;
  const clockGhzMedian = cyclesPerCall / adds.seconds[Math.floor(adds.seconds.length / 2)]! / 1e9;
  const flopsPerCall = mulAdds.n * MUL_ADD_ROUNDS * ACCUMULATORS * 4 * 2;
  const ceiling = clockGhz * 4 * 2 * 2;
  return {
    clock_ghz: clockGhz,
    clock_ghz_median: clockGhzMedian,
    reported_mhz: reportedMhz,
    fp32_lanes: 4,
    flops_per_multiply_add: 2,
    pipes: 2,
    ceiling_gflops: ceiling,
    measured_mul_add_gflops: flopsPerCall / mulAdds.seconds[0]! / 1e9,
    derivation:
      `${clockGhz.toFixed(2)} GHz (timed: a chain of dependent integer adds, one a cycle, fastest of ${repeats} 2-ms timings; ` +
      `${reportedMhz === null ? 'no clock reported' : `${reportedMhz.toFixed(0)} MHz reported`}) x 4 fp32 lanes (128-bit wasm SIMD) ` +
      `x 2 FLOPs per multiply-add x 2 multiply-add pipes (assumed: x86 cores since Haswell and Zen) = ${ceiling.toFixed(1)} GFLOP/s on one core`,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { readCpuInfo } = await import('../src/timing/peak.js');
  process.stdout.write(JSON.stringify(await measureSimdCeiling(readCpuInfo().clockMHz ?? null)) + '\n');
}
