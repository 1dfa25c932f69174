/**
 * The module-path scope stack. `tf.tidy(name)` names never reach kernels (the active engine
 * scope is the op's own, e.g. `matMul__op`), so the model keeps its own synchronous stack and the
 * tracer reads `currentModulePath()` when a kernel runs. Synchronous only: the model never awaits
 * inside a forward pass, so one global stack is exact.
 */

/** The full path of every open scope, outermost first; the last is the current path. */
const openPaths: string[] = [];

/** Run `fn` with `name` (one or more dot-joined segments) pushed onto the module path. */
export function scope<T>(name: string, fn: () => T): T {
  const parent = openPaths[openPaths.length - 1];
  // Joined once here, not at every kernel: the tracer reads the path on each kernel call.
  openPaths.push(parent === undefined ? name : `${parent}.${name}`);
  try {
    return fn();
  } finally {
    openPaths.pop();
  }
}

/**
 * Run `fn` at the full module path `fullPath`, whatever scopes are open: a gradient runs at its
 * forward op's path though the backward pass may itself be inside another scope (a checkpointed
 * block's gradient reruns the block, and the rerun's gradients run inside it).
 */
export function atModulePath<T>(fullPath: string, fn: () => T): T {
  openPaths.push(fullPath);
  try {
    return fn();
  } finally {
    openPaths.pop();
  }
}

/** The full dot-joined module path of the innermost scope, or "" outside every scope. */
export function currentModulePath(): string {
  return openPaths[openPaths.length - 1] ?? '';
}
