/**
 * Choosing and starting the TensorFlow.js backend a run uses.
 *
 *   tensorflow  libtensorflow through @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (optional,
 *               its installer downloads libtensorflow, so it is often absent)
 *   wasm        WebAssembly with SIMD (always here): the threaded build at 2 threads by default
 *               where the machine has 2 cores or more (src/runtime/wasm_threads.ts), measured
 *               1.4-1.6x faster on real forward passes (README, "Measured here");
 *               FLOPLEDGER_WASM_THREADS=N sets the count, 1 for the single-thread build
 *   native      wasm's kernels, with the matmuls on ONNX Runtime's native GEMM (optional package
 *               onnxruntime-node, src/runtime/native_backend.ts)
 *   cpu         plain JavaScript kernels: the slow reference
 *   meta        shape-only: tensors keep {shape, dtype} and no data (src/meta)
 *   auto        tensorflow when it loads, else native when it loads, else wasm
 *   webgl       WebGL 2 in a browser (src/web): shaders on the GPU, kernels queued
 *   webgpu      WebGPU in a browser, when the page registered @tensorflow/tfjs-backend-webgpu
 */

import { createRequire } from 'node:module';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
// The backends register themselves on import: tfjs-core alone has none.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { InputError, UnavailableError } from '../core/errors.js';
import type { ModelConfig } from '../config/model_config.js';
import { initWeights, type InitOptions, type TransformerWeights, type TruncatedNormalFiller } from '../model/index.js';
import { readWasmInputsInPlace } from './wasm_heap_views.js';
import { shareWasmClones } from './wasm_shared_clones.js';

shareWasmClones();
readWasmInputsInPlace();

