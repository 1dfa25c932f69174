/**
 * Ops whose gradients keep no tensor, so that a training step keeps for its backward pass what
 * reverse-mode autodiff needs (src/analytic/training/saved_activations.ts) and nothing more.
 *
 * tfjs 4.22's gradient configs keep inputs they read only for a shape: Add both of its inputs
 * (to reduce a broadcast), Reshape its input, Multiply both factors even when one is a constant.
 * On cpu a kept tensor holds its whole buffer, so a projection's output kept by the Reshape
 * after it, or a residual branch kept by the Add that closes it, stays alive until the backward
 * pass ends though no gradient reads its values. PyTorch's autograd saves no tensor for these
 * (AddBackward, ViewBackward and MulBackward with a Python number keep shapes and the number).
 *
 * Each op here is a tf.customGrad running the very kernels the plain op runs (so a trace sees the
 * same forward work) and closing over shapes and numbers, never over tensors: its gradient runs
 * the same kernels tfjs's own would (Sum and Reshape for a broadcast, Reshape, Multiply).
 */
import * as tf from '@tensorflow/tfjs-core';

/** dy (of `outShape`) summed over the axes `inShape` was broadcast along, then shaped as `inShape`. */
function reducedTo(dy: tf.Tensor, inShape: readonly number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes([...inShape], dy.shape);
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return summed.rank === inShape.length && tf.util.arraysEqual(summed.shape, [...inShape])
    ? summed
    : tf.reshape(summed, [...inShape]); // inShape
}

/** a + b (broadcasting as tf.add does), keeping nothing for the gradient. */
export function addKeepingNothing<T extends tf.Tensor>(a: tf.Tensor, b: tf.Tensor): T {
  // customGrad passes the inputs first, then the function that keeps tensors for the gradient (unused).
  const sum = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [left, right] = inputs as [tf.Tensor, tf.Tensor];
    const [leftShape, rightShape] = [left.shape, right.shape];
    return {
      value: tf.add(left, right),
      gradFunc: (dy: tf.Tensor) => [reducedTo(dy, leftShape), reducedTo(dy, rightShape)],
    };
  });
  return sum(a, b) as T;
}

/** x * factor for a number `factor`, keeping nothing for the gradient (dx = dy * factor). */
export function scaleKeepingNothing<T extends tf.Tensor>(x: T, factor: number): T {
  const scaled = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.mul(inputs[0] as tf.Tensor, factor),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, factor),
  }));
  return scaled(x) as T;
}

/** x viewed as `shape`, keeping nothing for the gradient (dx = dy viewed as x's shape). */
export function reshapeKeepingNothing<R extends tf.Rank>(x: tf.Tensor, shape: number[]): tf.Tensor<R> {
  const inShape = x.shape;
  const viewed = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.reshape(inputs[0] as tf.Tensor, shape), // shape
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, inShape), // x's shape
  }));
  return viewed(x) as tf.Tensor<R>;
}

/**
 * f(x) for an elementwise f whose gradient needs only x (or, with `keep` 'output', only f(x)):
 * the forward runs f's kernels with the tape off, so none of its intermediates is kept, and the
 * gradient computes dy * f'(from the kept tensor). The kept tensor is an input or the output,
 * never an intermediate: tfjs's per-kernel leak check counts a kept intermediate as a leak.
 */
export function elementwiseKeeping<T extends tf.Tensor>(
  x: T,
  f: (x: tf.Tensor) => tf.Tensor,
  keep: 'input' | 'output',
  derivative: (dy: tf.Tensor, kept: tf.Tensor) => tf.Tensor,
): T {
  const applied = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    const value = f(input);
    save([keep === 'input' ? input : value]);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => derivative(dy, saved[0]!) };
  });
  return applied(x) as T;
}

/**
 * fn() as a constant of the backward pass: its kernels run (and are traced) where they stand, but
 * off the tape, so no gradient flows into the result and nothing fn made is kept. For a norm's
 * statistics, which its own custom gradient keeps and differentiates through in closed form.
 */
export function offTape<T extends tf.Tensor>(fn: () => T): T {
  const constant = tf.customGrad(() => ({ value: fn(), gradFunc: () => [] }));
  return constant();
}

/**
 * tf.concat(parts, axis), keeping nothing for the gradient (each part's gradient is its slice of
 * dy along `axis`, one Split). tfjs's Concat gradient keeps every part, though it reads only their
 * shapes; PyTorch's CatBackward keeps the sizes.
 */
export function concatKeepingNothing<T extends tf.Tensor>(parts: readonly tf.Tensor[], axis: number): T {
  if (parts.length === 1) return parts[0] as T;
  const sizes = parts.map((part) => part.shape.at(axis < 0 ? axis : axis - part.rank)!);
  const joined = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.concat(inputs.slice(0, parts.length) as tf.Tensor[], axis),
    gradFunc: (dy: tf.Tensor) => tf.split(dy, sizes, axis),
  }));
  return joined(...parts) as T;
}

/**
 * tf.slice(x, begin, size), keeping nothing for the gradient (dx = dy padded back to x's shape,
 * one Pad, as tfjs's Slice gradient computes it). tfjs's Slice keeps x, though it reads only its
 * shape; PyTorch's slices are views and keep nothing.
 */
export function sliceKeepingNothing<T extends tf.Tensor>(x: T, begin: number[], size: number[]): T {
  const inShape = x.shape;
  const cut = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.slice(inputs[0] as tf.Tensor, begin, size),
    gradFunc: (dy: tf.Tensor) =>
      tf.pad(
        dy,
        inShape.map((extent, axis): [number, number] => [begin[axis]!, extent - begin[axis]! - dy.shape[axis]!]),
      ),
  }));
  return cut(x) as T;
}
