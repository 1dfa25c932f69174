import { util, type TensorInfo } from '@tensorflow/tfjs-core';

/** Kernels that fill or copy values take numeric real tensors only: meta has no complex storage. */
export function assertRealNumeric(kernelName: string, x: TensorInfo): void {
  util.assert(
    x.dtype !== 'string' && x.dtype !== 'complex64',
    () => `${kernelName}: the meta backend does not support ${x.dtype} tensors`,
  );
}
