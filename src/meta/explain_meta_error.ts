import { UnavailableError } from '../core/errors.js';
import { META_BACKEND_NAME } from './backend.js';

// The engine's message when a kernel is missing (tfjs-core engine.ts, runKernelFunc).
const MISSING_KERNEL = new RegExp(`^Kernel '([^']+)' not registered for backend '${META_BACKEND_NAME}'$`);

/**
 * The file a kernel's meta implementation lives in unless it is a row of the elementwise table
 * (kernels/elementwise.ts): its registered name in snake_case, e.g.
 * BatchMatMul -> batch_mat_mul, _FusedMatMul -> fused_mat_mul, GatherV2 -> gather_v2,
 * Conv2DBackpropInput -> conv2d_backprop_input.
 */
export function metaKernelFileName(kernelName: string): string {
  return kernelName
    .replace(/^_+/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * Turns tfjs's "Kernel 'X' not registered for backend 'meta'" into an UnavailableError that says
 * what to do; any other error passes through unchanged. Catch around a meta forward pass:
 * a missing kernel must stop the run by name, never yield a wrong number.
 */
export function explainMetaError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const match = MISSING_KERNEL.exec(error.message);
  const kernelName = match?.[1];
  if (kernelName == null) return error;
  return new UnavailableError(
    `the meta backend has no kernel "${kernelName}" yet; run on --backend wasm or cpu for this ` +
      `model, or add src/meta/kernels/${metaKernelFileName(kernelName)}.ts (or, for an elementwise kernel, a row ` +
      'of src/meta/kernels/elementwise.ts)',
  );
}
