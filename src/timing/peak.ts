/**
 * The machine's theoretical fp32 peak, as an estimate with its derivation spelled out:
 *
 *   peak = cores x clock x FLOPs per cycle per core
 *   FLOPs per cycle per core = fp32 lanes x 2 (a multiply-add counted as 2 FLOPs, when the CPU has FMA; else 1)
 *                              x vector pipes (2: every x86 core since Haswell and Zen issues two vector FP ops a cycle)
 *
 * The lanes are those of the SIMD width the backend's kernels use, not the widest the CPU has:
 * WebAssembly SIMD is 128-bit (4 fp32 lanes) whatever the CPU, the cpu backend is scalar
 * JavaScript (1 lane), and native libtensorflow uses the widest of AVX-512, AVX2 or SSE.
 * The clock is the nominal one the CPU reports; turbo clocks run higher, so a measured rate can
 * exceed this estimate on few cores. Virtual machines may hide both, in which case no peak is given.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { ActiveBackend } from '../runtime/backend.js';

export interface CpuInfo {
  /** "AMD EPYC 7B13", as reported. */
  readonly model: string;
  readonly logicalCpus: number;
  /** Cores (not SMT threads); undefined when the source does not say. */
  readonly physicalCores: number | undefined;
  /** Nominal clock in MHz; undefined when it cannot be read. */
  readonly clockMHz: number | undefined;
  /** Where the clock came from, for the derivation. */
  readonly clockSource: string;
  /** CPU feature flags (lower case): fma, avx2, avx512f, ... */
  readonly flags: readonly string[];
}

/** Parse the text of /proc/cpuinfo (x86 Linux layout: "key\t: value" lines, one block per logical CPU). */
export function parseCpuinfo(text: string): CpuInfo {
  const blocks = text
    .split(/\n\s*\n/)
    .map(parseBlock)
    .filter((block) => block.has('processor'));
  const first = blocks[0] ?? new Map<string, string>();
  const model = first.get('model name') ?? first.get('cpu model') ?? 'unknown CPU';
  const flags = (first.get('flags') ?? first.get('features') ?? '').split(/\s+/).filter((flag) => flag !== '');
  return {
    model,
    logicalCpus: blocks.length,
    physicalCores: physicalCoresOf(blocks),
    ...clockOf(model, first.get('cpu MHz')),
    flags: flags.map((flag) => flag.toLowerCase()),
  };
}

function parseBlock(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return fields;
}

/** Distinct (physical id, core id) pairs; undefined when the fields are missing. */
function physicalCoresOf(blocks: readonly Map<string, string>[]): number | undefined {
  const cores = new Set<string>();
  for (const block of blocks) {
    const coreId = block.get('core id');
    if (coreId === undefined) return undefined;
    cores.add(`${block.get('physical id') ?? '0'}/${coreId}`);
  }
  return cores.size > 0 ? cores.size : undefined;
}

/** A nominal clock in the model name ("@ 2.10GHz") wins over "cpu MHz", which is a momentary reading. */
function clockOf(model: string, cpuMHz: string | undefined): Pick<CpuInfo, 'clockMHz' | 'clockSource'> {
  const nominal = /@\s*([\d.]+)\s*GHz/i.exec(model);
  if (nominal !== null)
    return { clockMHz: Number(nominal[1]) * 1000, clockSource: 'nominal clock in the CPU model name' };
  const reading = cpuMHz === undefined ? NaN : Number(cpuMHz);
  if (Number.isFinite(reading) && reading > 0) return { clockMHz: reading, clockSource: '"cpu MHz" in /proc/cpuinfo' };
  return { clockMHz: undefined, clockSource: 'not reported' };
}

/** This machine's CPU: /proc/cpuinfo where there is one, else what Node's os.cpus() reports. */
export function readCpuInfo(): CpuInfo {
  try {
    const parsed = parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    if (parsed.logicalCpus > 0) return parsed;
  } catch {
    // Not Linux: fall through to os.cpus().
  }
  const list = cpus();
  const speed = list[0]?.speed ?? 0;
  return {
    model: list[0]?.model.trim() ?? 'unknown CPU',
    logicalCpus: list.length,
    physicalCores: undefined,
    clockMHz: speed > 0 ? speed : undefined,
    clockSource: speed > 0 ? 'os.cpus() speed' : 'not reported',
    flags: [],
  };
}

/** The SIMD width a backend's kernels compute with. */
export interface SimdWidth {
  /** "WebAssembly SIMD128", "AVX2", "scalar JavaScript". */
  readonly label: string;
  readonly bits: number;
  readonly fp32Lanes: number;
}

