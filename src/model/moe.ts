/**
 * A mixture-of-experts FFN (config/moe.ts), computed as transformers' MixtralSparseMoeBlock,
 * Qwen2MoeSparseMoeBlock, Qwen3MoeSparseMoeBlock, DeepseekV2Moe and DeepseekV3MoE compute it, on
 * x (B, T, d) flattened to N = B * T token rows:
 *
 *   router     logits = x Wr (+ br) [N, E]; p = softmax(logits), or sigmoid(logits)     (router)
 *   choice     s = p (+ b, the score bias [E]); with groups, s of the experts outside each
 *              token's best groups set to 0 (choiceScores); the k largest s (TopK)       (top_k)
 *   weights    the chosen experts' p (not s) gathered, divided by their sum when normalize_top_k,
 *              times routed_scaling_factor (routeWeights)                                (top_k)
 *   experts    for each expert e that some token chose: its tokens' rows gathered, [n_e, d], its
 *              FFN run on those rows only, the output times each row's weight      (experts.{e})
 *   combine    every expert's weighted rows scattered back to their tokens, the k rows of a token
 *              summed (one ScatterNd)                                               (combine)
 *   shared     y += FFN_s(x), times sigmoid(x ws) with shared_expert_gate           (shared, shared_gate)
 *
 * An expert no token chose runs nothing (no matmul of zero rows), as transformers skips it.
 * The choice is not differentiable (its indices are read back to the host), so the loss reaches
 * the router through the weights only, and the score bias not at all: its gradient is zero, as in
 * DeepSeek-V3, whose balancing moves the bias by a rule of its own (not modelled).
 *
 * Which experts a token visits is read back from the router (a sync, as transformers' own loop
 * over `expert_hit` does) on a backend that holds values. A shape-only backend has no values to
 * route on: there it runs the same kernels and the documented assignment stands in (token t visits
 * experts (t + j) mod E, config/moe.ts, which says when it respects the group limit), or the rows
 * per expert of another run, replayed. The routing taken is reported through `onRoute`, so the
 * verifier checks each expert's matmuls against the rows it really got.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { ExpertRouting, MoeArchitecture } from '../config/model_config.js';
import { scope } from '../core/scope.js';
import { backendHoldsValues, hostConstant } from './host_constant.js';
import {
  addKeepingNothing,
  concatKeepingNothing,
  offTape,
  reshapeKeepingNothing,
  scaleKeepingNothing,
} from './lean_gradients.js';
import type { ExpertWeights, MoeLayerWeights } from './weights.js';

let scatterGradientRegistered = false;

/**
 * tfjs 4.22 has no gradient for ScatterNd. The combine's is a gather: each update row receives the
 * output gradient of the token it was added into, dy[indices], one GatherNd (data movement). The
 * registry is global, so it is registered once, on the first MoE pass.
 */
function registerScatterGradient(): void {
  if (scatterGradientRegistered) return;
  tf.registerGradient({
    kernelName: tf.ScatterNd,
    inputsToSave: ['indices'],
    gradFunc: (dy, saved) => {
      const [indices] = saved as [tf.Tensor];
      return { updates: () => tf.gatherND(dy as tf.Tensor, indices) };
    },
  });
  scatterGradientRegistered = true;
}

/**
 * The rows of `source` [M, ...] at `indices` [n]: [n, ...]. Its gradient is a scatter-add of dy
 * into source's shape through ScatterNd (which sums repeated indices), as the embedding lookup's
 * (transformer.ts): tfjs's own GatherV2 gradient needs UnsortedSegmentSum, which wasm lacks.
 */
function gatherRows<T extends tf.Tensor>(source: T, indices: tf.Tensor1D): T {
  // customGrad passes the source first, then the save function: the indices are kept for the
  // gradient that way, as the pass's tidy releases everything else it made.
  const gather = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const rows = inputs[0] as T;
    (inputs[1] as tf.GradSaveFunc)([indices]);
    const value = tf.gather(rows, indices); // (n, ...)
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor => {
      const kept = saved[0]!;
      const positions = tf.reshape<tf.Rank.R2>(kept, [kept.shape[0], 1]); // (n, 1): one source row each
      return tf.scatterND(positions, dy, rows.shape); // (M, ...)
    };
    return { value, gradFunc };
  });
  return gather(source);
}

/** Applies one expert's FFN (the model's kind: SwiGLU, GeGLU or the GELU MLP) to x (1, n, d). */
export type ExpertFfn = (x: tf.Tensor3D, expert: ExpertWeights) => tf.Tensor3D;

