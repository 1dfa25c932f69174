/**
 * The module-path scope stack. `tf.tidy(name)` names never reach kernels (the active engine
 * scope is the op's own, e.g. `matMul__op`), so the model keeps its own synchronous stack and the
 * tracer reads `currentModulePath()` when a kernel runs. Synchronous only: the model never awaits
 * inside a forward pass, so one global stack is exact.
 */

const segments: string[] = [];

/** Run `fn` with `name` (one or more dot-joined segments) pushed onto the module path. */
export function scope<T>(name: string, fn: () => T): T {
  segments.push(name);
  try {
    return fn();
  } finally {
    segments.pop();
  }
}

/** The full dot-joined module path of the innermost scope, or "" outside every scope. */
export function currentModulePath(): string {
  return segments.join('.');
}
