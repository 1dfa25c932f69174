/**
 * A backward pass that frees as it goes, as PyTorch's autograd does.
 *
 * tfjs (tape.ts, backpropagateGradients) runs the whole backward pass in one tidy and frees
 * nothing until it ends: the gradient of every intermediate tensor, every tensor a node kept for
 * its gradient, the temporaries of every custom gradient (customGrad computes its gradients when
 * the node's gradient function is called, outside the tidy that tfjs gives each input's closure),
 * and each gradient already added into a tensor's running sum. So the storage of a training step
 * grew by every activation's gradient during the backward pass, whatever the model kept.
 *
 * Here each node's gradient function is wrapped so that, once the node is done:
 *   - its gradients are computed eagerly, inside one tidy, for exactly the inputs tfjs will ask
 *     for (the filtered node's own inputs: tfjs calls gradient() on that node), each in its own
 *     tidy as tfjs would, in tfjs's input order; the closures handed back return them. The kernels
 *     and their order within the node are tfjs's own.
 *   - the gradients it received (its outputs' dys) and the tensors it kept for its gradient are
 *     freed: no later node reads them, as each tensor is made by one node and the tape is walked
 *     in reverse. A dy or kept tensor that is itself handed back as an input's gradient stays.
 *     (A differentiated tensor made from another one on the tape would have its gradient freed
 *     as a dy; the step differentiates weights and a rerun its kept clones and weights, no such.)
 *   - a gradient tfjs adds into an input's running sum is freed at the next node: tfjs frees the
 *     old sum itself but keeps the addend until the pass ends.
 * Storage is freed per tensor reference (tfjs counts references per buffer), so a buffer another
 * tensor still shares stays alive. The checkpoints' nested backward passes (src/model/checkpoint.ts)
 * run inside a node's gradient. Each pass has its own running sums, told apart by the tidy tfjs
 * runs it in: a nested pass, or a second pass in the same step (gradients accumulated over two
 * batches), must not take a first gradient for an addend because an earlier pass summed one.
 * The dy a caller hands to the outermost pass (tf.grads(f)(xs, dy)) is the caller's and stays;
 * a nested pass's dy is its outer node's, which is done with it (checkpoint.ts reads it no more).
 */
import * as tf from '@tensorflow/tfjs-core';

type GradientClosures = Record<string, () => tf.Tensor>;

/** What tfjs's engine puts on its tape (tfjs-core tape.ts TapeNode); only these fields are used. */
export interface ReleasableTapeNode {
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => GradientClosures;
  saved?: tf.Tensor[];
}

/** A step's release state: running sums per backward pass, addends waiting to be freed. */
export interface BackwardRelease {
  /**
   * `gradient` as a function that tfjs calls on the filtered node (`this`), computing the
   * gradients eagerly and freeing what the node is done with. `around` runs each call (the
   * module path and phase of the forward op).
   */
  wrap(
    gradient: (dys: tf.Tensor[]) => GradientClosures,
    around: <R>(run: () => R) => R,
  ): (this: ReleasableTapeNode, dys: tf.Tensor[]) => GradientClosures;
}

export function backwardRelease(): BackwardRelease {
  // Ids of the tensors that already have a gradient, per backward pass (the id of its tidy).
  const summed = new Map<number, Set<number>>();
  // Gradients tfjs has added into a running sum (or is about to): freed when the next node starts.
  let addends: tf.Tensor[] = [];
  // How many node gradients are running: 0 for a node of the outermost pass.
  let depth = 0;

  const wrap: BackwardRelease['wrap'] = (gradient, around) =>
    function (this: ReleasableTapeNode, dys: tf.Tensor[]): GradientClosures {
      tf.dispose(addends);
      addends = [];
      // tfjs calls a node's gradient directly in the tidy it runs the whole pass in.
      const pass = activeScopeId();
      forgetEndedPasses(summed);
      let level = summed.get(pass);
      if (level === undefined) summed.set(pass, (level = new Set<number>()));
      const outermost = depth === 0;
      // The inputs tfjs will ask for, in its order; one it cannot find is left to tfjs's own error.
      let asked: string[] = [];
      depth += 1;
      let computed: tf.Tensor[];
      try {
        computed = around(() =>
          tf.tidy(() => {
            const closures = gradient(dys);
            asked = Object.keys(this.inputs).filter((name) => name in closures);
            return asked.map((name) => tf.tidy(() => closures[name]!()));
          }),
        );
      } finally {
        depth -= 1;
      }
      const finished = [...dys, ...(this.saved ?? [])].filter((tensor): tensor is tf.Tensor => tensor != null);
      const handedBack = new Set<tf.Tensor>();
      const byName: GradientClosures = {};
      asked.forEach((name, i) => {
        let dx = computed[i]!;
        // A gradient that is a dy, a kept tensor or another input's gradient (a residual add hands
        // dy to both inputs) gets its own reference to the storage, so freeing one frees neither.
        if (handedBack.has(dx) || finished.includes(dx)) dx = referenceTo(dx);
        handedBack.add(dx);
        byName[name] = () => dx;
        const x = this.inputs[name]!;
        if (level.has(x.id)) addends.push(dx);
        else level.add(x.id);
      });
      // Every dy of an inner pass and every kept tensor is the pass's own; an outermost dy made
      // outside the pass's tidy is the one its caller handed in.
      tf.dispose(finished.filter((tensor) => !outermost || !dys.includes(tensor) || tensor.scopeId === pass));
      return byName;
    };
  return { wrap };
}

/** The engine's scopes (engine.ts: state.activeScope and state.scopeStack); only their ids are read. */
interface ScopedEngine {
  state: { activeScope: { id: number } | null; scopeStack: { id: number }[] };
}

function activeScopeId(): number {
  return (tf.engine() as unknown as ScopedEngine).state.activeScope?.id ?? -1;
}

/** Drops the running sums of passes whose tidy has ended: their ids are never seen again. */
function forgetEndedPasses(summed: Map<number, Set<number>>): void {
  const open = new Set((tf.engine() as unknown as ScopedEngine).state.scopeStack.map((scope) => scope.id));
  for (const pass of summed.keys()) if (!open.has(pass)) summed.delete(pass);
}

/** A new tensor on `tensor`'s storage, counted as one more reference to it, as a kernel's view is. */
function referenceTo(tensor: tf.Tensor): tf.Tensor {
  const engine = tf.engine();
  const reference = engine.makeTensorFromDataId(tensor.dataId, tensor.shape, tensor.dtype, engine.backend);
  engine.backend.incRef(tensor.dataId);
  return reference;
}
