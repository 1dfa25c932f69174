/**
 * The elementwise kernels, one row each. Every one keeps its input's shape (one input) or the
 * numpy broadcast of both (two inputs); the dtype is the first input's unless the row fixes it,
 * as in cpu's unaryKernelFunc and binaryKernelFunc (the ops have already made both dtypes
 * match). Adding one is a row here; kernels with logic of their own have files beside this one.
 */
import {
  Add,
  Cos,
  Equal,
  Exp,
  Greater,
  GreaterEqual,
  Less,
  LessEqual,
  Log,
  LogicalOr,
  Maximum,
  Minimum,
  Multiply,
  Neg,
  Pow,
  RealDiv,
  Reciprocal,
  Rsqrt,
  Sigmoid,
  Sin,
  Sqrt,
  Square,
  Sub,
  Tanh,
  backend_util,
  type DataType,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/** A kernel's name and, where it does not follow its first input's, its output dtype. */
type Row = readonly [kernelName: string, dtype?: DataType];

const UNARY: readonly Row[] = [
  [Cos],
  [Exp, 'float32'], // cpu's Exp yields float32 whatever the input dtype
  [Log], // the op takes float32 only; logsumexp in the training loss uses it
  [Neg],
  [Reciprocal],
  [Rsqrt],
  [Sigmoid],
  [Sin],
  [Sqrt],
  [Square],
  [Tanh], // the GELU MLP's tanh approximation (src/model/gelu_mlp.ts)
];

const BINARY: readonly Row[] = [
  [Add],
  [Equal, 'bool'],
  [Greater, 'bool'],
  [GreaterEqual, 'bool'],
  [Less, 'bool'],
  [LessEqual, 'bool'],
  [LogicalOr, 'bool'], // a sliding window's mask: a future key, or one the window has passed
  [Maximum],
  [Minimum],
  [Multiply],
  [Pow],
  [RealDiv],
  [Sub],
];

/** Names of the kernels this table holds (the missing-kernel message points here for such a kernel). */
export const ELEMENTWISE_KERNELS: readonly string[] = [...UNARY, ...BINARY].map(([kernelName]) => kernelName);

export const elementwiseConfigs: readonly KernelConfig[] = [
  ...UNARY.map(([kernelName, dtype]) =>
    metaKernel<{ x: TensorInfo }, Record<string, never>>(kernelName, ({ inputs: { x }, backend }) =>
      backend.makeOutput(x.shape.slice(), dtype ?? x.dtype),
    ),
  ),
  ...BINARY.map(([kernelName, dtype]) =>
    metaKernel<{ a: TensorInfo; b: TensorInfo }, Record<string, never>>(kernelName, ({ inputs: { a, b }, backend }) =>
      backend.makeOutput(backend_util.assertAndGetBroadcastShape(a.shape, b.shape), dtype ?? a.dtype),
    ),
  ),
];