/**
 * Each token's experts from its choice scores [N, E] (choiceScores): int32 [N, k] (TopK's
 * indices). A part of the model, so a test can plant a router that picks k + 1.
 */
export type ChooseExperts = (scores: tf.Tensor2D, k: number) => tf.Tensor2D;

/** The k largest scores of each token, by index (tf.topk; the values are not kept). */
export function topKExperts(scores: tf.Tensor2D, k: number): tf.Tensor2D {
  const { values, indices } = tf.topk(scores, k); // (N, k) each
  values.dispose();
  return indices;
}

/**
 * The scores the top-k ranks, from the router's scores p [N, E]: p + b with a score bias b [E];
 * with groups, each token's G groups of E / G consecutive experts ranked by their best score
 * ("max") or the sum of their best two ("top2_sum"), the best `kept` groups kept and every other
 * expert's score set to 0, as DeepseekV3TopkRouter.get_topk_indices and DeepseekV2Moe's
 * group_limited_greedy do (transformers, models/deepseek_v3/modeling_deepseek_v3.py and
 * deepseek_v2/modeling_deepseek_v2.py). The kept groups are those scoring at least the kept-th
 * best group score (TopK, then GreaterEqual): torch's topk keeps exactly `kept` where two groups
 * tie at that score, this keeps both (real scores do not tie). Built from comparisons and a Cast
 * rather than a OneHot, whose wasm kernel ignores its dtype.
 */
export function choiceScores(scores: tf.Tensor2D, moe: MoeArchitecture, scoreBias?: tf.Tensor1D): tf.Tensor2D {
  const biased = scoreBias === undefined ? scores : tf.add<tf.Tensor2D>(scores, scoreBias); // (N, E)
  const groups = moe.groups;
  if (groups === undefined) return biased;
  const [N, E] = biased.shape;
  const G = groups.count;
  const grouped = tf.reshape<tf.Rank.R3>(biased, [N, G, E / G]); // (N, G, E/G)
  let groupScores: tf.Tensor2D; // (N, G)
  if (groups.score === 'max') groupScores = tf.max(grouped, -1);
  else {
    const { values, indices } = tf.topk(grouped, 2); // (N, G, 2) each
    indices.dispose();
    groupScores = tf.sum(values, -1);
  }
  const { values: best, indices: bestGroups } = tf.topk(groupScores, groups.kept); // (N, kept) each
  bestGroups.dispose();
  const threshold = tf.slice(best, [0, groups.kept - 1], [N, 1]); // (N, 1): the kept-th best group score
  const keep = tf.cast(tf.greaterEqual(groupScores, threshold), 'float32'); // (N, G): 1 for a kept group
  const masked = tf.mul(grouped, tf.reshape<tf.Rank.R3>(keep, [N, G, 1])); // (N, G, E/G)
  return tf.reshape<tf.Rank.R2>(masked, [N, E]); // (N, E)
}

/**
 * The routing weights [N, k] from the chosen experts' unbiased scores [N, k]: divided by their sum
 * when normalize_top_k, then times routed_scaling_factor when it is not 1 (DeepseekV3TopkRouter's
 * order; the sum has no + 1e-20, config/moe.ts says why).
 */
export function routeWeights(picked: tf.Tensor2D, moe: MoeArchitecture): tf.Tensor2D {
  const normalised = moe.normalize_top_k ? tf.div<tf.Tensor2D>(picked, tf.sum(picked, -1, true)) : picked; // (N, k)
  // Scaling by a number keeps nothing for its gradient (tfjs's Multiply would keep the weights and the scalar).
  return moe.routed_scaling_factor === 1 ? normalised : scaleKeepingNothing(normalised, moe.routed_scaling_factor);
}

/**
 * How the MoE layers of a pass choose their experts. 'router' (the default) follows the router;
 * on a backend without values it falls back to 'assigned', the documented assignment. Rows per
 * expert (an ExpertRouting, say another run's) give each expert that many rows; they say nothing
 * about which tokens, so only a shape-only backend can take them.
 */
export interface RoutingOptions {
  readonly choose?: 'router' | 'assigned' | ExpertRouting;
  /** Hears each MoE layer's rows per expert, in expert order, as the pass takes them. */
  readonly onRoute?: (layer: number, rows: readonly number[]) => void;
}

