/**
 * The non-matmul kernels of one layer's attention core, as the math writes them with the
 * cheapest tfjs kernels (the convention of non_matmul_estimate.ts), for a dense or a blocked run:
 *
 *   scores / sqrt(dk)                     Multiply by a scalar, over every score computed
 *   cap * tanh(scores / cap) (a cap)      Multiply, Tanh, Multiply, before the mask
 *   the mask of R queries x C keys        Sub (key - query position) and Greater than 0 (a future
 *                                         key; the positions are Range kernels, data movement);
 *                                         with a window Sub (key - each query's earliest, q - w + 1),
 *                                         Less than 0 and LogicalOr; Select of -inf or 0 (two
 *                                         Fills, data movement), Add to the scores
 *   softmax over the kept keys            Softmax
 *   blocked: a query block's sum of its   Add, one fewer than its kept key blocks
 *   P_ab @ v_b
 * Dense: one mask over the T x T square and one softmax over T keys per query. Blocked: per
 * (query block, key block) pair computed (attention_blocks.ts, scoreBlocks), its scale, cap and,
 * where the pair holds a removed pair, its mask; per query block one softmax over the keys of its
 * kept blocks. Slices and concatenations are data movement (0 FLOPs) and are not listed.
 */
import { blockOf } from '../config/attention_schedule.js';
import { architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import { layerWindow } from '../config/windows.js';
import { blockLeaf, path } from '../core/module_paths.js';
import { scoreBlocks } from './attention_blocks.js';

/** How non_matmul_estimate.ts costs one kernel by the rule table, into its own kernel record K. */
export type KernelEstimator<K> = (
  modulePath: string,
  kernel: string,
  computes: string,
  inputs: readonly (readonly number[])[],
  output: readonly number[],
) => K;

/** What the mask's subtractions compute: an offset between int32 positions (bytes.ts reads it). */
export const POSITION_OFFSET = 'key position - query position';

/** The mask of R queries x C keys and its add to scores [B, H, R, C], at `at`. */
function mask<K>(
  estimate: KernelEstimator<K>,
  at: string,
  scores: readonly number[],
  R: number,
  C: number,
  window: number | undefined,
): K[] {
  const square = [R, C];
  const [keys, queries] = [
    [1, C],
    [R, 1],
  ];
  return [
    estimate(at, 'Sub', POSITION_OFFSET, [keys, queries], square),
    estimate(at, 'Greater', 'key position > query position', [square, []], square),
    ...(window === undefined
      ? []
      : [
          estimate(at, 'Sub', POSITION_OFFSET, [keys, queries], square),
          estimate(at, 'Less', 'key position < q - w + 1', [square, []], square),
          estimate(at, 'LogicalOr', 'future or out of the window', [square, square], square),
        ]),
    estimate(at, 'Select', 'mask: -inf or 0', [square, square, square], square),
    estimate(at, 'Add', 'scores + mask', [scores, square], scores),
  ];
}

/** cap * tanh(x / cap): Multiply, Tanh, Multiply. */
function softcap<K>(estimate: KernelEstimator<K>, at: string, x: readonly number[]): K[] {
  return [
    estimate(at, 'Multiply', 'scores / cap', [x, []], x),
    estimate(at, 'Tanh', 'tanh(scores / cap)', [x], x),
    estimate(at, 'Multiply', 'cap * tanh(scores / cap)', [x, []], x),
  ];
}

/** Layer `layer`'s attention-core kernels besides its matmuls, in the order the model runs them. */
export function attentionCoreKernels<K>(
  config: ModelConfig,
  run: RunShape,
  layer: number,
  estimate: KernelEstimator<K>,
): K[] {
  const { head_dim: dh, attn_softcap: cap, mla } = architectureOf(config);
  // The weighted sum's output is v_head_dim wide with latent attention.
  const dv = mla?.v_head_dim ?? dh;
  const H = config.num_heads;
  const { batch: B, seq: T } = run;
  const window = layerWindow(config, layer);
  const block = blockOf(run.attention);
  const kernels: K[] = [];
  if (block === undefined) {
    const scores = [B, H, T, T];
    kernels.push(estimate(path.scores(layer), 'Multiply', 'scores / sqrt(dk)', [scores, []], scores));
    if (cap !== undefined) kernels.push(...softcap(estimate, path.attnSoftcap(layer), scores));
    kernels.push(...mask(estimate, path.scores(layer), scores, T, T, window));
    kernels.push(estimate(path.softmax(layer), 'Softmax', 'softmax over keys', [scores], scores));
    return kernels;
  }
  const pairs = scoreBlocks(T, block, window);
  for (let start = 0; start < pairs.length;) {
    const queryBlock = pairs[start]!.queryBlock;
    let end = start;
    while (end < pairs.length && pairs[end]!.queryBlock === queryBlock) end += 1;
    const kept = pairs.slice(start, end);
    start = end;
    const R = kept[0]!.queries;
    for (const pair of kept) {
      const leaf = blockLeaf(pair.queryBlock, pair.keyBlock);
      const scores = [B, H, R, pair.keys];
      const at = `${path.scores(layer)}.${leaf}`;
      kernels.push(estimate(at, 'Multiply', 'scores / sqrt(dk)', [scores, []], scores));
      if (cap !== undefined) kernels.push(...softcap(estimate, `${path.attnSoftcap(layer)}.${leaf}`, scores));
      if (pair.masked) kernels.push(...mask(estimate, at, scores, R, pair.keys, window));
    }
    const keys = kept.reduce((total, pair) => total + pair.keys, 0);
    const probabilities = [B, H, R, keys];
    kernels.push(
      estimate(
        `${path.softmax(layer)}.${blockLeaf(queryBlock)}`,
        'Softmax',
        'softmax over the kept blocks',
        [probabilities],
        probabilities,
      ),
    );
    const output = [B, H, R, dv];
    for (let n = 1; n < kept.length; n++) {
      kernels.push(
        estimate(
          `${path.weightedSum(layer)}.${blockLeaf(queryBlock)}`,
          'Add',
          'sum of P_ab @ v_b',
          [output, output],
          output,
        ),
      );
    }
  }
  return kernels;
}
