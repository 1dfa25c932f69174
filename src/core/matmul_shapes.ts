/**
 * The matmul a contraction kernel performed, read off its operand shapes and attrs alone (never
 * tensor data). The counting convention lives in src/core/counting.ts: a matmul [m, k] @ [k, n] costs
 * 2*m*k*n FLOPs per broadcast batch element.
 *
 * Every contraction kernel is expressed as one (batch, m, k, n) matmul so that one formula
 * counts them all:
 *   - BatchMatMul, _FusedMatMul: batch = product of the output's leading dims; m, k, n from the
 *     operands after transposeA / transposeB. _FusedMatMul's bias add and activation are not
 *     matmul work: flop_rules.ts counts them into the record's `flops`.
 *   - Einsum with two operands: batch = indices in both operands and the output, m = indices of
 *     the first operand only kept in the output, n = the same for the second, k = every index
 *     summed away, so 2*batch*m*k*n = 2 * product of the sizes of all distinct indices.
 *   - Conv2D: the im2col matmul, per image [outH*outW, kh*kw*inC] @ [kh*kw*inC, outC].
 *   - Conv2DBackpropInput, Conv2DBackpropFilter: the matmuls of the same im2col form that give
 *     dx and dW; each costs exactly what the forward conv costs (as in PyTorch's FlopCounterMode).
 *   - DepthwiseConv2dNative: one [outH*outW, kh*kw] @ [kh*kw, 1] per image and output channel.
 *
 * No tfjs import: the analytic side may use these formulas without loading a backend.
 */
import { matmulFlops, product } from './counting.js';
import type { Shaped, TracedMatmul } from './kernel_record.js';

export const MATMUL_KERNELS = [
  'BatchMatMul',
  '_FusedMatMul',
  'Einsum',
  'Conv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNative',
] as const;
export type MatmulKernel = (typeof MATMUL_KERNELS)[number];

const MATMUL_KERNEL_SET: ReadonlySet<string> = new Set(MATMUL_KERNELS);

/** True for kernels whose work is counted as matmul FLOPs (a one-operand Einsum is the exception: it contracts nothing). */
export function isMatmulKernel(kernel: string): kernel is MatmulKernel {
  return MATMUL_KERNEL_SET.has(kernel);
}

/** A TracedMatmul with its FLOPs, or undefined when any dimension is not a whole number. */
export function tracedMatmul(batch: number, m: number, k: number, n: number): TracedMatmul | undefined {
  if (![batch, m, k, n].every((dim) => Number.isSafeInteger(dim) && dim >= 0)) return undefined;
  return { batch, m, k, n, flops: matmulFlops(BigInt(batch), BigInt(m), BigInt(k), BigInt(n)) };
}

/**
 * The matmul `kernel` performed, or undefined when it is not a matmul kernel (or a one-operand
 * Einsum) or its shapes cannot be read; flop_rules.ts reports the latter as uncounted.
 */
export function matmulFromKernel(
  kernel: string,
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): TracedMatmul | undefined {
  switch (kernel) {
    case 'BatchMatMul':
    case '_FusedMatMul':
      return batchMatmul(inputs, outputs, attrs);
    case 'Einsum':
      if (inputs.length !== 2 || typeof attrs['equation'] !== 'string') return undefined;
      return einsumContraction(
        attrs['equation'],
        inputs.map((input) => input.shape),
      );
    case 'Conv2D':
      return conv2d(inputs, outputs, attrs);
    case 'Conv2DBackpropInput':
      return conv2dBackpropInput(inputs, attrs);
    case 'Conv2DBackpropFilter':
      return conv2dBackpropFilter(inputs, outputs, attrs);
    case 'DepthwiseConv2dNative':
      return depthwiseConv2d(inputs, outputs, attrs);
    default:
      return undefined;
  }
}

/** [..., m, k] @ [..., k, n] after transposes; batch from the output so broadcasting is counted as run. */
function batchMatmul(
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): TracedMatmul | undefined {
  const a = inputs[0]?.shape;
  const b = inputs[1]?.shape;
  const out = outputs[0]?.shape;
  if (a === undefined || b === undefined || out === undefined) return undefined;
  if (a.length < 2 || b.length < 2 || out.length < 2) return undefined;
  const transposeA = attrs['transposeA'] === true;
  const transposeB = attrs['transposeB'] === true;
  const m = transposeA ? a[a.length - 1] : a[a.length - 2];
  const kA = transposeA ? a[a.length - 2] : a[a.length - 1];
  const kB = transposeB ? b[b.length - 1] : b[b.length - 2];
  const n = transposeB ? b[b.length - 2] : b[b.length - 1];
  if (m === undefined || kA === undefined || kB === undefined || n === undefined || kA !== kB) return undefined;
  if (out[out.length - 2] !== m || out[out.length - 1] !== n) return undefined;
  return tracedMatmul(Number(product(out.slice(0, -2))), m, kA, n);
}

/**
 * A two-operand einsum as one matmul (see the file comment). `equation` is "ab,bc->ac"; without
 * "->" the output is every index used exactly once, in alphabetical order (numpy's rule).
 * Ellipses are not read: undefined.
 */