/** Which SIMD width the named backend uses on this CPU. */
export function simdWidthOf(backendName: string, cpu: CpuInfo, wasmSimd = true): SimdWidth {
  switch (backendName) {
    case 'wasm':
      return wasmSimd
        ? { label: 'WebAssembly SIMD128', bits: 128, fp32Lanes: 4 }
        : { label: 'WebAssembly without SIMD', bits: 32, fp32Lanes: 1 };
    case 'tensorflow':
      if (cpu.flags.includes('avx512f')) return { label: 'AVX-512', bits: 512, fp32Lanes: 16 };
      if (cpu.flags.includes('avx2') || cpu.flags.includes('avx')) return { label: 'AVX2', bits: 256, fp32Lanes: 8 };
      return { label: 'SSE', bits: 128, fp32Lanes: 4 };
    default:
      return { label: 'scalar JavaScript', bits: 32, fp32Lanes: 1 };
  }
}

/** Vector FP operations a core issues per cycle (assumed; see the file comment). */
const VECTOR_PIPES = 2;

export interface PeakEstimate {
  readonly cpu: CpuInfo;
  readonly simd: SimdWidth;
  /** Cores the machine figure counts: physical cores when known, else logical CPUs. */
  readonly cores: number;
  /** Threads the backend computes on (1 for single-threaded wasm and cpu). */
  readonly threads: number;
  readonly clockGHz: number;
  /** 2 when the CPU has FMA (a multiply-add counted as 2 FLOPs), else 1. */
  readonly flopsPerLaneOp: number;
  readonly vectorPipes: number;
  readonly flopsPerCycle: number;
  /** One core at the nominal clock, in GFLOP/s. */
  readonly perCoreGflops: number;
  /** Every core, in GFLOP/s. */
  readonly machineGflops: number;
  /** The cores the backend uses (min(threads, cores)), in GFLOP/s: what its rate compares with. */
  readonly usableGflops: number;
  /** One sentence with every factor, labelled as an estimate. */
  readonly derivation: string;
}

/** The estimate for `threads` threads of SIMD width `simd`; undefined when the clock is unknown. */
export function estimatePeak(cpu: CpuInfo, simd: SimdWidth, threads: number): PeakEstimate | undefined {
  if (cpu.clockMHz === undefined || cpu.logicalCpus === 0) return undefined;
  const cores = cpu.physicalCores ?? cpu.logicalCpus;
  const clockGHz = cpu.clockMHz / 1000;
  const flopsPerLaneOp = cpu.flags.includes('fma') ? 2 : 1;
  const flopsPerCycle = simd.fp32Lanes * flopsPerLaneOp * VECTOR_PIPES;
  const perCoreGflops = clockGHz * flopsPerCycle;
  const usedCores = Math.max(1, Math.min(threads, cores));
  const coreWord = cpu.physicalCores === undefined ? 'logical CPUs' : 'cores';
  const derivation =
    `estimate: ${cores} ${coreWord} x ${clockGHz.toFixed(3)} GHz (${cpu.clockSource}) x ` +
    `${flopsPerCycle} FLOP/cycle (${simd.label}: ${simd.fp32Lanes} fp32 lanes x ${flopsPerLaneOp} ` +
    `${flopsPerLaneOp === 2 ? '(FMA counted as 2)' : '(no FMA)'} x ${VECTOR_PIPES} vector pipes) = ` +
    `${(perCoreGflops * cores).toFixed(1)} GFLOP/s; ${usedCores} ${usedCores === 1 ? 'core' : 'cores'} ` +
    `(${threads} ${threads === 1 ? 'thread' : 'threads'}) = ${(perCoreGflops * usedCores).toFixed(1)} GFLOP/s. ` +
    'Turbo clocks can exceed the nominal clock.';
  return {
    cpu,
    simd,
    cores,
    threads,
    clockGHz,
    flopsPerLaneOp,
    vectorPipes: VECTOR_PIPES,
    flopsPerCycle,
    perCoreGflops,
    machineGflops: perCoreGflops * cores,
    usableGflops: perCoreGflops * usedCores,
    derivation,
  };
}

/** Threads the backend computes on: XNNPACK's pool on wasm, every core for libtensorflow, one for cpu. */
function computeThreads(backend: ActiveBackend, cores: number): number {
  if (backend.name === 'tensorflow') return cores;
  if (backend.name !== 'wasm' && backend.name !== 'native') return 1;
  try {
    return Math.max(1, getThreadsCount());
  } catch {
    // The count is unreadable before the wasm module has started; one thread is the safe reading.
    return 1;
  }
}

/** The estimate for the active backend on this machine's CPU; undefined when the clock cannot be read. */
export function peakOfBackend(backend: ActiveBackend): PeakEstimate | undefined {
  const cpu = readCpuInfo();
  return estimatePeak(
    cpu,
    simdWidthOf(backend.name, cpu),
    computeThreads(backend, cpu.physicalCores ?? cpu.logicalCpus),
  );
}
