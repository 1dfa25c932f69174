/**
 * Releasing each block's weights once a one-shot forward pass has left the block.
 *
 * On wasm the first matmul by a weight matrix makes XNNPACK pack a copy of it (batch_mat_mul_impl.cc
 * caches one operator per right operand and frees it when that tensor is disposed), so a pass that
 * keeps every weight to its end holds every matrix twice: GPT-2 small's 762 MB of weights peaked at
 * 1.46 GB. A traced forward pass reads block i's weights only inside block i, so once a kernel of a
 * later block (or of the final norm, lm_head or loss) starts, block i's tensors and their packed
 * copies can go: the pass then holds the weights, the packed copies of one block and the
 * activations, and a later block's packed copies reuse the freed heap.
 *
 * Only a positive sign moves the pass on: a path inside `layers.{j}` for a larger j, or one of the
 * paths after the blocks. A kernel at any other path (the embeddings, a constant of the run) moves
 * nothing. A released weight read again would throw tfjs's "Tensor is disposed", never give a
 * wrong number. The embeddings, the final norm and lm_head are kept: a tied lm_head reads the
 * token table at the end.
 */
import type * as tf from '@tensorflow/tfjs-core';

import { layerIndexOf, path } from '../core/module_paths.js';
import { weightEntries, type TransformerWeights } from '../model/index.js';

const AFTER_THE_BLOCKS: ReadonlySet<string> = new Set([path.lnFinal, path.lmHead, path.loss]);

/**
 * A callback for each kernel's module path that disposes the weights of every block the pass has
 * left. The caller still disposes all weights at the end (disposing a tensor twice is a no-op).
 */
export function blockWeightRelease(weights: TransformerWeights): (modulePath: string) => void {
  const blocks: tf.Tensor[][] = weights.layers.map(() => []);
  for (const entry of weightEntries(weights)) {
    const layer = layerIndexOf(entry.path);
    if (layer !== undefined) blocks[layer]?.push(entry.tensor);
  }
  let released = 0;
  let lastPath: string | undefined;
  return (modulePath) => {
    if (modulePath === lastPath) return;
    lastPath = modulePath;
    const layer = layerIndexOf(modulePath);
    const reached = layer ?? (AFTER_THE_BLOCKS.has(modulePath) ? blocks.length : 0);
    for (; released < reached; released++) {
      for (const tensor of blocks[released] ?? []) tensor.dispose();
    }
  };
}
