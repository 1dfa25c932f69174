import { headDim, type ModelConfig, type RunShape } from '../config/model_config.js';
import { path } from '../module_paths.js';
import { ruleFor } from '../trace/flop_rules.js';
import type { Shaped } from '../trace/types.js';
import { assertRunFits } from './run_shape.js';

/**
 * The non-matmul work of one forward pass, derived from the architecture on paper (design.md
 * section 1), not from the model's code, and costed by the one rule table
 * (src/trace/flop_rules.ts) so that it counts under the same conventions as a trace.
 *
 * Each piece of the math is written as the cheapest tfjs kernels that compute it:
 *   RMSNorm(x) = x * rsqrt(mean(x^2) + eps) * g    Square, Mean, Add, Rsqrt, Multiply, Multiply
 *   RoPE on q and k, per pair (a, b) of a head:     4 Multiply, Sub, Add over the [.., dk/2] planes
 *                                                   (cos and sin depend on positions only: constants)
 *   scores / sqrt(dk)                               Multiply by a scalar
 *   causal mask                                     Greater over (key, query) positions, Select
 *                                                   0 or -inf, Add to the scores
 *   softmax over keys                               Softmax
 *   SiLU(z) = z * sigmoid(z), gate                  Sigmoid, Multiply, Multiply
 *   residual adds                                   Add, twice per layer
 *   token embedding lookup                          GatherV2 (data movement, 0 FLOPs)
 * Head split and merge are data movement (0 FLOPs by the table) and are not listed.
 *
 * It is an estimate to set beside the traced non-matmul total: the trace, not this list,
 * decides nothing about pass or fail, and a model may legitimately spend its non-matmul work
 * differently (a divide where this list multiplies counts the same; a mask built once instead
 * of per layer counts less).
 */

export interface NonMatmulKernelEstimate {
  /** Module path the work belongs to, in the trace's vocabulary. */
  readonly path: string;
  /** The tfjs kernel the rule table costs it as. */
  readonly kernel: string;
  /** The piece of the math, in words: "x^2", "mean over d". */
  readonly computes: string;
  readonly inputs: readonly Shaped[];
  readonly outputs: readonly Shaped[];
  readonly flops: bigint;
}

export interface NonMatmulEstimate {
  /** Every kernel of the forward pass besides the matmuls, in execution order. */
  readonly kernels: readonly NonMatmulKernelEstimate[];
  readonly total: bigint;
  /** FLOPs per kernel name, in order of first appearance. */
  readonly byKernel: ReadonlyMap<string, bigint>;
}

function kernelEstimate(
  modulePath: string,
  kernel: string,
  computes: string,
  inputs: readonly (readonly number[])[],
  output: readonly number[],
): NonMatmulKernelEstimate {
  const rule = ruleFor(kernel);
  const inputShapes = inputs.map((shape) => ({ shape }));
  const outputShapes = [{ shape: output }];
  const flops = rule?.flops(inputShapes, outputShapes, {});
  if (flops === undefined || flops === null) {
    throw new Error(`non_matmul_estimate: the rule table cannot cost ${kernel} at ${modulePath} (${computes})`);
  }
  return { path: modulePath, kernel, computes, inputs: inputShapes, outputs: outputShapes, flops };
}

/** RMSNorm over the last axis of x [B, T, d] with a gain [d]. */
function rmsNorm(modulePath: string, B: number, T: number, d: number): NonMatmulKernelEstimate[] {
  const x = [B, T, d];
  const perToken = [B, T, 1];
  return [
    kernelEstimate(modulePath, 'Square', 'x^2', [x], x),
    kernelEstimate(modulePath, 'Mean', 'mean of x^2 over d', [x], perToken),
    kernelEstimate(modulePath, 'Add', '+ eps', [perToken, []], perToken),
    kernelEstimate(modulePath, 'Rsqrt', '1 / sqrt(.)', [perToken], perToken),
    kernelEstimate(modulePath, 'Multiply', 'x * rsqrt', [x, perToken], x),
    kernelEstimate(modulePath, 'Multiply', '* gain', [x, [d]], x),
  ];
}

