/**
 * The shape-only `meta` backend: tensors hold {shape, dtype} and no data, so a forward pass of any
 * size traces in milliseconds. Weights there come from tf.fill (tf.zeros and tf.ones build full JS
 * arrays before the backend sees them), and host-made constants such as the rope tables from
 * src/model/host_constant.ts, which skips their values here: no array proportional to the model
 * is ever made for meta (test/meta_size.test.ts).
 */
import { findBackendFactory, getKernel, registerBackend, registerKernel } from '@tensorflow/tfjs-core';

import { META_BACKEND_NAME, MetaBackend } from './backend.js';
import { metaKernelConfigs } from './kernel_configs.js';

export { META_BACKEND_NAME, META_READ_ERROR, MetaBackend } from './backend.js';
export { explainMetaError, metaKernelFileName } from './explain_meta_error.js';

/** Names of the kernels the meta backend implements, in registry order. */
export const META_KERNELS: readonly string[] = metaKernelConfigs.map((config) => config.kernelName);

// Below cpu's priority (1): meta must never become tfjs's default backend by being registered.
const META_PRIORITY = -1;

/**
 * Registers the `meta` backend and its kernels. Idempotent: a second call changes nothing, and a
 * kernel already in the registry (possibly wrapped by the tracer) is left as it is.
 */
export function registerMetaBackend(): void {
  if (findBackendFactory(META_BACKEND_NAME) == null) {
    registerBackend(META_BACKEND_NAME, () => new MetaBackend(), META_PRIORITY);
  }
  for (const config of metaKernelConfigs) {
    if (getKernel(config.kernelName, META_BACKEND_NAME) == null) registerKernel(config);
  }
}
