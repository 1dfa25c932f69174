import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { META_BACKEND_NAME, type MetaBackend } from './backend.js';

/** What a meta kernel receives: its named inputs, the meta backend and its attrs, typed per kernel. */
export interface MetaKernelArgs<Inputs, Attrs = Record<string, never>> {
  inputs: Inputs;
  backend: MetaBackend;
  attrs: Attrs;
}

export type MetaKernelFunc<Inputs, Attrs = Record<string, never>> = (
  args: MetaKernelArgs<Inputs, Attrs>,
) => TensorInfo | TensorInfo[];

/**
 * The registry entry for one meta kernel. The engine calls every kernel through the untyped
 * KernelFunc signature; the typed inputs and attrs are the kernel's own contract (kernel_names.ts).
 */
export function metaKernel<Inputs, Attrs>(kernelName: string, kernelFunc: MetaKernelFunc<Inputs, Attrs>): KernelConfig {
  return {
    kernelName,
    backendName: META_BACKEND_NAME,
    kernelFunc: kernelFunc as unknown as KernelFunc,
  };
}