export function einsumContraction(
  equation: string,
  operandShapes: readonly (readonly number[])[],
): TracedMatmul | undefined {
  const parsed = parseEinsum(equation, operandShapes);
  if (parsed?.operands.length !== 2) return undefined;
  const [left, right] = parsed.operands as [string, string];
  let batch = 1;
  let m = 1;
  let k = 1;
  let n = 1;
  for (const [index, size] of parsed.sizes) {
    const inLeft = left.includes(index);
    const inRight = right.includes(index);
    if (!parsed.output.includes(index)) k *= size;
    else if (inLeft && inRight) batch *= size;
    else if (inLeft) m *= size;
    else n *= size;
  }
  return tracedMatmul(batch, m, k, n);
}

interface ParsedEinsum {
  readonly operands: readonly string[];
  readonly output: string;
  /** Size of every distinct index, in order of first use. */
  readonly sizes: ReadonlyMap<string, number>;
}

function parseEinsum(equation: string, operandShapes: readonly (readonly number[])[]): ParsedEinsum | undefined {
  const compact = equation.replace(/\s+/g, '');
  if (compact.includes('.')) return undefined;
  const [lhs, rhs, ...rest] = compact.split('->');
  if (lhs === undefined || rest.length > 0) return undefined;
  const operands = lhs.split(',');
  if (operands.length !== operandShapes.length) return undefined;
  const sizes = new Map<string, number>();
  const uses = new Map<string, number>();
  for (const [position, term] of operands.entries()) {
    const shape = operandShapes[position];
    if (shape === undefined || !/^[a-zA-Z]*$/.test(term) || term.length !== shape.length) return undefined;
    for (const [axis, index] of [...term].entries()) {
      const size = shape[axis]!;
      const known = sizes.get(index);
      if (known !== undefined && known !== size) return undefined;
      sizes.set(index, size);
      uses.set(index, (uses.get(index) ?? 0) + 1);
    }
  }
  const output =
    rhs ??
    [...uses]
      .filter(([, count]) => count === 1)
      .map(([index]) => index)
      .sort()
      .join('');
  if (![...output].every((index) => sizes.has(index))) return undefined;
  return { operands, output, sizes };
}

/** Where the channel and spatial dims sit: tfjs convs are NHWC unless dataFormat says NCHW. */
function imageDims(shape: readonly number[], attrs: Readonly<Record<string, unknown>>) {
  if (shape.length !== 4) return undefined;
  const [n, a, b, c] = shape as [number, number, number, number];
  return attrs['dataFormat'] === 'NCHW'
    ? { batch: n, height: b, width: c, channels: a }
    : { batch: n, height: a, width: b, channels: c };
}

/** Filter [kh, kw, inC, outC] (or [kh, kw, inC, multiplier] for depthwise). */
function filterDims(shape: readonly number[] | undefined) {
  if (shape?.length !== 4) return undefined;
  const [kh, kw, inChannels, outChannels] = shape as [number, number, number, number];
  return { kh, kw, inChannels, outChannels };
}

/** inputs {x, filter}, output y: per image [outH*outW, kh*kw*inC] @ [kh*kw*inC, outC]. */
function conv2d(
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): TracedMatmul | undefined {
  const x = inputs[0] && imageDims(inputs[0].shape, attrs);
  const filter = filterDims(inputs[1]?.shape);
  const y = outputs[0] && imageDims(outputs[0].shape, attrs);
  if (x === undefined || filter === undefined || y === undefined) return undefined;
  if (filter.inChannels !== x.channels || filter.outChannels !== y.channels) return undefined;
  return tracedMatmul(y.batch, y.height * y.width, filter.kh * filter.kw * filter.inChannels, filter.outChannels);
}

/** inputs {dy, filter}: dx's im2col columns = dy [outH*outW, outC] @ filter^T [outC, kh*kw*inC], per image. */
function conv2dBackpropInput(
  inputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): TracedMatmul | undefined {
  const dy = inputs[0] && imageDims(inputs[0].shape, attrs);
  const filter = filterDims(inputs[1]?.shape);
  if (dy === undefined || filter?.outChannels !== dy.channels) return undefined;
  return tracedMatmul(dy.batch, dy.height * dy.width, filter.outChannels, filter.kh * filter.kw * filter.inChannels);
}

/** inputs {x, dy}, output dW: cols^T [kh*kw*inC, N*outH*outW] @ dy [N*outH*outW, outC]. */
function conv2dBackpropFilter(
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): TracedMatmul | undefined {
  const x = inputs[0] && imageDims(inputs[0].shape, attrs);
  const dy = inputs[1] && imageDims(inputs[1].shape, attrs);
  const filter = filterDims(outputs[0]?.shape);
  if (x === undefined || dy === undefined || filter === undefined) return undefined;
  if (filter.inChannels !== x.channels || filter.outChannels !== dy.channels) return undefined;
  return tracedMatmul(
    1,
    filter.kh * filter.kw * filter.inChannels,
    dy.batch * dy.height * dy.width,
    filter.outChannels,
  );
}

/** inputs {x, filter [kh, kw, inC, multiplier]}: each output channel sees only its own kh*kw window. */
function depthwiseConv2d(
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): TracedMatmul | undefined {
  const x = inputs[0] && imageDims(inputs[0].shape, attrs);
  const filter = filterDims(inputs[1]?.shape);
  const y = outputs[0] && imageDims(outputs[0].shape, attrs);
  if (x === undefined || filter === undefined || y === undefined) return undefined;
  if (filter.inChannels !== x.channels || y.channels !== x.channels * filter.outChannels) return undefined;
  return tracedMatmul(y.batch * y.channels, y.height * y.width, filter.kh * filter.kw, 1);
}
