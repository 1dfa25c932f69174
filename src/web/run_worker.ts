/**
 * Runs the model off the page's thread: a traced pass runs its kernels synchronously, so on the
 * page itself nothing could draw progress or take a click until it ended. Here the page stays
 * live, progress arrives as messages, and cancelling terminates the worker. WebGL runs in the
 * worker on an OffscreenCanvas.
 *
 * The verification is the CLI's: verifyModel and verifyTraining, reported by the same views.
 */
// The backends register themselves on import (webgpu's below, only when chosen).
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { KernelRecord } from '../core/kernel_record.js';
import type { ProgressSink } from '../runtime/progress.js';
import { traceForward, type TracedRun } from '../runtime/traced_run.js';
import { readWasmInputsInPlace } from '../runtime/wasm_heap_views.js';
import { verifyModel } from '../verify/verify_model.js';
import { verifyTraining } from '../verify/verify_training.js';
import { verificationReport } from '../views/verify_report.js';
import { trainingVerificationReport } from '../views/verify_training_report.js';
import { modelOf } from './model_of.js';
import type { RunMessage, RunRequest } from './run_protocol.js';

/** A real run in a tab may take this much; meta holds no data and ignores it. */
const PAGE_MEMORY_BUDGET = 2n * 2n ** 30n;

const scope = self as unknown as {
  postMessage(message: RunMessage): void;
  onmessage: ((event: MessageEvent<RunRequest>) => void) | null;
};

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});
// The page's wasm slices and reverses as the command line's (src/runtime/wasm_heap_views.ts).
readWasmInputsInPlace();

const progress: ProgressSink = {
  line: () => undefined,
  step: (title, done, total, step) => scope.postMessage({ kind: 'progress', title, done, total, step }),
};

/** Outermost kernels without a FLOP rule, "Name x count", in the order they first ran. */
function uncounted(records: readonly KernelRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.nested || record.matmul !== undefined || record.flops !== null) continue;
    counts.set(record.kernel, (counts.get(record.kernel) ?? 0) + 1);
  }
  return [...counts].map(([kernel, count]) => `${kernel} x ${count}`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What the verifier reads of an outermost kernel: its name, its module path, its matmul's
 * dimensions and its FLOPs by the rule table (null without a rule).
 */
function comparedText(record: KernelRecord): string {
  const matmul = record.matmul;
  const dims =
    matmul === undefined ? '' : ` matmul ${matmul.batch}x[${matmul.m},${matmul.k}]x[${matmul.k},${matmul.n}]`;
  return `${record.kernel} at ${record.path || '(top)'}${dims} flops ${record.flops ?? 'uncounted'}`;
}

/** The forward pass traced on cpu and on the chosen backend, compared kernel for kernel. */
async function compareWithCpu({ state, run }: RunRequest): Promise<void> {
  const config = modelOf(state);
  const start = performance.now();
  const runs: TracedRun[] = [];
  for (const backend of ['cpu', state.backend] as const) {
    runs.push(await traceForward({ config, run, backend, maxMemoryBytes: PAGE_MEMORY_BUDGET, progress }));
  }
  const [onCpu, onOther] = runs as [TracedRun, TracedRun];
  const [cpu, other] = [onCpu, onOther].map((traced) =>
    traced.records.filter((record) => !record.nested).map(comparedText),
  ) as [string[], string[]];
  const differ = [...Array(Math.max(cpu.length, other.length)).keys()].filter((i) => cpu[i] !== other[i]);
  const lines = differ
    .slice(0, 10)
    .map((i) => `kernel ${i + 1}: cpu ran ${cpu[i] ?? 'nothing'}; ${state.backend} ran ${other[i] ?? 'nothing'}`);
  scope.postMessage({
    kind: 'result',
    summary: {
      what: 'comparison',
      // The backends that ran, not the ones asked for: a comparison of cpu with itself proves nothing.
      backend: onOther.backend.name,
      ok: differ.length === 0 && onCpu.backend.name === 'cpu',
      matmulsMatched: cpu.length - differ.length,
      matmulsExpected: cpu.length,
      kernels: other.length,
      uncounted: uncounted(onOther.records),
      seconds: (performance.now() - start) / 1000,
    },
    blocks: [
      {
        kind: 'paragraph',
        text:
          differ.length === 0
            ? `The ${state.backend} trace equals the cpu trace kernel for kernel: ${cpu.length} kernels, the same names, module paths, matmul shapes and FLOPs.`
            : `The ${state.backend} trace differs from the cpu trace at ${differ.length} of ${cpu.length} kernels.`,
      },
      ...(lines.length === 0 ? [] : [{ kind: 'list' as const, items: lines }]),
    ],
  });
  scope.postMessage({ kind: 'done' });
}

/**
 * The webgpu backend registers itself on import; it is loaded only when chosen, so the other
 * backends' runs do not fetch it.
 */
async function registerBackend(backend: RunRequest['state']['backend']): Promise<void> {
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
}

async function runAll(request: RunRequest): Promise<void> {
  await registerBackend(request.state.backend);
  if (request.mode === 'compare') return compareWithCpu(request);
  const { state, run } = request;
  const config = modelOf(state);
  const options = { config, run, backend: state.backend, maxMemoryBytes: PAGE_MEMORY_BUDGET, progress };
  let start = performance.now();
  const verified = await verifyModel(options);
  scope.postMessage({
    kind: 'result',
    summary: {
      what: 'forward',
      backend: verified.backend.name,
      ok: verified.ok,
      matmulsMatched: verified.matmuls.matchedCount,
      matmulsExpected: verified.matmuls.expectedCount,
      kernels: verified.kernelCount,
      uncounted: uncounted(verified.records),
      seconds: (performance.now() - start) / 1000,
    },
    blocks: verificationReport(verified, state.depth).blocks,
  });
  if (state.train) {
    start = performance.now();
    const training = await verifyTraining(options);
    scope.postMessage({
      kind: 'result',
      summary: {
        what: 'training step',
        backend: training.backend.name,
        ok: training.ok,
        matmulsMatched: training.forward.matchedCount + training.backward.matchedCount,
        matmulsExpected: training.forward.expectedCount + training.backward.expectedCount,
        kernels: training.records.filter((record) => !record.nested).length,
        uncounted: uncounted(training.records),
        seconds: (performance.now() - start) / 1000,
      },
      blocks: trainingVerificationReport(training, state.depth).blocks,
    });
  }
  scope.postMessage({ kind: 'done' });
}

scope.onmessage = (event) => {
  runAll(event.data).catch((error: unknown) => scope.postMessage({ kind: 'error', message: messageOf(error) }));
};
