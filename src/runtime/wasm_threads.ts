/**
 * The threaded SIMD build of the wasm backend, started in Node: the default at 2 threads where
 * there are 2 cores (src/runtime/backend.ts; FLOPLEDGER_WASM_THREADS=1 for the single-thread
 * build). It starts once per process, when the backend is first set: the pool's workers are
 * created then and reused by every kernel after. Measured interleaved (scripts/bench_threads.ts),
 * it ran the benchmark's forward passes 1.40-1.64x faster than the single-thread build and their
 * bare matmuls 1.93-2.00x on a quiet 2-core machine; on one loaded by other work (load average
 * 7-11) it was 3-10% slower. Starting it takes the five workarounds below.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (pthreads on Web Workers) but does not start
 * it in Node. Out of the box, in order:
 *  1. WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when IS_NODE (tfjs issue #3830), so
 *     the single-thread SIMD binary loads. Setting the flag to true gets further, to:
 *  2. Emscripten's pthread pool starts each worker from a blob: URL of the worker script, and
 *     Node's Worker takes only a file path or source text with { eval: true } (ERR_WORKER_PATH);
 *     setBackend resolves false ("Initialization of backend wasm failed").
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
import { Worker as NodeWorker, type TransferListItem, type WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/**
 * The module-scope `var require$$N = require('x')` lines of the Node bundle, so the worker can
 * define the same names before the factory's source runs.
 */
function bundlePrelude(scriptPath: string): string {
  const bundle = readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');
  const requires = [...bundle.matchAll(/^var (require\$\$\d+) = require\('([^']+)'\);$/gm)].map(
    ([, name, module]) => `var ${name} = require(${JSON.stringify(module)});`,
  );
  return [...requires, 'var commonjsGlobal = globalThis;', `var _scriptDir = ${JSON.stringify(scriptPath)};`, ''].join(
    '\n',
  );
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
    // Node's Worker declares its listeners with `any` arguments; an override must match them.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override on(event: string | symbol, listener: (...args: any[]) => void): this {
      super.on(event, listener);
      // (5) Listeners ref the worker's port again; once started, keep every worker unref'd.
      if (started) this.unref();
      return this;
    }
    override postMessage(message: unknown, transfer?: readonly TransferListItem[]): void {
      // (3) The worker is told to load the main script from a Blob; give it a file it can read,
      // with the bundle's module-scope names defined first.
      // Written once: every worker of the pool reads the same file, and rewriting it while one
      // reads it would hand that worker a truncated script.
      const load = message as { cmd?: unknown; urlOrBlob?: unknown } | null;
      const text = load?.cmd === 'load' && load.urlOrBlob instanceof Blob ? blobText.get(load.urlOrBlob) : undefined;
      if (text !== undefined) {
        if (!mainScriptWritten) {
          writeFileSync(mainScript, bundlePrelude(mainScript) + text);
          mainScriptWritten = true;
        }
        super.postMessage({ ...load, urlOrBlob: mainScript }, transfer);
        return;
      }
      super.postMessage(message, transfer);
    }
  }
  // Emscripten assigns global.Worker = worker_threads.Worker when its factory runs: keep ours.
  Object.defineProperty(globalThis, 'Worker', {
    get: () => BlobUrlWorker,
    // Emscripten's assignment is ignored on purpose: the getter above answers every read.
    set: () => undefined,
    configurable: true,
  });

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
  releaseIdlePoolWorkers();
  return getThreadsCount();
}

/** The part of Emscripten's pthread runtime, exported on the module as `PThread`, that holds the pool. */
interface PthreadPool {
  readonly unusedWorkers: NodeWorker[];
  readonly runningWorkers: NodeWorker[];
}

/** The pool of the threaded build now running, or undefined if its module does not export it. */
export function wasmPthreadPool(): PthreadPool | undefined {
  const pool = (tf.backend() as unknown as { wasm?: { PThread?: Partial<PthreadPool> } }).wasm?.PThread;
  return Array.isArray(pool?.unusedWorkers) && Array.isArray(pool.runningWorkers) ? (pool as PthreadPool) : undefined;
}

/**
 * Emscripten starts a pool of 8 workers, whatever the thread count, and XNNPACK's thread pool,
 * made once as the backend starts, takes threads - 1 of them; the rest never run a thread. Each
 * holds a Node isolate and an instance of the module, about 8 MiB of resident memory: 54 MiB for
 * the 7 idle ones at 2 threads, over a tenth of a weight-sized run's budget
 * (scripts/bench_check.ts). They are ended here and taken out of the pool; a thread started
 * later would get a new worker, which Emscripten makes when the pool is empty.
 */
function releaseIdlePoolWorkers(): void {
  const pool = wasmPthreadPool();
  if (pool === undefined) return;
  for (const worker of pool.unusedWorkers.splice(0)) void worker.terminate();
}
