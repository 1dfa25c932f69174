/**
 * The FLOP rules for non-matmul kernels: the one place this convention lives (design.md
 * section 3). Matmul work is counted by src/core/matmul_shapes.ts; the rows for matmul kernels
 * here count only what those kernels do besides the matmul (a fused bias add and activation).
 *
 * Conventions, each rule restating the one it uses in its `why`:
 *   - One application of an elementwise kernel is 1 FLOP per output element, whatever it costs
 *     inside: an add, an exp, a sigmoid, a squared difference each count 1. The table counts
 *     kernel applications, not machine instructions, so a formula can predict it from shapes.
 *   - A comparison, a logical op or a select is likewise 1 per output element.
 *   - A reduction of r elements into one costs r - 1 combines (the first element is taken as is),
 *     so inputSize - outputSize in all; Mean adds one divide per output element.
 *   - Softmax over rows of n: max (n-1 comparisons), subtract the max (n), exp (n), sum (n-1),
 *     divide (n): 5n - 2 per row.
 *   - Pure data movement (reshape, transpose, slice, gather, concat, cast, fill, ...) is 0 FLOPs,
 *     labelled "data movement": it moves or writes values without arithmetic on tensor data.
 *   - A kernel with no rule has flops null and is reported by name as uncounted, never as zero.
 *
 * Rules read shapes and attrs only, never tensor data, so the analytic side can apply the same
 * table to shapes it derives itself (`ruleFor(kernel).flops(inputs, outputs, attrs)`). No tfjs
 * import, for the same reason.
 */
import { product } from './counting.js';
import { einsumContraction, matmulFromKernel } from './matmul_shapes.js';
import type { Shaped } from './kernel_record.js';

export type FlopRuleCategory =
  'matmul' | 'elementwise' | 'comparison' | 'reduction' | 'softmax' | 'scan' | 'data_movement';

export type FlopFormula = (
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
) => bigint | null;

export interface FlopRule {
  readonly kernel: string;
  readonly category: FlopRuleCategory;
  /** The formula in words, for docs and reports: "output size", "5n - 2 per row of n". */
  readonly formula: string;
  /** One line: why this is the count. */
  readonly why: string;
  /** FLOPs from shapes and attrs; null when the shapes cannot be read (the kernel is then uncounted). */
  readonly flops: FlopFormula;
}

function sizeOf(operand: Shaped | undefined): bigint | null {
  return operand === undefined ? null : product(operand.shape);
}

const outputSize: FlopFormula = (_inputs, outputs) => sizeOf(outputs[0]);

/** r - 1 combines per output element when each reduces r >= 1 inputs; none when r = 0. */
const combinesInReduction: FlopFormula = (inputs, outputs) => {
  const inputSize = sizeOf(inputs[0]);
  const outputElements = sizeOf(outputs[0]);
  if (inputSize === null || outputElements === null) return null;
  return inputSize > outputElements ? inputSize - outputElements : 0n;
};

const noFlops: FlopFormula = () => 0n;

interface RuleGroup {
  readonly kernels: readonly string[];
  readonly category: FlopRuleCategory;
  readonly formula: string;
  readonly why: string;
  readonly flops: FlopFormula;
}

/** Fused activations tfjs applies inside _FusedMatMul; each is one elementwise pass. */
const FUSED_ACTIVATIONS = new Set(['relu', 'relu6', 'elu', 'prelu', 'leakyrelu', 'sigmoid']);

/** _FusedMatMul inputs are {a, b, bias?, preluActivationWeights?}; absent ones are not recorded. */
const fusedMatmulExtraWork: FlopFormula = (inputs, outputs, attrs) => {
  if (matmulFromKernel('_FusedMatMul', inputs, outputs, attrs) === undefined) return null;
  const activation = attrs['activation'] ?? 'linear';
  if (activation !== 'linear' && (typeof activation !== 'string' || !FUSED_ACTIVATIONS.has(activation))) return null;
  const elements = sizeOf(outputs[0])!;
  const hasPreluWeights = activation === 'prelu';
  const hasBias = inputs.length - (hasPreluWeights ? 1 : 0) >= 3;
  return (hasBias ? elements : 0n) + (activation === 'linear' ? 0n : elements);
};

const einsumExtraWork: FlopFormula = (inputs, _outputs, attrs) => {
  const equation = attrs['equation'];
  if (typeof equation !== 'string') return null;
  if (inputs.length === 1) return sizeOf(inputs[0]);
  if (inputs.length !== 2) return null;
  return einsumContraction(
    equation,
    inputs.map((input) => input.shape),
  ) === undefined
    ? null
    : 0n;
};

function contractionOnly(kernel: string): FlopFormula {
  return (inputs, outputs, attrs) => (matmulFromKernel(kernel, inputs, outputs, attrs) === undefined ? null : 0n);
}