/**
 * One layer's routing on the host: the rows each expert takes and, on a backend that holds values,
 * per expert its tokens in increasing order and their slots t * k + j. A shape-only backend reads
 * no index value (hostConstant never asks for them), so there only the counts are kept: at
 * Qwen3-30B-A3B's 40,960 tokens the lists would be 1.3 million numbers a layer, made for nothing.
 */
interface LayerRoute {
  readonly rows: readonly number[];
  readonly lists: { readonly tokens: readonly number[][]; readonly slots: readonly number[][] } | undefined;
}

/** Sorts the N x k choices (expert of token t's j-th pick) into per-expert rows, and token and slot lists when kept. */
function routeFromChoices(
  N: number,
  k: number,
  E: number,
  expertOf: (t: number, j: number) => number,
  keepLists: boolean,
): LayerRoute {
  const rows = new Array<number>(E).fill(0);
  const tokens: number[][] | undefined = keepLists ? Array.from({ length: E }, () => []) : undefined;
  const slots: number[][] | undefined = keepLists ? Array.from({ length: E }, () => []) : undefined;
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < k; j++) {
      const e = expertOf(t, j);
      if (!Number.isInteger(e) || e < 0 || e >= E) throw new Error(`moe: token ${t} chose expert ${e} of ${E}`);
      rows[e]!++;
      tokens?.[e]!.push(t);
      slots?.[e]!.push(t * k + j);
    }
  }
  return { rows, lists: tokens === undefined || slots === undefined ? undefined : { tokens, slots } };
}

/** Per-expert row counts standing in for a routing on a backend without values (which reads no index). */
function routeFromRows(rows: readonly number[], E: number): LayerRoute {
  tf.util.assert(rows.length === E, () => `moe: a given routing has ${rows.length} experts in a layer of ${E}`);
  return { rows: [...rows], lists: undefined };
}

function layerRoute(choices: tf.Tensor2D, E: number, layer: number, routing: RoutingOptions): LayerRoute {
  const [N, k] = choices.shape;
  const choose = routing.choose ?? 'router';
  const holdsValues = backendHoldsValues();
  if (typeof choose === 'object') {
    tf.util.assert(
      !holdsValues,
      () => 'moe: a routing given as rows per expert names no tokens; only a shape-only backend can replay it',
    );
    const rows = choose.rows[layer];
    if (rows === undefined) throw new Error(`moe: the given routing has no rows for layer ${layer}`);
    return routeFromRows(rows, E);
  }
  if (choose === 'assigned' || !holdsValues) return routeFromChoices(N, k, E, (t, j) => (t + j) % E, holdsValues);
  const picked = choices.dataSync(); // (N * k): the router's choices, read back to gather each expert's rows
  return routeFromChoices(N, k, E, (t, j) => picked[t * k + j]!, true);
}

/** The token and slot lists of a route on a backend that holds values, where an index tensor asks for them. */
function listsOf(route: LayerRoute): NonNullable<LayerRoute['lists']> {
  if (route.lists === undefined) throw new Error('moe: index values were asked of a route kept as counts only');
  return route.lists;
}

/**
 * An int32 index tensor [n] (or [n, 1]) of the values `values` gives, asked only on a backend
 * that holds values (hostConstant).
 */
function indexTensor<R extends tf.Rank>(shape: tf.ShapeMap[R], values: () => Iterable<number>): tf.Tensor<R> {
  return hostConstant<R>(shape, 'int32', () => Int32Array.from(values()));
}

/**
 * The MoE FFN of layer `layer` on x (B, T, d) -> (B, T, d). Not tidied (the caller's pass is);
 * the host index tensors it makes are released by that tidy too.
 */
