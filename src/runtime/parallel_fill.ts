/**
 * Seeded weights drawn on both cores: the main thread and one worker thread each fill about
 * half of the random tensors' values, straight into the threaded wasm build's shared heap.
 * Node only (worker_threads); loaded with the threaded build (backend.ts). A tensor draws from
 * its own stream (src/model/seeded_random.ts), so which thread fills it, and in which order,
 * changes no value: the weights are bit for bit those of the sequential fill.
 *
 * The worker runs the model's own sampler: truncatedNormalLoop is self-contained (its arguments
 * and Math only), so its source text, evaluated in the worker, is the same function whether it
 * came from the TypeScript sources (tests) or from dist/. The ziggurat's tables are sent along.
 *
 * The call is synchronous, as initWeights is: the main thread fills its share, then waits on an
 * Atomics counter the worker steps after each tensor (Node allows Atomics.wait on its main thread).
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
 * minute, or 100 ns a value of its largest tensor (ten times the sampler's cost), if longer.
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

/** Slots of the shared signal array. */
const JOBS_DONE = 0;
const FAILED = 1;

/**
 * The worker's program. It evaluates the sampler's source once, then fills each batch of jobs
 * it is sent, stepping JOBS_DONE after every tensor and setting FAILED if one throws.
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
    for (let i = 0; i < offsets.length; i++) {
      const values = new Float32Array(buffers[i], offsets[i], lengths[i]);
      loop(values, stds[i], limits[i], states.subarray(4 * i, 4 * i + 4), edges, innerRatio);
      Atomics.add(signal, ${JOBS_DONE}, 1);
      Atomics.notify(signal, ${JOBS_DONE});
    }
  } catch (error) {
    Atomics.store(signal, ${FAILED}, 1);
    Atomics.notify(signal, ${JOBS_DONE});
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

/**
 * Splits the jobs in two of about equal value counts, the largest first to whichever side has
 * fewer, and gives each side its jobs smallest first: the sampler is then called many times on
 * small tensors before the large ones, so V8 has optimised it as a whole function by then (a
 * first call on a 40-million-value table ran on-stack-replaced code, 30-40% slower).
 */
function splitByValues(jobs: readonly TruncatedNormalJob[]): [TruncatedNormalJob[], TruncatedNormalJob[]] {
  const mine: TruncatedNormalJob[] = [];
  const theirs: TruncatedNormalJob[] = [];
  let mineValues = 0;
  let theirValues = 0;
  for (const job of [...jobs].sort((x, y) => y.values.length - x.values.length)) {
    if (mineValues <= theirValues) {
      mine.push(job);
      mineValues += job.values.length;
    } else {
      theirs.push(job);
      theirValues += job.values.length;
    }
  }
  return [mine.reverse(), theirs.reverse()];
}

/** Each job's shared buffer (a shared wasm heap's buffers all view one memory, whatever their lengths). */
function sharedBuffers(jobs: readonly TruncatedNormalJob[]): SharedArrayBuffer[] {
  return jobs.map(({ values }) => {
    if (!(values.buffer instanceof SharedArrayBuffer))
      throw new Error('parallel fill: a tensor is not in shared memory');
    return values.buffer;
  });
}

function fillOnThisThread(job: TruncatedNormalJob): void {
  truncatedNormalLoop(
    job.values,
    job.std,
    job.limitInStd,
    job.state,
    ZIGGURAT_TABLES.edges,
    ZIGGURAT_TABLES.innerRatio,
  );
}

function fillOnBothCores(jobs: readonly TruncatedNormalJob[], onFilled: (jobsDone: number) => void): void {
  const [mine, theirs] = splitByValues(jobs);
  if (theirs.length === 0) {
    mine.forEach((job, index) => {
      fillOnThisThread(job);
      onFilled(index + 1);
    });
    return;
  }
  const signal = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const states = new Int32Array(new SharedArrayBuffer(4 * theirs.length * Int32Array.BYTES_PER_ELEMENT));
  theirs.forEach((job, i) => states.set(job.state, 4 * i));
  fillWorker().postMessage({
    buffers: sharedBuffers(theirs),
    offsets: theirs.map((job) => job.values.byteOffset),
    lengths: theirs.map((job) => job.values.length),
    stds: theirs.map((job) => job.std),
    limits: theirs.map((job) => job.limitInStd),
    states,
    signal,
  });
  let mineDone = 0;
  let reported = 0;
  const report = (done: number): void => {
    if (done > reported) onFilled((reported = done));
  };
  let mineFilled = false;
  try {
    for (const job of mine) {
      fillOnThisThread(job);
      mineDone++;
      report(mineDone + Atomics.load(signal, JOBS_DONE));
    }
    mineFilled = true;
  } finally {
    // Waited for even when this thread's share threw: the caller then frees these tensors, and
    // the worker must not be writing into them by then.
    waitForWorker(signal, theirs, (theirsDone) => {
      if (mineFilled) report(mineDone + theirsDone);
    });
  }
  // Hand back the stepped states, as the sequential fill leaves its jobs.
  theirs.forEach((job, i) => job.state.set(states.subarray(4 * i, 4 * i + 4)));
  report(jobs.length);
}

/** Blocks until the worker has filled all of `theirs`, calling `onProgress` as it goes; throws if it failed or fell silent. */
function waitForWorker(
  signal: Int32Array,
  theirs: readonly TruncatedNormalJob[],
  onProgress: (theirsDone: number) => void,
): void {
  const largest = Math.max(...theirs.map((job) => job.values.length));
  const silenceLimitMs = Math.max(WORKER_SILENCE_FLOOR_MS, largest * WORKER_SILENCE_MS_PER_VALUE);
  let theirsDone = Atomics.load(signal, JOBS_DONE);
  while (theirsDone < theirs.length && Atomics.load(signal, FAILED) === 0) {
    if (Atomics.wait(signal, JOBS_DONE, theirsDone, silenceLimitMs) === 'timed-out') {
      throw new Error(`parallel fill: the fill worker made no progress for ${Math.round(silenceLimitMs / 1000)} s`);
    }
    theirsDone = Atomics.load(signal, JOBS_DONE);
    onProgress(theirsDone);
  }
  if (Atomics.load(signal, FAILED) !== 0) throw new Error('parallel fill: the fill worker failed');
}

/** The filler initWeights takes on the threaded wasm build in Node (InitOptions.truncatedNormalFiller). */
export const parallelTruncatedNormalFiller: TruncatedNormalFiller = {
  minValues: MIN_PARALLEL_VALUES,
  fill: fillOnBothCores,
};
