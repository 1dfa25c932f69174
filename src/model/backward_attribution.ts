/**
 * Backward kernels carry the module path of the forward op they differentiate.
 *
 * tfjs runs a gradient long after its forward op: tf.grads records one tape node per forward
 * kernel (engine.addTapeNode) and walks the tape backwards once the forward function has
 * returned, when the model's scope stack is empty. tfjs offers no hook between the two, so while
 * a training step runs, addTapeNode is wrapped on the engine instance: each node remembers the
 * module path that was current when its forward kernel ran, and its gradient function, together
 * with the per-input gradient closures it returns, runs inside scope(<that path>) and the
 * 'backward' phase. The tracer then reads the forward path for every backward kernel.
 *
 * The engine sums the gradients of a tensor used more than once (the residual stream, the input
 * of q, k and v) outside every node's gradient: those Add kernels stay at the path the step
 * was started at ("" for a step started at the root) and are reported apart.
 *
 * The wrapper also remembers every node it saw: when the step throws, tfjs leaves the tensors a
 * node saved for its gradient alive (it frees them only after a finished backward pass), so they
 * are released here.
 */
import * as tf from '@tensorflow/tfjs';

import { currentModulePath, scope } from '../core/scope.js';
import { withPhase } from '../core/phase.js';

type GradientClosures = Record<string, () => tf.Tensor>;

/** What tfjs's engine puts on its tape (tfjs-core tape.ts TapeNode); only these fields are read. */
interface TapeNode {
  gradient?: (dys: tf.Tensor[]) => GradientClosures;
  saved?: tf.Tensor[];
}

type AddTapeNode = (this: unknown, ...args: unknown[]) => void;

/** The engine members the wrapper touches (engine.ts: addTapeNode and state.activeTape). */
interface TapeEngine {
  addTapeNode: AddTapeNode;
  state: { activeTape: TapeNode[] | null };
}

let attributing = false;

/**
 * Run `fn` (which calls tf.grads or tf.valueAndGrads) with backward kernels attributed to their
 * forward module paths, and restore the engine afterwards, also when `fn` throws. Does not nest.
 */
export function attributeBackward<T>(fn: () => T): T {
  if (attributing) {
    throw new Error(
      'attributeBackward: backward attribution is already active; a training step cannot run inside another',
    );
  }
  const engine = tf.engine() as unknown as TapeEngine;
  const hadOwnAddTapeNode = Object.prototype.hasOwnProperty.call(engine, 'addTapeNode');
  const original = engine.addTapeNode;
  const nodes: TapeNode[] = [];
  const base = currentModulePath();

  engine.addTapeNode = function (this: unknown, ...args: unknown[]): void {
    const forwardPath = currentModulePath();
    original.apply(this, args);
    const tape = engine.state.activeTape;
    const node = tape?.[tape.length - 1];
    if (node === undefined) return;
    nodes.push(node);
    const gradient = node.gradient;
    if (gradient === undefined) return;
    const atForwardPath = <R>(run: () => R): R => withPhase('backward', () => atPath(base, forwardPath, run));
    node.gradient = (dys) =>
      atForwardPath(() => {
        const closures = gradient(dys);
        const attributed: GradientClosures = {};
        for (const input of Object.keys(closures)) {
          const closure = closures[input]!;
          attributed[input] = () => atForwardPath(closure);
        }
        return attributed;
      });
  };

  attributing = true;
  try {
    return fn();
  } catch (error) {
    for (const node of nodes) tf.dispose(node.saved ?? []);
    throw error;
  } finally {
    if (hadOwnAddTapeNode) engine.addTapeNode = original;
    else delete (engine as Partial<TapeEngine>).addTapeNode;
    attributing = false;
  }
}

/**
 * Run `fn` at module path `target`, given that the scope stack now stands at `base` (the path
 * the step started at, a prefix of every forward path recorded during it).
 */
function atPath<R>(base: string, target: string, fn: () => R): R {
  if (target === base) return fn();
  const relative = base === '' ? target : target.slice(base.length + 1);
  return scope(relative, fn);
}