export function mixtureOfExperts(
  x: tf.Tensor3D,
  weights: MoeLayerWeights,
  moe: MoeArchitecture,
  layer: number,
  expertFfn: ExpertFfn,
  chooseExperts: ChooseExperts,
  linear: (x: tf.Tensor3D, weight: tf.Tensor2D, bias?: tf.Tensor1D) => tf.Tensor3D,
  routing: RoutingOptions,
): tf.Tensor3D {
  registerScatterGradient();
  const [B, T, d] = x.shape;
  const N = B * T;
  const E = moe.num_experts;
  tf.util.assert(
    weights.experts.length === E && weights.router.shape[1] === E,
    () =>
      `moe: layer ${layer} has ${weights.experts.length} experts and a router [${weights.router.shape}] for E = ${E}`,
  );
  const tokenRows = tf.reshape<tf.Rank.R2>(x, [N, d]); // (N, d)
  const probabilities = scope('router', () => {
    // The softmax (or sigmoid) keeps its output p for its gradient; the logits are read by no
    // backward pass, so the view keeps nothing.
    const logits = reshapeKeepingNothing<tf.Rank.R2>(linear(x, weights.router, weights.router_bias), [N, E]); // (N, E)
    return moe.router_scoring === 'sigmoid' ? tf.sigmoid(logits) : tf.softmax(logits); // (N, E)
  });
  const { route, weightOfSlot } = scope('top_k', () => {
    // The choice is not differentiable: its kernels run off the tape, so the score bias, the group
    // scores and their masks are kept by no gradient (tfjs's Add, Max and Multiply would keep them).
    const choices = offTape(() =>
      chooseExperts(choiceScores(probabilities, moe, weights.score_bias), moe.experts_per_token),
    ); // (N, k)
    const k = choices.shape[1];
    const chosen = layerRoute(choices, E, layer, routing);
    // The probability of each (token, pick): p[t, e] at t * E + e of the flattened p.
    const flatIndex = (): number[] => {
      const { tokens, slots } = listsOf(chosen);
      const index = new Array<number>(N * k).fill(0);
      tokens.forEach((rows, e) => rows.forEach((t, r) => (index[slots[e]![r]!] = t * E + e)));
      return index;
    };
    const picked = gatherRows(
      tf.reshape<tf.Rank.R1>(probabilities, [N * E]),
      indexTensor<tf.Rank.R1>([N * k], flatIndex),
    ); // (N*k)
    // Views kept by no gradient: the picked p is read by a backward pass only when it is
    // renormalised (the division keeps it and the sum), the weights only by the combine.
    const perToken = routeWeights(reshapeKeepingNothing<tf.Rank.R2>(picked, [N, k]), moe); // (N, k)
    return { route: chosen, weightOfSlot: reshapeKeepingNothing<tf.Rank.R1>(perToken, [N * k]) }; // (N*k)
  });
  routing.onRoute?.(layer, route.rows);

  const outputs: tf.Tensor2D[] = [];
  const used: number[] = [];
  weights.experts.forEach((expert, e) => {
    const n = route.rows[e]!;
    if (n === 0) return; // an expert no token chose runs nothing
    used.push(e);
    outputs.push(
      scope(`experts.${e}`, () => {
        const rows = gatherRows(
          tokenRows,
          indexTensor<tf.Rank.R1>([n], () => listsOf(route).tokens[e]!),
        ); // (n, d)
        const transformed = expertFfn(tf.reshape<tf.Rank.R3>(rows, [1, n, d]), expert); // (1, n, d)
        const weight = gatherRows(
          weightOfSlot,
          indexTensor<tf.Rank.R1>([n], () => listsOf(route).slots[e]!),
        ); // (n)
        return scope('combine', () =>
          tf.mul<tf.Tensor2D>(tf.reshape<tf.Rank.R2>(transformed, [n, d]), tf.reshape<tf.Rank.R2>(weight, [n, 1])),
        ); // (n, d)
      }),
    );
  });
  const routed = scope('combine', () => {
    // The weighted rows are read by no backward pass (the scatter's gradient gathers dy by the
    // indices, which it keeps), so neither the join nor the view of the sum keeps a tensor.
    const updates = concatKeepingNothing<tf.Tensor2D>(outputs, 0); // (k*N, d)
    // Each used expert's tokens in turn, the rows of `updates` in order.
    const destinations = () => used.flatMap((e) => listsOf(route).tokens[e]!);
    const routedRows = route.rows.reduce((sum, n) => sum + n, 0);
    const indices = indexTensor<tf.Rank.R2>([routedRows, 1], destinations); // (k*N, 1)
    return reshapeKeepingNothing<tf.Rank.R3>(tf.scatterND(indices, updates, [N, d]), [B, T, d]); // (B, T, d)
  });

  const shared = weights.shared;
  if (shared === undefined) return routed;
  const sharedOut = scope('shared', () => expertFfn(x, shared)); // (B, T, d)
  const gate = weights.shared_gate;
  const scaled =
    gate === undefined
      ? sharedOut
      : scope('shared_gate', () => tf.mul<tf.Tensor3D>(sharedOut, tf.sigmoid(linear(x, gate)))); // (B, T, d)
  // A sum's gradient reads no operand (tfjs's Add would keep both branches).
  return addKeepingNothing<tf.Tensor3D>(routed, scaled); // (B, T, d)
}
