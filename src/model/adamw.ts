/**
 * AdamW (Loshchilov and Hutter 2019) as CS336's assignment 1 writes it, one update per step t
 * (from 1) for every parameter theta with gradient g:
 *
 *   m     = beta1 * m + (1 - beta1) * g
 *   v     = beta2 * v + (1 - beta2) * g^2
 *   lr_t  = lr * sqrt(1 - beta2^t) / (1 - beta1^t)          (bias correction, a host scalar)
 *   theta = theta - lr_t * m / (sqrt(v) + eps)
 *   theta = theta - lr * weight_decay * theta               (decoupled weight decay, on every parameter)
 *
 * Elementwise kernels per parameter element, one FLOP each by the rule table
 * (src/core/flop_rules.ts): m 3 (Multiply, Multiply, Add), v 4 (Square, Multiply, Multiply,
 * Add), the step 5 (Sqrt, Add, RealDiv, Multiply, Sub), the decay 2 (Multiply, Sub): 14 in all,
 * so one update costs 14 P FLOPs for P parameters. Scalars are made on the host and cost none.
 *
 * Parameters, m and v are tf.Variables updated in place (assign), one parameter and one line of
 * the update at a time, each kernel's result freed once the next has read it: the update holds at
 * most three tensors of one parameter's size beyond the step's state, as an in-place optimizer
 * holds one or two (src/analytic/training/optimizer_peak.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWHyperparameters {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
}

/** PyTorch's torch.optim.AdamW defaults, which CS336 also starts from. */
export const DEFAULT_ADAMW: AdamWHyperparameters = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0.01,
};

/** Elementwise kernels one AdamW update runs per parameter element (see the file comment). */
export const ADAMW_KERNELS_PER_ELEMENT = 14;

export interface AdamWMoments {
  readonly path: string;
  /** m: running mean of the gradient. */
  readonly first: tf.Variable;
  /** v: running mean of the squared gradient. */
  readonly second: tf.Variable;
}

export interface AdamWState {
  /** Updates done so far; the next update is step + 1. */
  step: number;
  /** One entry per parameter, in weightEntries order. */
  readonly moments: readonly AdamWMoments[];
}

export interface Parameter {
  readonly path: string;
  readonly variable: tf.Variable;
}

/** Zero moments for every parameter (ZerosLike kernels, so a shape-only backend needs no host arrays). */
export function initAdamW(parameters: readonly Parameter[]): AdamWState {
  const moments: AdamWMoments[] = [];
  // The tidy frees the zeros; the variable made from them keeps their storage.
  const zeroMoment = (variable: tf.Variable): tf.Variable => tf.tidy(() => tf.variable(tf.zerosLike(variable), false));
  try {
    for (const { path, variable } of parameters) {
      const first = zeroMoment(variable);
      let second: tf.Variable;
      try {
        second = zeroMoment(variable);
      } catch (error) {
        first.dispose();
        throw error;
      }
      moments.push({ path, first, second });
    }
  } catch (error) {
    disposeAdamW({ step: 0, moments });
    throw error;
  }
  return { step: 0, moments };
}

export function disposeAdamW(state: AdamWState): void {
  for (const { first, second } of state.moments) tf.dispose([first, second]);
}

/** Checks hyperparameters once, naming the bad one; a wrong value would otherwise only show as NaN. */
export function assertAdamWHyperparameters(hyper: AdamWHyperparameters): void {
  const problems: string[] = [];
  if (!(hyper.learningRate > 0 && Number.isFinite(hyper.learningRate)))
    problems.push(`learningRate ${hyper.learningRate} must be positive`);
  for (const name of ['beta1', 'beta2'] as const) {
    if (!(hyper[name] >= 0 && hyper[name] < 1)) problems.push(`${name} ${hyper[name]} must be in [0, 1)`);
  }
  if (!(hyper.epsilon > 0 && Number.isFinite(hyper.epsilon)))
    problems.push(`epsilon ${hyper.epsilon} must be positive`);
  if (!(hyper.weightDecay >= 0 && Number.isFinite(hyper.weightDecay)))
    problems.push(`weightDecay ${hyper.weightDecay} must be >= 0`);
  if (problems.length > 0) throw new Error(`adamw: ${problems.join('; ')}`);
}

/**
 * One kernel of a line of the update, on the line's running value (undefined for the first). Each
 * runs in its own tidy, so the scalar it reads is freed with it.
 */
type LineStep = (running: tf.Tensor | undefined) => tf.Tensor;

/**
 * `target` takes the value the steps compute. A line holds at most three of its tensors at once
 * (two operands and the result of the Add or Sub that joins them), then the assignment frees the
 * old value: the update's storage peaks at three times its largest parameter above the weights,
 * moments and gradients, as src/analytic/training/optimizer_peak.ts states.
 */
function assignThrough(target: tf.Variable, steps: readonly LineStep[]): void {
  let running: tf.Tensor | undefined;
  try {
    for (const step of steps) {
      const next: tf.Tensor = tf.tidy(() => step(running));
      running?.dispose();
      running = next;
    }
    target.assign(running!);
  } finally {
    running?.dispose();
  }
}

/** Both operands of a joining kernel: `make` builds the second while the first is held. */
function joined(
  first: tf.Tensor,
  make: () => tf.Tensor,
  join: (first: tf.Tensor, second: tf.Tensor) => tf.Tensor,
): tf.Tensor {
  const second = tf.tidy(make);
  try {
    return join(first, second);
  } finally {
    second.dispose();
  }
}

/** One AdamW update of every parameter from its gradient, in place; advances state.step. */
export function adamwUpdate(
  parameters: readonly Parameter[],
  gradients: readonly tf.Tensor[],
  state: AdamWState,
  hyper: AdamWHyperparameters,
): void {
  tf.util.assert(
    parameters.length === gradients.length && parameters.length === state.moments.length,
    () =>
      `adamw: ${parameters.length} parameters, ${gradients.length} gradients and ${state.moments.length} moment pairs must agree`,
  );
  const step = state.step + 1;
  const { learningRate: lr, beta1, beta2, epsilon, weightDecay } = hyper;
  const stepSize = (lr * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
  parameters.forEach(({ path, variable }, i) => {
    const gradient = gradients[i]!;
    const { first, second, path: momentPath } = state.moments[i]!;
    tf.util.assert(momentPath === path, () => `adamw: parameter ${i} is ${path} but its moments are for ${momentPath}`);
    tf.util.assert(
      tf.util.arraysEqual(gradient.shape, variable.shape),
      () => `adamw: ${path} has shape [${variable.shape}] but its gradient has [${gradient.shape}]`,
    );
    assignThrough(first, [
      () => tf.mul(first, beta1),
      (decayed) => joined(decayed!, () => tf.mul(gradient, 1 - beta1), tf.add),
    ]);
    // The squared gradient first, so that no kernel of the line reads a scalar while three tensors are held.
    assignThrough(second, [
      () => tf.square(gradient),
      (squared) => tf.mul(squared!, 1 - beta2),
      (scaled) =>
        joined(
          scaled!,
          () => tf.mul(second, beta2),
          (scaledSquare, decayed) => tf.add(decayed, scaledSquare),
        ),
    ]);
    assignThrough(variable, [
      () => tf.sqrt(second),
      (root) => tf.add(root!, epsilon),
      (denominator) => tf.div(first, denominator!),
      (ratio) => tf.mul(ratio!, stepSize),
      (step) => tf.sub(variable, step!),
      (stepped) => joined(stepped!, () => tf.mul(stepped!, lr * weightDecay), tf.sub),
    ]);
  });
  state.step = step;
}
