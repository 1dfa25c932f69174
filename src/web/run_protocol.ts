/** The messages between the page and the worker that runs the model (run_worker.ts). */
import type { RunShape } from '../config/model_config.js';
import type { Block } from '../render/table.js';
import type { PageState } from './state.js';

export interface RunRequest {
  readonly state: PageState;
  /** The run shape the page counted with, so both sides speak of the same pass. */
  readonly run: RunShape;
  /**
   * 'verify' (default): trace and verify on the state's backend. 'compare': trace the forward
   * pass on cpu and on the state's backend and compare them kernel for kernel.
   */
  readonly mode?: 'verify' | 'compare';
}

/** What one traced run found, for the page's summary and for tests. */
export interface RunSummary {
  readonly what: 'forward' | 'training step' | 'comparison';
  readonly backend: string;
  readonly ok: boolean;
  readonly matmulsMatched: number;
  readonly matmulsExpected: number;
  readonly kernels: number;
  /** Kernels without a FLOP rule, "Name x count": listed, never counted as zero. */
  readonly uncounted: readonly string[];
  readonly seconds: number;
}

export type RunMessage =
  | {
      readonly kind: 'progress';
      readonly title: string;
      readonly done: number;
      readonly total: number;
      readonly step: string;
    }
  | { readonly kind: 'result'; readonly summary: RunSummary; readonly blocks: readonly Block[] }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly message: string };
