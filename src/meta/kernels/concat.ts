import { Concat, backend_util, util, type ConcatAttrs, type TensorInfo } from '@tensorflow/tfjs-core';

import { metaKernel } from '../meta_kernel.js';

export const concatConfig = metaKernel<TensorInfo[], ConcatAttrs>(Concat, ({ inputs, backend, attrs: { axis } }) => {
  const first = inputs[0];
  if (first == null) throw new Error('Concat: needs at least one input');
  const $axis = util.parseAxisParam(axis, first.shape)[0]!;
  const shapes = inputs.map((t) => t.shape);
  backend_util.assertParamsConsistent(shapes, $axis);
  const outShape = backend_util.computeOutShape(shapes, $axis);
  // cpu hands back the one non-empty input itself, sharing its storage.
  const nonEmpty = inputs.filter((t) => util.sizeFromShape(t.shape) > 0);
  const only = nonEmpty[0];
  if (util.sizeFromShape(outShape) > 0 && nonEmpty.length === 1 && only != null) {
    return backend.shareStorage(only, only.shape.slice());
  }
  return backend.makeOutput(outShape, first.dtype);
});
