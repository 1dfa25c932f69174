import { BatchMatMul, broadcast_util, util, type BatchMatMulAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

/**
 * The output shape of a @ b with optional transposes of the two innermost axes: the batch axes
 * broadcast, then [m, n]. The same reading of the operands as cpu's BatchMatMul.
 */
export function batchMatMulShape(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): number[] {
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  util.assert(
    aRank >= 2 && bRank >= 2,
    () => `BatchMatMul: both operands need rank >= 2, got [${a.shape}] and [${b.shape}]`,
  );
  const dim = (shape: number[], i: number): number => shape[i]!;
  const innerA = transposeA ? dim(a.shape, aRank - 2) : dim(a.shape, aRank - 1);
  const innerB = transposeB ? dim(b.shape, bRank - 1) : dim(b.shape, bRank - 2);
  const outerA = transposeA ? dim(a.shape, aRank - 1) : dim(a.shape, aRank - 2);
  const outerB = transposeB ? dim(b.shape, bRank - 2) : dim(b.shape, bRank - 1);
  util.assert(
    innerA === innerB,
    // cpu's words exactly, so a shape error reads the same whichever backend caught it.
    () =>
      `Error in matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ` +
      `${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const batch = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return [...batch, outerA, outerB];
}

export const batchMatMulConfig = metaKernel<{ a: TensorInfo; b: TensorInfo }, BatchMatMulAttrs>(
  BatchMatMul,
  ({ inputs: { a, b }, backend, attrs: { transposeA, transposeB } }) =>
    backend.makeOutput(batchMatMulShape(a, b, transposeA, transposeB), a.dtype),
);
