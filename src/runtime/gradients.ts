/**
 * The gradients of tfjs's kernels, loaded when a run first takes gradients.
 *
 * tfjs-core's Node bundle registers no kernel gradient (nor the chained tensor methods): the
 * umbrella package @tensorflow/tfjs registers them, and it also loads the layers, converter,
 * data and webgl packages, which the model never uses. Loading only tfjs-core and the backends
 * took 0.27-0.29 s and 78-82 MiB of resident memory here, against 0.39-0.49 s and 95-98 MiB with
 * the umbrella: a forward run does without it, a training step loads it first.
 */
export async function loadKernelGradients(): Promise<void> {
  await import('@tensorflow/tfjs');
}