const RULE_GROUPS: readonly RuleGroup[] = [
  // Matmul kernels: the contraction itself is in KernelRecord.matmul, never here.
  ...(['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'DepthwiseConv2dNative'] as const).map(
    (kernel): RuleGroup => ({
      kernels: [kernel],
      category: 'matmul',
      formula: '0 (the contraction is counted as a matmul)',
      why: 'all its work is the contraction, counted once by matmul_shapes.ts',
      flops: contractionOnly(kernel),
    }),
  ),
  {
    kernels: ['_FusedMatMul'],
    category: 'matmul',
    formula: 'output size if a bias is added + output size if an activation is applied',
    why: 'the matmul is counted by matmul_shapes.ts; the bias add and the activation are elementwise passes over the output',
    flops: fusedMatmulExtraWork,
  },
  {
    kernels: ['Einsum'],
    category: 'matmul',
    formula: 'two operands: 0 (counted as a matmul); one operand: input size',
    why: 'a two-operand einsum is a contraction; a one-operand einsum reads each input element once (sum, trace or transpose)',
    flops: einsumExtraWork,
  },

  {
    kernels: [
      'Add',
      'Sub',
      'Multiply',
      'RealDiv',
      'FloorDiv',
      'Mod',
      'Pow',
      'SquaredDifference',
      'Maximum',
      'Minimum',
      'Atan2',
      'Prelu',
      'EluGrad',
    ],
    category: 'elementwise',
    formula: 'output size',
    why: 'a binary elementwise kernel does one operation per output element, broadcasting included',
    flops: outputSize,
  },
  {
    kernels: [
      'Neg',
      'Abs',
      'Square',
      'Sqrt',
      'Rsqrt',
      'Reciprocal',
      'Exp',
      'Expm1',
      'Log',
      'Log1p',
      'Sigmoid',
      'Softplus',
      'Tanh',
      'Sin',
      'Cos',
      'Tan',
      'Asin',
      'Acos',
      'Atan',
      'Sinh',
      'Cosh',
      'Asinh',
      'Acosh',
      'Atanh',
      'Erf',
      'Relu',
      'Relu6',
      'LeakyRelu',
      'Elu',
      'Selu',
      'Step',
      'Sign',
      'Floor',
      'Ceil',
      'Round',
      'ClipByValue',
    ],
    category: 'elementwise',
    formula: 'output size',
    why: 'a unary elementwise kernel applies one function per element, counted 1 however costly the function',
    flops: outputSize,
  },
  {
    kernels: ['AddN'],
    category: 'elementwise',
    formula: '(number of inputs - 1) * output size',
    why: 'summing n same-shaped tensors takes n - 1 adds per output element',
    flops: (inputs, outputs) => {
      const elements = sizeOf(outputs[0]);
      if (elements === null) return null;
      return inputs.length > 1 ? BigInt(inputs.length - 1) * elements : 0n;
    },
  },

  {
    kernels: [
      'Equal',
      'NotEqual',
      'Greater',
      'GreaterEqual',
      'Less',
      'LessEqual',
      'LogicalAnd',
      'LogicalOr',
      'LogicalXor',
      'LogicalNot',
      'IsNan',
      'IsInf',
      'IsFinite',
      'Select',
    ],
    category: 'comparison',
    formula: 'output size',
    why: 'one comparison, logical op or choice per output element',
    flops: outputSize,
  },

  {
    kernels: ['Sum', 'Prod', 'Max', 'Min', 'All', 'Any', 'ArgMax', 'ArgMin'],
    category: 'reduction',
    formula: 'input size - output size',
    why: 'reducing r elements to one takes r - 1 adds, multiplies or comparisons',
    flops: combinesInReduction,
  },
  {
    kernels: ['TopK'],
    category: 'reduction',
    formula: 'k (n - 1) per row of n',
    why: 'the k largest of n as k successive maxima, n - 1 comparisons each (a sort would differ; this fixes the convention)',
    // k is the outputs' last dimension, so the rule needs no attrs.
    flops: (inputs, outputs) => {
      const n = inputs[0]?.shape[inputs[0].shape.length - 1];
      const k = outputs[0]?.shape[outputs[0].shape.length - 1];
      const size = sizeOf(inputs[0]);
      if (n === undefined || k === undefined || size === null || n === 0) return null;
      return (size / BigInt(n)) * BigInt(k) * BigInt(n - 1);
    },
  },
  {
    kernels: ['Mean'],
    category: 'reduction',
    formula: 'input size - output size adds + output size divides',
    why: 'a mean is a sum (r - 1 adds per output) then one divide per output',
    flops: (inputs, outputs, attrs) => {
      const adds = combinesInReduction(inputs, outputs, attrs);
      const divides = sizeOf(outputs[0]);
      return adds === null || divides === null ? null : adds + divides;
    },
  },
  {
    kernels: ['UnsortedSegmentSum'],
    category: 'reduction',
    formula: 'data input size',
    why: 'each data element is added once into its zero-initialised segment; no data is read to find which segments are empty',
    flops: (inputs) => sizeOf(inputs[0]),
  },
  {
    kernels: ['ScatterNd'],
    category: 'reduction',
    formula: 'updates size',
    why: 'each update element is added once into its zero-initialised slot (duplicate indices sum), as UnsortedSegmentSum',
    // inputs are (indices, updates); the output shape is an attr
    flops: (inputs) => sizeOf(inputs[1]),
  },

  {
    kernels: ['Softmax'],
    category: 'softmax',
    formula: '5n - 2 per row of n (last axis)',
    why: 'per row: max (n-1 comparisons), subtract max (n), exp (n), sum (n-1), divide (n)',
    flops: (inputs) => {
      const logits = inputs[0];
      if (logits === undefined || logits.shape.length === 0) return null;
      const n = BigInt(logits.shape[logits.shape.length - 1]!);
      if (n === 0n) return 0n;
      const rows = product(logits.shape) / n;
      return rows * (5n * n - 2n);
    },
  },
  {
    kernels: ['Cumsum', 'Cumprod'],
    category: 'scan',
    formula: 'per row of n along axis: n - 1 (inclusive) or n - 2 (exclusive, at least 0)',
    why: 'a running sum or product takes one combine per element after the first it keeps; exclusive scans shift by one',
    flops: (inputs, _outputs, attrs) => {
      const x = inputs[0];
      const axisAttr = attrs['axis'];
      if (x === undefined || typeof axisAttr !== 'number' || x.shape.length === 0) return null;
      const axis = axisAttr < 0 ? axisAttr + x.shape.length : axisAttr;
      const length = x.shape[axis];
      if (length === undefined) return null;
      const n = BigInt(length);
      if (n === 0n) return 0n;
      const rows = product(x.shape) / n;
      const perRow = n - (attrs['exclusive'] === true ? 2n : 1n);
      return perRow > 0n ? rows * perRow : 0n;
    },
  },

  {
    kernels: [
      'Reshape',
      'Transpose',
      'Slice',
      'StridedSlice',
      'Concat',
      'Pack',
      'Unpack',
      'SplitV',
      'ExpandDims',
      'Tile',
      'BroadcastTo',
      'Reverse',
      'PadV2',
      'MirrorPad',
      'GatherV2',
      'GatherNd',
      'TensorScatterUpdate',
      'OneHot',
      'Cast',
      'Identity',
      'DepthToSpace',
      'SpaceToBatchND',
      'BatchToSpaceND',
      'FlipLeftRight',
      'Diag',
    ],
    category: 'data_movement',
    formula: '0 (data movement)',
    why: 'data movement: values are copied, reordered, selected or converted, never combined',
    flops: noFlops,
  },
  {
    kernels: ['Fill', 'ZerosLike', 'OnesLike', 'Range', 'LinSpace'],
    category: 'data_movement',
    formula: '0 (data movement)',
    why: 'data movement: writes constants or an index sequence from attrs, no arithmetic on tensor data',
    flops: noFlops,
  },
];

function buildTable(groups: readonly RuleGroup[]): ReadonlyMap<string, FlopRule> {
  const table = new Map<string, FlopRule>();
  for (const group of groups) {
    for (const kernel of group.kernels) {
      if (table.has(kernel)) throw new Error(`flop_rules: kernel ${kernel} has two rules`);
      table.set(kernel, {
        kernel,
        category: group.category,
        formula: group.formula,
        why: group.why,
        flops: group.flops,
      });
    }
  }
  return table;
}

/** Every rule, keyed by kernel name, in table order: for docs and reports. */
export const FLOP_RULES: ReadonlyMap<string, FlopRule> = buildTable(RULE_GROUPS);

/** The rule for `kernel`, or undefined when none exists (the kernel is then uncounted). */
export function ruleFor(kernel: string): FlopRule | undefined {
  return FLOP_RULES.get(kernel);
}

/**
 * Non-matmul FLOPs of one kernel execution by the table; null when no rule covers the kernel or
 * the rule cannot read its shapes. Never zero for an unknown kernel.
 */
export function nonMatmulFlops(
  kernel: string,
  inputs: readonly Shaped[],
  outputs: readonly Shaped[],
  attrs: Readonly<Record<string, unknown>>,
): bigint | null {
  const rule = FLOP_RULES.get(kernel);
  return rule === undefined ? null : rule.flops(inputs, outputs, attrs);
}
