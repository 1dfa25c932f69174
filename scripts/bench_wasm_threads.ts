/**
 * Single-thread against threaded WebAssembly, each in a process of its own (a process gets one
 * wasm module, and the threaded one cannot be swapped out once started).
 *
 *   node dist/scripts/bench_wasm_threads.js single
 *   node dist/scripts/bench_wasm_threads.js threaded [threads]
 *
 * prints one JSON object: the thread count the backend reports, bare matmul rates at a few
 * shapes, and the median forward time of one config.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (pthreads on Web Workers) but does not start
 * it in Node. Out of the box, in order:
 *  1. WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when IS_NODE (tfjs issue #3830), so
 *     the single-thread SIMD binary loads. Setting the flag to true gets further, to:
 *  2. Emscripten's pthread pool starts each worker from a blob: URL of the worker script, and
 *     Node's Worker takes only a file path or source text with { eval: true }:
 *     "TypeError [ERR_WORKER_PATH]: The worker script or module filename must be an absolute
 *     path or a relative path starting with './' or '../'. Received "blob:nodedata:...""; setBackend
 *     resolves false ("Initialization of backend wasm failed").
 *  3. Once the worker starts, it loads the main script from a Blob holding the factory
 *     function's source, and the Node bundle's factory refers to the bundle's module-scope names:
 *     "ReferenceError: require$$0 is not defined" in every worker.
 *  4. It then runs, but with one thread: the C++ side caps the pool at
 *     emscripten_num_logical_cores() / 2, i.e. os.cpus().length / 2, which is 1 on a 2-vCPU machine.
 *  5. The pool's workers keep the event loop alive, so the process never exits by itself.
 * startThreadedWasm() works around all five; see its comments.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { ActiveBackend } from '../src/backend.js';
import { loadModelConfig } from '../src/config/index.js';
import { calibrateMatmul, type MatmulDispatch } from '../src/timing/calibrate.js';
import { timeForward } from '../src/timing/time_forward.js';
import { BENCH_THREAD_CONFIG } from './bench_configs.js';

/**
 * The module-scope `var require$$N = require('x')` lines of the Node bundle, so the worker can
 * define the same names before the factory's source runs.
 */
function bundlePrelude(scriptPath: string): string {
  const bundle = readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');
  const requires = [...bundle.matchAll(/^var (require\$\$\d+) = require\('([^']+)'\);$/gm)].map(
    ([, name, module]) => `var ${name} = require(${JSON.stringify(module)});`,
  );
  return [...requires, 'var commonjsGlobal = globalThis;', `var _scriptDir = ${JSON.stringify(scriptPath)};`, ''].join('\n');
}

