/**
 * Seeded weights drawn on both cores: the main thread and one worker thread fill the random
 * tensors between them, straight into the threaded wasm build's shared heap.
 * Node only (worker_threads); loaded with the threaded build (backend.ts). A tensor draws from
 * its own stream (src/model/seeded_random.ts), so which thread fills it, and in which order,
 * changes no value: the weights are bit for bit those of the sequential fill.
 *
 * The worker runs the model's own sampler: truncatedNormalLoop is self-contained (its arguments
 * and Math only), so its source text, evaluated in the worker, is the same function whether it
 * came from the TypeScript sources (tests) or from dist/. The ziggurat's tables are sent along.
 *
 * The two threads take tensors from one queue, largest first, each the next not yet taken, so
 * the split follows how fast each thread actually runs (JIT warm-up and other work on the machine
 * made a fixed split by value count leave one thread waiting for the other for up to a third of
 * the time); the last tensors are the smallest, so neither waits for long. The call is
 * synchronous, as initWeights is: the main thread waits on an Atomics counter the worker steps
 * after each tensor (Node allows Atomics.wait on its main thread).
 */
import { Worker } from 'node:worker_threads';
import {
  truncatedNormalLoop,
  ZIGGURAT_TABLES,
  type TruncatedNormalFiller,
  type TruncatedNormalJob,
} from '../model/index.js';

/**
 * Below this many values the sequential fill is kept: it draws about 100 million values a
 * second, and starting the worker takes some tens of milliseconds.
 */
const MIN_PARALLEL_VALUES = 4_194_304;

/**
 * How long the main thread waits for the worker's next tensor before it gives up on it: a
 * minute, or 100 ns a value of the largest tensor (ten times the sampler's cost), if longer.
 */
const WORKER_SILENCE_FLOOR_MS = 60_000;
const WORKER_SILENCE_MS_PER_VALUE = 1e-4;

/**
 * The worker runs the sampler this many times on this many values as soon as it starts, so that
 * V8 has optimised it before the first real tensor arrives: cold, its first tensors ran at two
 * to four times the optimised cost per value while the main thread ran at full speed.
 */
const WARM_UP_CALLS = 64;
const WARM_UP_VALUES = 4096;

/**
 * Slots of the shared signal array: the next job to take, the jobs done, a count of events
 * (a job done, or the worker failing) for the main thread to wait on, and the worker's failure.
 */
const NEXT_JOB = 0;
const JOBS_DONE = 1;
const EVENTS = 2;
const FAILED = 3;
const SIGNAL_SLOTS = 4;

/**
 * The worker's program. It evaluates the sampler's source once and warms it up, then, for each
 * queue it is sent, takes jobs until none is left, counting each one done, or marks FAILED.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const loop = new Function('return (' + workerData.loopSource + ')')();
const { edges, innerRatio } = workerData;
const scratch = new Float32Array(${WARM_UP_VALUES});
const scratchState = new Int32Array(4);
for (let call = 0; call < ${WARM_UP_CALLS}; call++) loop(scratch, 1, 3, scratchState, edges, innerRatio);
parentPort.on('message', ({ buffers, offsets, lengths, stds, limits, states, signal }) => {
  try {
    for (;;) {
      const i = Atomics.add(signal, ${NEXT_JOB}, 1);
      if (i >= offsets.length) break;
      const values = new Float32Array(buffers[i], offsets[i], lengths[i]);
      loop(values, stds[i], limits[i], states.subarray(4 * i, 4 * i + 4), edges, innerRatio);
      Atomics.add(signal, ${JOBS_DONE}, 1);
      Atomics.add(signal, ${EVENTS}, 1);
      Atomics.notify(signal, ${EVENTS});
    }
  } catch (error) {
    Atomics.store(signal, ${FAILED}, 1);
    Atomics.add(signal, ${EVENTS}, 1);
    Atomics.notify(signal, ${EVENTS});
  }
});
`;

let worker: Worker | undefined;
/** Workers started in this process: one, unless one died and was replaced. */
let workersStarted = 0;

export function fillWorkersStarted(): number {
  return workersStarted;
}

/**
 * The one fill worker of the process, started on first use (or by startFillWorker); unref'd, so
 * it never keeps Node alive.
 */
function fillWorker(): Worker {
  if (worker !== undefined) return worker;
  const started = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { loopSource: truncatedNormalLoop.toString(), ...ZIGGURAT_TABLES },
  });
  started.unref();
  workersStarted++;
  // A worker that died is replaced on the next fill; the fill it was running reports FAILED or times out.
  const forget = (): void => {
    if (worker === started) worker = undefined;
  };
  started.on('error', forget);
  started.on('exit', forget);
  worker = started;
  return started;
}