/** RoPE of one head-split activation [B, H, T, dk]: each pair (a, b) -> (a cos - b sin, a sin + b cos). */
function rope(modulePath: string, of: string, B: number, H: number, T: number, dk: number): NonMatmulKernelEstimate[] {
  const plane = [B, H, T, dk / 2]; // one element of every pair
  const angles = [T, dk / 2]; // cos or sin of each (position, pair)
  return [
    kernelEstimate(modulePath, 'Multiply', `${of}: a cos`, [plane, angles], plane),
    kernelEstimate(modulePath, 'Multiply', `${of}: b sin`, [plane, angles], plane),
    kernelEstimate(modulePath, 'Sub', `${of}: a cos - b sin`, [plane, plane], plane),
    kernelEstimate(modulePath, 'Multiply', `${of}: a sin`, [plane, angles], plane),
    kernelEstimate(modulePath, 'Multiply', `${of}: b cos`, [plane, angles], plane),
    kernelEstimate(modulePath, 'Add', `${of}: a sin + b cos`, [plane, plane], plane),
  ];
}

/** The non-matmul kernels of one forward pass of `config` at `run`, each costed by the rule table. */
export function nonMatmulEstimate(config: ModelConfig, run: RunShape): NonMatmulEstimate {
  assertRunFits(config, run);
  const { num_layers: L, d_model: d, num_heads: H, d_ff: F } = config;
  const { batch: B, seq: T } = run;
  const dk = headDim(config);
  const hidden = [B, T, d];
  const ffnHidden = [B, T, F];
  const scores = [B, H, T, T];
  const positions = [T, T];

  const kernels: NonMatmulKernelEstimate[] = [
    kernelEstimate(path.tokenEmbeddings, 'GatherV2', 'E[ids]', [[config.vocab_size, d], [B, T]], hidden),
  ];
  for (let i = 0; i < L; i++) {
    kernels.push(
      ...rmsNorm(path.ln1(i), B, T, d),
      ...rope(path.rope(i), 'q', B, H, T, dk),
      ...rope(path.rope(i), 'k', B, H, T, dk),
      kernelEstimate(path.scores(i), 'Multiply', 'scores / sqrt(dk)', [scores, []], scores),
      kernelEstimate(path.scores(i), 'Greater', 'key position > query position', [[1, T], [T, 1]], positions),
      kernelEstimate(path.scores(i), 'Select', 'mask: -inf or 0', [positions, positions, positions], positions),
      kernelEstimate(path.scores(i), 'Add', 'scores + mask', [scores, positions], scores),
      kernelEstimate(path.softmax(i), 'Softmax', 'softmax over keys', [scores], scores),
      kernelEstimate(path.layer(i), 'Add', 'x + attn(ln1(x))', [hidden, hidden], hidden),
      ...rmsNorm(path.ln2(i), B, T, d),
      kernelEstimate(path.silu(i), 'Sigmoid', 'sigmoid(W1 x)', [ffnHidden], ffnHidden),
      kernelEstimate(path.silu(i), 'Multiply', 'W1 x * sigmoid(W1 x)', [ffnHidden, ffnHidden], ffnHidden),
      kernelEstimate(path.gate(i), 'Multiply', 'SiLU(W1 x) * W3 x', [ffnHidden, ffnHidden], ffnHidden),
      kernelEstimate(path.layer(i), 'Add', 'x + ffn(ln2(x))', [hidden, hidden], hidden),
    );
  }
  kernels.push(...rmsNorm(path.lnFinal, B, T, d));

  let total = 0n;
  const byKernel = new Map<string, bigint>();
  for (const kernel of kernels) {
    total += kernel.flops;
    byKernel.set(kernel.kernel, (byKernel.get(kernel.kernel) ?? 0n) + kernel.flops);
  }
  return { kernels, total, byKernel };
}