/** Starts the threaded SIMD wasm backend with `threads` threads; returns the count XNNPACK reports. */
export async function startThreadedWasm(threads: number): Promise<number> {
  const scratch = mkdtempSync(join(os.tmpdir(), 'flopledger-wasm-threads-'));
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
  const mainScript = join(scratch, 'wasm-main.js');
  let mainScriptWritten = false;

  // (2, 3) Remember the text of every Blob made of strings, and which object URL names which text.
  const blobText = new WeakMap<Blob, string>();
  const urlText = new Map<string, string>();
  const OriginalBlob = globalThis.Blob;
  globalThis.Blob = class TextRecordingBlob extends OriginalBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const [parts] = args;
      if (parts?.every((part) => typeof part === 'string')) blobText.set(this, parts.join(''));
    }
  };
  const originalCreateObjectURL = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (blob: Blob) => {
    const url = originalCreateObjectURL(blob);
    const text = blobText.get(blob);
    if (text !== undefined) urlText.set(url, text);
    return url;
  };

  let started = false;
  const workers = new Set<NodeWorker>();
  class BlobUrlWorker extends NodeWorker {
    constructor(script: string | URL, options?: WorkerOptions) {
      // (2) A blob: URL we saw created becomes its source text, run with eval.
      const text = urlText.get(String(script));
      super(text ?? script, text === undefined ? options : { ...options, eval: true });
      workers.add(this);
    }
    override on(event: string | symbol, listener: (...args: any[]) => void): this {
      super.on(event, listener);
      // (5) Listeners ref the worker's port again; once started, keep every worker unref'd.
      if (started) this.unref();
      return this;
    }
    override postMessage(message: any, transfer?: readonly any[]): void {
      // (3) The worker is told to load the main script from a Blob; give it a file it can read,
      // with the bundle's module-scope names defined first.
      // Written once: every worker of the pool reads the same file, and rewriting it while one
      // reads it would hand that worker a truncated script.
      const text = message?.cmd === 'load' ? blobText.get(message.urlOrBlob) : undefined;
      if (text !== undefined) {
        if (!mainScriptWritten) {
          writeFileSync(mainScript, bundlePrelude(mainScript) + text);
          mainScriptWritten = true;
        }
        message = { ...message, urlOrBlob: mainScript };
      }
      super.postMessage(message, transfer as never);
    }
  }
  // Emscripten assigns global.Worker = worker_threads.Worker when its factory runs: keep ours.
  Object.defineProperty(globalThis, 'Worker', { get: () => BlobUrlWorker, set: () => {}, configurable: true });

  // (4) The cap reads os.cpus() once, while the module initialises: report twice the CPUs then.
  const originalCpus = os.cpus;
  os.cpus = () => {
    const list = originalCpus();
    return [...list, ...list];
  };
  try {
    tf.enableProdMode();
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true); // (1)
    setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('the threaded wasm backend failed to initialise');
    await tf.ready();
  } finally {
    os.cpus = originalCpus;
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = originalCreateObjectURL;
  }
  started = true;
  for (const worker of workers) worker.unref(); // (5)
  return getThreadsCount();
}

/** Shapes timed in both builds: the fast path, a transposed operand, and the attention core's batched form. */
export const THREAD_BENCH_SHAPES: readonly { name: string; dispatch: MatmulDispatch }[] = [
  { name: 'fast path 512', dispatch: { aShape: [512, 512], bShape: [512, 512], transposeA: false, transposeB: false } },
  { name: 'fast path 1024', dispatch: { aShape: [1024, 1024], bShape: [1024, 1024], transposeA: false, transposeB: false } },
  { name: 'transposed b 512', dispatch: { aShape: [512, 512], bShape: [512, 512], transposeA: false, transposeB: true } },
  { name: 'attention scores', dispatch: { aShape: [8, 256, 64], bShape: [8, 256, 64], transposeA: false, transposeB: true } },
];

export interface ThreadBenchResult {
  readonly mode: 'single' | 'threaded';
  readonly requestedThreads: number;
  readonly threads: number;
  readonly matmul: { name: string; label: string; gflops: number; median_ms: number }[];
  readonly forward: { label: string; median_ms: number; runs: number; gflops: number };
}

async function main(): Promise<void> {
  const mode = process.argv[2] === 'threaded' ? 'threaded' : 'single';
  const requestedThreads = mode === 'threaded' ? Number(process.argv[3] ?? os.cpus().length) : 1;
  let threads = 1;
  if (mode === 'threaded') {
    threads = await startThreadedWasm(requestedThreads);
  } else {
    tf.enableProdMode();
    if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  }
  const backend: ActiveBackend = {
    name: 'wasm',
    description: `WebAssembly (SIMD, ${threads} ${threads === 1 ? 'thread' : 'threads'})`,
    synchronousKernelTimes: true,
  };
  const matmul = [];
  for (const { name, dispatch } of THREAD_BENCH_SHAPES) {
    const calibration = await calibrateMatmul(dispatch, { synchronous: true, minTimeMs: 800 });
    matmul.push({ name, label: calibration.label, gflops: calibration.gflops, median_ms: calibration.summary.median });
  }
  const { model, overrides, run, label } = BENCH_THREAD_CONFIG;
  const config = loadModelConfig(model, overrides);
  const timing = await timeForward(config, run, backend, { targetMs: 3000 });
  const result: ThreadBenchResult = {
    mode,
    requestedThreads,
    threads,
    matmul,
    forward: { label, median_ms: timing.summary.median, runs: timing.summary.count, gflops: timing.achievedGflops },
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
