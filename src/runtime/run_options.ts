/**
 * How a model runs: the one set of options every real-compute entry point takes (a traced
 * forward pass, a traced training step, verification, timing), each adding only what is its own
 * (planted modules, AdamW hyperparameters, run counts).
 *
 * The wasm thread count is not among them: a process holds one wasm module, and the threaded
 * build cannot be swapped for the single-thread one once started, so it is a property of the
 * process (FLOPLEDGER_WASM_THREADS, read by src/runtime/backend.ts), not of a run.
 */
import type { ModelConfig, RunShape } from '../config/model_config.js';
import type { BackendChoice, BrowserBackend } from './backend.js';
import type { ProgressSink } from './progress.js';

export interface RunOptions {
  readonly backend: BackendChoice | BrowserBackend;
  /** Seed of the weights, token ids and targets on real backends (default 0); meta fills constants. */
  readonly seed?: number;
  /** Bytes a real run may take (default: defaultRealRunBudget()); meta holds no data and ignores it. */
  readonly maxMemoryBytes?: bigint;
  /** Where progress goes for a run over about 2 s; none when left out. */
  readonly progress?: ProgressSink;
}

/** A model and the shape it runs at. */
export interface ModelShape {
  readonly config: ModelConfig;
  readonly run: RunShape;
}

/** One model run: which model, at which shape, and how. */
export interface ModelRunOptions extends RunOptions, ModelShape {}