export const BACKEND_CHOICES = ['auto', 'cpu', 'wasm', 'native', 'tensorflow', 'meta'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The backends only a browser has; the CLI does not offer them, the web page does. */
export const BROWSER_BACKENDS = ['webgl', 'webgpu'] as const;
export type BrowserBackend = (typeof BROWSER_BACKENDS)[number];

export interface ActiveBackend {
  /** The tfjs backend name now active: "cpu", "wasm", "tensorflow" or "meta". */
  name: string;
  /** One line for reports: what runs the kernels. */
  description: string;
  /**
   * True when a kernel has finished by the time its call returns, so a wall clock around the
   * call measures the kernel. False for GPU kernels (queued) and for meta (no real work).
   */
  synchronousKernelTimes: boolean;
}

/** Node packages that provide the "tensorflow" backend, the GPU build first. */
const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const TENSORFLOW_INSTALL_HINT =
  'npm install @tensorflow/tfjs-node (it needs internet to download libtensorflow), or use --backend wasm';

export function parseBackendChoice(raw: string): BackendChoice {
  const choice = BACKEND_CHOICES.find((name) => name === raw);
  if (choice === undefined) {
    throw new InputError(`--backend: "${raw}" is not one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return choice;
}

let prodModeEnabled = false;

function enableProdModeOnce(): void {
  if (prodModeEnabled) return;
  tf.enableProdMode();
  prodModeEnabled = true;
}

/** The first non-empty line of an error's message (load errors can run to many lines). */
function firstLineOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (
    message
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? 'unknown error'
  );
}

/** Whether `packageName` is installed where this file can see it (resolving does not load it). */
function isInstalled(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

/** Which tensorflow package loaded, once one has; the package registers the backend on import. */
let tensorflowPackage: string | undefined;

/** Imports the first tfjs-node package present; throws UnavailableError naming why none loaded. */
async function loadTensorflowPackage(): Promise<string> {
  if (tensorflowPackage !== undefined) return tensorflowPackage;
  const failures: string[] = [];
  for (const packageName of TENSORFLOW_PACKAGES) {
    if (!isInstalled(packageName)) continue;
    try {
      // A string variable, so the compiler does not demand the optional package's types.
      const specifier: string = packageName;
      await import(specifier);
      tensorflowPackage = packageName;
      return packageName;
    } catch (error) {
      failures.push(`${packageName} is installed but failed to load: ${firstLineOf(error)}`);
    }
  }
  const reason = failures.length > 0 ? failures.join('; ') : '@tensorflow/tfjs-node is not installed';
  throw new UnavailableError(`--backend tensorflow: ${reason}. To use it: ${TENSORFLOW_INSTALL_HINT}`);
}

/** Imports src/meta and registers its backend under the name "meta" (registration is idempotent). */
async function loadMetaBackend(): Promise<void> {
  // Loaded on demand: runs on real backends never pay for the meta kernels' registration.
  let metaModule: typeof import('../meta/index.js');
  try {
    metaModule = await import('../meta/index.js');
  } catch (error) {
    throw new UnavailableError(`--backend meta: the shape-only backend could not be loaded: ${firstLineOf(error)}`);
  }
  metaModule.registerMetaBackend();
}

/** The default wasm thread count: the count measured (scripts/bench_threads.ts), where there are cores for it. */
const DEFAULT_WASM_THREADS = 2;

/** The cores Node can use; 1 in the web page, whose stand-in for node:os has no such function. */
function coreCount(): number {
  const count = (os as Partial<typeof os>).availableParallelism;
  return count === undefined ? 1 : count();
}

/**
 * Threads for the wasm backend: FLOPLEDGER_WASM_THREADS, else 2 where the machine has two cores
 * or more. Measured interleaved on a 2-core machine (scripts/bench_threads.ts, forward passes
 * alternating between a 1-thread and a 2-thread process), two threads ran the benchmark's four
 * forward passes 1.40-1.64x faster and their bare matmuls 1.93-2.00x at a load average below
 * 1.3; at a load average of 7-11 they were 3-10% slower, both cores being taken by other work.
 * FLOPLEDGER_WASM_THREADS=1 keeps timings steadier on a machine shared with other work.
 */
function requestedWasmThreads(): number {
  const raw = process.env['FLOPLEDGER_WASM_THREADS'];
  if (raw === undefined || raw === '') return Math.min(DEFAULT_WASM_THREADS, coreCount());
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new InputError(
      `FLOPLEDGER_WASM_THREADS: "${raw}" is not a positive integer; use e.g. FLOPLEDGER_WASM_THREADS=2, or 1 for the single-thread build`,
    );
  }
  return threads;
}

/** Set once the threaded wasm build has started: its heap is shared, so weights can fill on both cores. */
let parallelFill: { readonly filler: TruncatedNormalFiller; readonly stopWorker: () => void } | undefined;

/**
 * What initWeights takes as its truncatedNormalFiller: the two-core fill once the threaded wasm
 * build has started (initWeights uses it only while that backend, whose heap is shared, is
 * active), else nothing, and each tensor is filled as it is made.
 */
export function weightFiller(): { truncatedNormalFiller?: TruncatedNormalFiller } {
  return parallelFill === undefined ? {} : { truncatedNormalFiller: parallelFill.filler };
}

/**
 * Ends the two-core fill's worker thread once a run has made its weights, so that it is not
 * resident through the pass, where the run's memory peaks; a later fill starts it again.
 */
export function weightsMade(): void {
  parallelFill?.stopWorker();
}

/** A run's weights, as initWeights makes them, filled on both cores where it can; then weightsMade. */
export function initRunWeights(
  config: ModelConfig,
  options: Omit<InitOptions, 'truncatedNormalFiller'>,
): TransformerWeights {
  const weights = initWeights(config, { ...options, ...weightFiller() });
  weightsMade();
  return weights;
}

async function activate(name: string): Promise<void> {
  if (name === 'native') {
    // The native backend runs on the wasm backend's instance: the single-thread build, started
    // only once onnxruntime-node has loaded (native_backend.ts says why one thread).
    const { startNativeBackend } = await import('./native_backend.js');
    await startNativeBackend(requestedWasmThreads(), async () => {
      if (tf.engine().registry['wasm'] !== undefined) return;
      if (!(await tf.setBackend('wasm')))
        throw new UnavailableError('--backend wasm: the backend failed to initialise');
    });
    return;
  }
  if (name === 'wasm' && requestedWasmThreads() > 1 && tf.engine().registry['wasm'] === undefined) {
    const { startThreadedWasm } = await import('./wasm_threads.js');
    await startThreadedWasm(requestedWasmThreads());
    const { parallelTruncatedNormalFiller, startFillWorker, stopFillWorker } = await import('./parallel_fill.js');
    parallelFill = { filler: parallelTruncatedNormalFiller, stopWorker: stopFillWorker };
    startFillWorker();
    return;
  }
  const ready = await tf.setBackend(name);
  if (!ready) throw new UnavailableError(`--backend ${name}: the backend failed to initialise`);
  await tf.ready();
}

async function describe(name: string): Promise<ActiveBackend> {
  switch (name) {
    case 'wasm': {
      const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
      const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
      const threads = getThreadsCount();
      return {
        name,
        description: `WebAssembly (${simd ? 'SIMD' : 'no SIMD'}, ${threads > 1 ? `${threads} threads` : 'single thread'})`,
        synchronousKernelTimes: true,
      };
    }
    case 'native': {
      const { nativeMatmulDescription } = await import('./native_backend.js');
      const wasm = await describe('wasm');
      return {
        name,
        description: `${wasm.description}, matmuls on ${nativeMatmulDescription()}`,
        synchronousKernelTimes: true,
      };
    }
    case 'cpu':
      return { name, description: 'plain JavaScript kernels (slow reference)', synchronousKernelTimes: true };
    case 'tensorflow': {
      const gpu = tensorflowPackage === '@tensorflow/tfjs-node-gpu';
      return {
        name,
        description: `libtensorflow via ${tensorflowPackage ?? 'tfjs-node'}${gpu ? ' (GPU)' : ' (CPU)'}`,
        synchronousKernelTimes: !gpu,
      };
    }
    case 'meta':
      return { name, description: 'shape-only meta backend (no data, no kernel times)', synchronousKernelTimes: false };
    case 'webgl':
      return {
        name,
        description: `WebGL ${tf.env().getNumber('WEBGL_VERSION')} (GPU shaders, kernels queued)`,
        synchronousKernelTimes: false,
      };
    case 'webgpu':
      return { name, description: 'WebGPU (GPU compute shaders, kernels queued)', synchronousKernelTimes: false };
    default:
      return { name, description: name, synchronousKernelTimes: false };
  }
}

/** Whether the native backend starts here (onnxruntime-node installed and loading); leaves wasm active. */
async function nativeLoads(): Promise<boolean> {
  try {
    await activate('native');
    return true;
  } catch (error) {
    if (!(error instanceof UnavailableError)) throw error;
    return false;
  }
}

/** Sets and readies the backend for `choice`; throws UnavailableError when it cannot run here. */
export async function useBackend(choice: BackendChoice | BrowserBackend): Promise<ActiveBackend> {
  enableProdModeOnce();
  let name: string;
  switch (choice) {
    case 'auto':
      try {
        await loadTensorflowPackage();
        name = 'tensorflow';
      } catch (error) {
        if (!(error instanceof UnavailableError)) throw error;
        name = (await nativeLoads()) ? 'native' : 'wasm';
      }
      break;
    case 'tensorflow':
      await loadTensorflowPackage();
      name = 'tensorflow';
      break;
    case 'meta':
      await loadMetaBackend();
      name = 'meta';
      break;
    case 'cpu':
    case 'wasm':
    case 'native':
      name = choice;
      break;
    case 'webgl':
    case 'webgpu':
      // Registered by the umbrella package (webgl) or by the page (webgpu); absent in Node.
      if (tf.findBackendFactory(choice) === null) {
        throw new UnavailableError(
          `backend ${choice}: not registered here${choice === 'webgpu' ? ' (@tensorflow/tfjs-backend-webgpu is not loaded)' : ''}; use wasm or cpu`,
        );
      }
      name = choice;
      break;
  }
  await activate(name);
  return describe(tf.getBackend());
}

/** The backend names that can run here, in BACKEND_CHOICES order (without "auto"). */
export async function availableBackends(): Promise<string[]> {
  const available = ['cpu', 'wasm'];
  const active = tf.getBackend();
  if (await nativeLoads()) available.push('native');
  if (active !== undefined && active !== tf.getBackend()) await tf.setBackend(active);
  try {
    await loadTensorflowPackage();
    available.push('tensorflow');
  } catch (error) {
    if (!(error instanceof UnavailableError)) throw error;
  }
  try {
    await loadMetaBackend();
    available.push('meta');
  } catch (error) {
    if (!(error instanceof UnavailableError)) throw error;
  }
  return available;
}
