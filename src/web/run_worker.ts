/**
 * Runs the model off the page's thread: a traced pass runs its kernels synchronously, so on the
 * page itself nothing could draw progress or take a click until it ended. Here the page stays
 * live, progress arrives as messages, and cancelling terminates the worker. WebGL runs in the
 * worker on an OffscreenCanvas.
 *
 * The verification is the CLI's: verifyModel and verifyTraining, reported by the same views.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { KernelRecord } from '../core/kernel_record.js';
import type { ProgressSink } from '../runtime/progress.js';
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

async function runAll({ state, run }: RunRequest): Promise<void> {
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
