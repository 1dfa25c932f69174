/**
 * Backward kernels carry the module path of the forward op they differentiate.
 *
 * tfjs runs a gradient long after its forward op: tf.grads records one tape node per forward
 * kernel (engine.addTapeNode) and walks the tape backwards once the forward function has
 * returned, when the model's scope stack is empty. tfjs offers no hook between the two, so while
 * a training step runs, addTapeNode is wrapped on the engine instance: each node remembers the
 * module path that was current when its forward kernel ran, and its gradient function, together
 * with the per-input gradient closures it returns, runs inside scope(<that path>) and the
 * 'backward' phase. The tracer then reads the forward path for every backward kernel. The same
 * wrapper frees what each node is done with (backward_release.ts).
 *
 * The engine sums the gradients of a tensor used more than once (the residual stream, the input
 * of q, k and v) outside every node's gradient: those Add kernels stay at the path the step
 * was started at ("" for a step started at the root) and are reported apart.
 *
 * The wrapper also remembers every node it saw: when the step throws, tfjs leaves the tensors a
 * node saved for its gradient alive (it frees them only after a finished backward pass), so they
 * are released here.
 *
 * Given the tensors the step differentiates, the wrapper also keeps tfjs's tape filter linear.
 * tfjs (tape.ts, getFilteredNodesXToY) looks at every input of every node, and for an input that
 * does not derive from those tensors it repeats the same lookup once per differentiated tensor:
 * work of (such inputs) x (weights), both proportional to the layer count. The causal mask, the
 * clones kept for its gradient and a few scalars give about 20 such inputs per layer, so at 384
 * layers of GPT-2 XL's shape the filter made 28 million lookups. A node none of whose inputs
 * derives from the differentiated tensors can never be on a path from them to the loss, so its
 * inputs are dropped from its tape entry as it is recorded (the filter's own rule, applied in
 * the same order); the filtered tape, the gradients and the kernels run are unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';

import { atModulePath, currentModulePath } from '../core/scope.js';
import { withPhase } from '../core/phase.js';
import { backwardRelease, type ReleasableTapeNode } from './backward_release.js';

type TapeNode = ReleasableTapeNode;

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
 * `differentiated` are the tensors `fn` takes gradients with respect to (the xs of tf.grads):
 * given them, nodes that cannot lead from them to the result are recorded without inputs.
 */
export function attributeBackward<T>(fn: () => T, differentiated?: readonly tf.Tensor[]): T {
  if (attributing) {
    throw new Error(
      'attributeBackward: backward attribution is already active; a training step cannot run inside another',
    );
  }
  const engine = tf.engine() as unknown as TapeEngine;
  const hadOwnAddTapeNode = Object.prototype.hasOwnProperty.call(engine, 'addTapeNode');
  const original = engine.addTapeNode;
  const nodes: TapeNode[] = [];
  const release = backwardRelease();
  // Ids of the tensors that derive from the differentiated ones, grown in tape order as tfjs does.
  const derived = differentiated === undefined ? undefined : new Set(differentiated.map((tensor) => tensor.id));

  engine.addTapeNode = function (this: unknown, ...args: unknown[]): void {
    const forwardPath = currentModulePath();
    original.apply(this, args);
    const tape = engine.state.activeTape;
    const node = tape?.[tape.length - 1];
    if (node === undefined) return;
    nodes.push(node);
    if (derived !== undefined) pruneUnreachable(node, derived);
    const gradient = node.gradient;
    if (gradient === undefined) return;
    const atForwardPath = <R>(run: () => R): R => withPhase('backward', () => atModulePath(forwardPath, run));
    node.gradient = release.wrap(gradient, atForwardPath);
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
 * Marks `node`'s outputs as derived when one of its inputs is (tfjs's own rule), and otherwise
 * drops its inputs: such a node is never on a path from the differentiated tensors, and tfjs
 * would look each of its inputs up once per differentiated tensor.
 */
function pruneUnreachable(node: TapeNode, derived: Set<number>): void {
  for (const name in node.inputs) {
    if (derived.has(node.inputs[name]!.id)) {
      for (const output of node.outputs) derived.add(output.id);
      return;
    }
  }
  node.inputs = {};
}
