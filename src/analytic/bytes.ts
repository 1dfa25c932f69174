/**
 * Bytes each kernel of a pass moves, from the architecture on paper, beside its FLOPs: the
 * roofline's input.
 *
 * Conventions (design.md section 2, "every kernel reads its inputs and writes its outputs once"):
 * - A kernel reads each of its input tensors once and writes each output once. No cache reuse
 *   between kernels, no fusion: a value one kernel writes and the next reads is counted twice.
 * - Operands shared by broadcast are read once: a linear layer's weight [k, n] is read once for
 *   all B*T tokens; under grouped-query attention each key/value head is read once, not once per
 *   query head that shares it.
 * - Selecting kernels read what they select: GatherV2 reads the B*T rows it gathers from the
 *   embedding table (and the ids), not the whole table; Slice reads the slice.
 * - Widths: every floating-point tensor at the width of the chosen dtype (fp32 and tf32 4 bytes,
 *   bf16 and fp16 2, fp8 and int8 1); token ids, positions and their offsets are int32 (4); the mask's
 *   comparisons (Greater, Less) and their union (LogicalOr) write bool (1), as does the MoE
 *   groups' GreaterEqual.
 * - Bytes are kept apart by what they hold: weights (parameters and their gradients, and the
 *   optimizer's state), activations (everything a pass computes), KV cache. A forward pass or a
 *   training step reads no KV cache: its keys and values are activations. An inference
 *   inventory supplies kernels that read and write the cache through the same KernelCost rows.
 */
import { architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import { product, sum } from '../core/counting.js';
import { path } from '../core/module_paths.js';
import { rational, type Rational } from '../core/exact.js';
import type { DeviceDtype } from './devices.js';
import { forwardMatmulInventory } from './forward_matmuls.js';
import { POSITION_OFFSET } from './attention_core_kernels.js';
import { nonMatmulEstimate, type NonMatmulKernelEstimate } from './non_matmul_estimate.js';
import type { MatmulRow } from './types.js';

/** Bytes per element of a floating-point tensor held in each dtype. */
export const ELEMENT_BYTES: Readonly<Record<DeviceDtype, bigint>> = {
  fp32: 4n,
  tf32: 4n,
  bf16: 2n,
  fp16: 2n,
  fp8: 1n,
  int8: 1n,
};
const INT32_BYTES = 4n;
const BOOL_BYTES = 1n;
/** The mask's comparisons and their union, and the expert groups' comparison, write bool. */
const BOOL_KERNELS: ReadonlySet<string> = new Set(['Greater', 'GreaterEqual', 'Less', 'LogicalOr']);

/** Bytes apart by what they hold. */
export interface ByteSplit {
  readonly weights: bigint;
  readonly activations: bigint;
  readonly kvCache: bigint;
}

export const NO_BYTES: ByteSplit = { weights: 0n, activations: 0n, kvCache: 0n };

/** One kernel as the roofline sees it: its work and the bytes it moves. */
export interface KernelCost {
  /** Module path the work belongs to. */
  readonly path: string;
  /** "MatMul" for a matmul row, else the kernel name the FLOP rule table costs it as. */
  readonly kernel: string;
  readonly matmul: boolean;
  /** What it computes, in words: "x @ Wq", "mean of x^2 over d". */
  readonly computes: string;
  readonly flops: bigint;
  readonly read: ByteSplit;
  readonly written: ByteSplit;
  /**
   * How many times the kernel runs alike (default 1): a decode generation runs every kernel whose
   * shape does not depend on the context once per step. FLOPs and bytes above are per run.
   */
  readonly runs?: bigint;
}

/** The kernels of one pass and what their accounting leaves out. */
export interface KernelList {
  readonly kernels: readonly KernelCost[];
  /** Work the list does not cover, in words (empty when it covers the pass). */
  readonly omitted: readonly string[];
}

export function addSplits(a: ByteSplit, b: ByteSplit): ByteSplit {
  return { weights: a.weights + b.weights, activations: a.activations + b.activations, kvCache: a.kvCache + b.kvCache };
}

export function splitTotal(split: ByteSplit): bigint {
  return split.weights + split.activations + split.kvCache;
}

/** Bytes read plus bytes written. */
export function kernelBytes(kernel: KernelCost): bigint {
  return splitTotal(kernel.read) + splitTotal(kernel.written);
}

/** FLOPs per byte moved, exact; undefined for a kernel that moves nothing. */
export function arithmeticIntensity(flops: bigint, bytes: bigint): Rational | undefined {
  return bytes === 0n ? undefined : rational(flops, bytes);
}

/** What a byte holds: a weight, an activation or the KV cache. */
export type ByteKind = keyof ByteSplit;

/** `bytes` of one kind, none of the others. */
export function bytesHolding(holds: ByteKind, bytes: bigint): ByteSplit {
  return { ...NO_BYTES, [holds]: bytes };
}

interface Operand {
  readonly elements: bigint;
  readonly holds: ByteKind;
}

/**
 * A matmul of the backward pass as its inventory (src/analytic/training/backward_matmuls.ts)
 * describes it: which gradient it forms and of which forward operand.
 */
export interface GradientMatmulRow extends MatmulRow {
  readonly gradient: 'input' | 'weight';
  readonly operand: string;
}

function isGradient(row: MatmulRow | GradientMatmulRow): row is GradientMatmulRow {
  return 'gradient' in row;
}

/**
 * The three tensors of a matmul row [batch, m, k] @ [batch, k, n] -> [batch, m, n], sized the way
 * the kernel reads them (see the file comment):
 * - a linear layer x @ W (projections, FFN matrices, lm_head, tied or not): W is [k, n], read once;
 * - its input gradient dx = dy @ W^T: W^T is [k, n] again;
 * - its weight gradient dW = x^T @ dy: both operands are activations, the output a weight's size;
 * - attention rows whose second operand is a key or value tensor (scores q @ k^T, the weighted
 *   sum P @ v, and the gradients dq = dS @ k and dP = dO @ v^T) read it for [B, Hkv] heads, not
 *   [B, H]; the gradients dk and dv are already formed per key/value head.
 */
function matmulOperands(
  row: MatmulRow | GradientMatmulRow,
  config: ModelConfig,
  keysAndValues: ByteKind,
): [Operand, Operand, Operand] {
  const batch = product(row.batch);
  const [m, k, n] = [BigInt(row.m), BigInt(row.k), BigInt(row.n)];
  const activation = (elements: bigint): Operand => ({ elements, holds: 'activations' });
  const weight = (elements: bigint): Operand => ({ elements, holds: 'weights' });
  const first = activation(batch * m * k);
  const output = activation(batch * m * n);
  const { num_kv_heads: kvHeads, mla } = architectureOf(config);
  const keyValueHeads = (): bigint => {
    const [B, H] = row.batch;
    if (row.batch.length !== 2 || H !== config.num_heads || B === undefined) {
      throw new Error(`bytes: ${row.path} (${row.description}) is not batched over [B, H]`);
    }
    // A decode step over a latent cache reads each sequence's one latent for all heads (decode.ts).
    return BigInt(B) * BigInt(mla !== undefined && keysAndValues === 'kvCache' ? 1 : kvHeads);
  };
  if (isGradient(row)) {
    if (row.gradient === 'weight') return [first, activation(batch * k * n), weight(batch * m * n)];
    if (row.component !== 'attention_core') return [first, weight(k * n), output];
    if (row.operand === 'q' || row.operand === 'P') return [first, activation(keyValueHeads() * k * n), output];
    return [first, activation(batch * k * n), output];
  }
  if (row.component === 'attention_core') {
    return [first, { elements: keyValueHeads() * k * n, holds: keysAndValues }, output];
  }
  // absorb_k and absorb_v (decode.ts) multiply by one slice of kv_up per head.
  if (/\.attn\.absorb_[kv]$/.test(row.path)) return [first, weight(batch * k * n), output];
  return [first, weight(k * n), output];
}

/**
 * A matmul row of the forward or backward inventory with the bytes it moves at `dtype`. The keys
 * and values an attention-core row reads are activations in a forward pass; a decode step reads
 * them from the KV cache (`keysAndValues: 'kvCache'`).
 */
export function matmulRowCost(
  row: MatmulRow | GradientMatmulRow,
  config: ModelConfig,
  dtype: DeviceDtype,
  keysAndValues: ByteKind = 'activations',
): KernelCost {
  const width = ELEMENT_BYTES[dtype];
  const [a, b, c] = matmulOperands(row, config, keysAndValues);
  return {
    path: row.path,
    kernel: 'MatMul',
    matmul: true,
    computes: row.description,
    flops: row.flops,
    read: addSplits(bytesHolding(a.holds, a.elements * width), bytesHolding(b.holds, b.elements * width)),
    written: bytesHolding(c.holds, c.elements * width),
  };
}

interface TensorBytes {
  readonly bytes: bigint;
  readonly holds: ByteKind;
}

/**
 * The inputs of one kernel of the non-matmul estimate as the kernel reads them, with their widths
 * and what they hold. The estimate records shapes only; the dtype and role of each input follow
 * from the piece of math it writes down (src/analytic/non_matmul_estimate.ts):
 * GatherV2 (E[ids]) reads the gathered rows of the table and int32 ids; the learned position
 * Slice reads the slice of its table; the mask's Sub takes int32 positions to an int32 offset,
 * which Greater and Less compare with 0; Select picks by a bool
 * mask; "* gain" and "+ bias" read a weight vector as their second input.
 */
function nonMatmulInputs(kernel: NonMatmulKernelEstimate, width: bigint, zeroCenteredGain: boolean): TensorBytes[] {
  const outputElements = product(kernel.outputs[0]?.shape ?? []);
  const sizes = kernel.inputs.map((input) => product(input.shape));
  const at = (index: number): bigint => sizes[index] ?? 0n;
  if (kernel.computes === POSITION_OFFSET) {
    return sizes.map((elements) => ({ bytes: elements * INT32_BYTES, holds: 'activations' }));
  }
  switch (kernel.kernel) {
    case 'GatherV2':
      // The embedding lookup gathers rows of a weight; a MoE layer gathers rows of activations.
      return [
        { bytes: outputElements * width, holds: kernel.path === path.tokenEmbeddings ? 'weights' : 'activations' },
        { bytes: at(1) * INT32_BYTES, holds: 'activations' },
      ];
    case 'ScatterNd':
      // int32 indices, then the updates.
      return [
        { bytes: at(0) * INT32_BYTES, holds: 'activations' },
        { bytes: at(1) * width, holds: 'activations' },
      ];
    case 'Slice':
      return [{ bytes: outputElements * width, holds: 'weights' }];
    case 'Greater':
    case 'Less':
      return sizes.map((elements) => ({ bytes: elements * INT32_BYTES, holds: 'activations' }));
    case 'LogicalOr':
      return sizes.map((elements) => ({ bytes: elements * BOOL_BYTES, holds: 'activations' }));
    case 'Select':
      return sizes.map((elements, index) => ({
        bytes: elements * (index === 0 ? BOOL_BYTES : width),
        holds: 'activations',
      }));
    default: {
      // A zero-centred gain g is applied as (1 + g): the Add reads the weight, the Multiply the sum.
      const weightInput =
        kernel.computes === '1 + gain'
          ? 0
          : kernel.computes === '+ bias' ||
              kernel.computes === '+ score bias' ||
              (kernel.computes === '* gain' && !zeroCenteredGain)
            ? 1
            : undefined;
      return sizes.map((elements, index) => ({
        bytes: elements * width,
        holds: index === weightInput ? 'weights' : 'activations',
      }));
    }
  }
}

/**
 * A kernel of the non-matmul estimate with the bytes it moves at `dtype`; `zeroCenteredGain` says
 * the norms' gains are stored as g and applied as (1 + g) (architectureOf(config).zero_centered_gain).
 */
export function nonMatmulKernelCost(
  kernel: NonMatmulKernelEstimate,
  dtype: DeviceDtype,
  zeroCenteredGain = false,
): KernelCost {
  const width = ELEMENT_BYTES[dtype];
  const read = nonMatmulInputs(kernel, width, zeroCenteredGain).reduce<ByteSplit>(
    (total, input) => addSplits(total, bytesHolding(input.holds, input.bytes)),
    NO_BYTES,
  );
  // TopK writes its values and then their int32 indices.
  const outputWidth = (index: number): bigint =>
    BOOL_KERNELS.has(kernel.kernel)
      ? BOOL_BYTES
      : (kernel.kernel === 'TopK' && index === 1) || kernel.computes === POSITION_OFFSET
        ? INT32_BYTES
        : width;
  const written = bytesHolding(
    'activations',
    sum(kernel.outputs.map((output, index) => product(output.shape) * outputWidth(index))),
  );
  return {
    path: kernel.path,
    kernel: kernel.kernel,
    matmul: false,
    computes: kernel.computes,
    flops: kernel.flops,
    read,
    written,
  };
}

/** Every kernel of one forward pass of `config` at `run`: the matmul inventory, then the non-matmul estimate. */
export function forwardKernelCosts(config: ModelConfig, run: RunShape, dtype: DeviceDtype): KernelList {
  const matmuls = forwardMatmulInventory(config, run).map((row) => matmulRowCost(row, config, dtype));
  const zeroCentered = architectureOf(config).zero_centered_gain;
  const others = nonMatmulEstimate(config, run).kernels.map((kernel) =>
    nonMatmulKernelCost(kernel, dtype, zeroCentered),
  );
  return { kernels: [...matmuls, ...others], omitted: [] };
}