/**
 * Ends the fill worker; a later fill starts a new one. A run calls it once its weights are made:
 * the worker's isolate, about 10 MiB, would otherwise stay resident through the pass, where the
 * run's memory peaks.
 */
export function stopFillWorker(): void {
  const running = worker;
  worker = undefined;
  if (running !== undefined) void running.terminate();
}

/**
 * Starts the fill worker now, so that it has started and warmed up by the time weights are made
 * (the threaded backend's start-up calls it: the run's set-up then overlaps the worker's).
 */
export function startFillWorker(): void {
  fillWorker();
  // The main thread's share runs the same function: warm it here too, while the run is set up.
  const scratch = new Float32Array(WARM_UP_VALUES);
  const state = new Int32Array(4);
  const { edges, innerRatio } = ZIGGURAT_TABLES;
  for (let call = 0; call < WARM_UP_CALLS; call++) truncatedNormalLoop(scratch, 1, 3, state, edges, innerRatio);
}

/** Each job's shared buffer (a shared wasm heap's buffers all view one memory, whatever their lengths). */
function sharedBuffers(jobs: readonly TruncatedNormalJob[]): SharedArrayBuffer[] {
  return jobs.map(({ values }) => {
    if (!(values.buffer instanceof SharedArrayBuffer))
      throw new Error('parallel fill: a tensor is not in shared memory');
    return values.buffer;
  });
}

function fillOnBothCores(jobs: readonly TruncatedNormalJob[], onFilled: (jobsDone: number) => void): void {
  // Largest first: the tensors left at the end, when one thread may wait for the other, are the smallest.
  const queue = [...jobs].sort((x, y) => y.values.length - x.values.length);
  const count = queue.length;
  const signal = new Int32Array(new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  const states = new Int32Array(new SharedArrayBuffer(4 * count * Int32Array.BYTES_PER_ELEMENT));
  queue.forEach((job, i) => states.set(job.state, 4 * i));
  fillWorker().postMessage({
    buffers: sharedBuffers(queue),
    offsets: queue.map((job) => job.values.byteOffset),
    lengths: queue.map((job) => job.values.length),
    stds: queue.map((job) => job.std),
    limits: queue.map((job) => job.limitInStd),
    states,
    signal,
  });
  const silenceLimitMs = Math.max(
    WORKER_SILENCE_FLOOR_MS,
    (queue[0]?.values.length ?? 0) * WORKER_SILENCE_MS_PER_VALUE,
  );
  let reported = 0;
  const report = (): void => {
    const done = Atomics.load(signal, JOBS_DONE);
    if (done > reported) onFilled((reported = done));
  };
  const { edges, innerRatio } = ZIGGURAT_TABLES;
  try {
    for (;;) {
      const i = Atomics.add(signal, NEXT_JOB, 1);
      if (i >= count) break;
      const job = queue[i]!;
      truncatedNormalLoop(job.values, job.std, job.limitInStd, states.subarray(4 * i, 4 * i + 4), edges, innerRatio);
      Atomics.add(signal, JOBS_DONE, 1);
      report();
    }
  } catch (error) {
    // Close the queue and wait for the jobs the worker took: the caller frees these tensors on
    // error, and the worker must not be writing into them by then. The one that threw is not done.
    const taken = Math.min(Atomics.exchange(signal, NEXT_JOB, count), count);
    waitForWorker(signal, taken - 1, silenceLimitMs, () => undefined);
    throw error;
  }
  waitForWorker(signal, count, silenceLimitMs, report);
  // Hand back the stepped states, as the sequential fill leaves its jobs.
  queue.forEach((job, i) => job.state.set(states.subarray(4 * i, 4 * i + 4)));
  report();
}

/**
 * Blocks until `jobsDone` jobs are done, calling `onEvent` as the worker finishes each; throws
 * if the worker failed or fell silent for `silenceLimitMs`.
 */
function waitForWorker(signal: Int32Array, jobsDone: number, silenceLimitMs: number, onEvent: () => void): void {
  for (;;) {
    // Read before the checks: an event after them changes it, so the wait returns at once.
    const events = Atomics.load(signal, EVENTS);
    if (Atomics.load(signal, FAILED) !== 0) throw new Error('parallel fill: the fill worker failed');
    if (Atomics.load(signal, JOBS_DONE) >= jobsDone) return;
    if (Atomics.wait(signal, EVENTS, events, silenceLimitMs) === 'timed-out') {
      throw new Error(`parallel fill: the fill worker made no progress for ${Math.round(silenceLimitMs / 1000)} s`);
    }
    onEvent();
  }
}

/** The filler initWeights takes on the threaded wasm build in Node (InitOptions.truncatedNormalFiller). */
export const parallelTruncatedNormalFiller: TruncatedNormalFiller = {
  minValues: MIN_PARALLEL_VALUES,
  fill: fillOnBothCores,
};
