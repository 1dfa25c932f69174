import type { FlopComponent } from '../core/module_paths.js';

/**
 * One matmul of the forward pass as the formulas see it: `batch` broadcast batch dims of
 * [m, k] @ [k, n]. `batch` keeps the dims unfolded ([B] or [B, H]) for display; the verifier
 * compares their product (tfjs folds them before the kernel runs).
 */
export interface MatmulRow {
  /** Module path, e.g. "layers.3.attn.q_proj". */
  readonly path: string;
  readonly component: Exclude<FlopComponent, 'non_matmul'>;
  /** Plain words: "x @ Wq", "q @ k^T". */
  readonly description: string;
  /** Symbolic operand shapes as the formulas name them: "[B,T,d] x [d,d]". */
  readonly symbolicShapes: string;
  readonly batch: readonly number[];
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly flops: bigint;
  readonly macs: bigint;
}

/** One parameter tensor. */
export interface ParameterRow {
  /** Module path of the weight's owner, e.g. "layers.3.attn.q_proj". */
  readonly path: string;
  /**
   * Weight name within the module: "weight" (matrices, embeddings), "gain" (RMSNorm, LayerNorm)
   * or "bias" (LayerNorm's, and a linear layer's when the architecture has biases).
   */
  readonly name: string;
  readonly shape: readonly number[];
  readonly count: bigint;
}

/** The FLOP components matmuls fall into; `non_matmul` work is counted elsewhere, by kernel rules. */
export type MatmulComponent = Exclude<FlopComponent, 'non_matmul'>;
