/**
 * A mixture-of-experts FFN (config/moe.ts), computed as transformers' MixtralSparseMoeBlock,
 * Qwen2MoeSparseMoeBlock and Qwen3MoeSparseMoeBlock compute it, on x (B, T, d) flattened to
 * N = B * T token rows:
 *
 *   router     logits = x Wr (+ br) [N, E]; p = softmax(logits)            (router)
 *   top-k      each token's k experts: the k largest p (TopK); their weights p_e gathered,
 *              divided by their sum when normalize_top_k (Mixtral always, Qwen's norm_topk_prob) (top_k)
 *   experts    for each expert e that some token chose: its tokens' rows gathered, [n_e, d], its
 *              FFN run on those rows only, the output times each row's weight      (experts.{e})
 *   combine    every expert's weighted rows scattered back to their tokens, the k rows of a token
 *              summed (one ScatterNd)                                               (combine)
 *   shared     y += FFN_s(x), times sigmoid(x ws) with shared_expert_gate           (shared, shared_gate)
 *
 * An expert no token chose runs nothing (no matmul of zero rows), as transformers skips it.
 * Softmax comes before the top-k in all three models, so one path serves them.
 *
 * Which experts a token visits is read back from the router (a sync, as transformers' own loop
 * over `expert_hit` does) on a backend that holds values. A shape-only backend has no values to
 * route on: there the documented assignment stands in (token t visits experts (t + j) mod E,
 * config/moe.ts), or the rows per expert of another run, replayed. The routing taken is reported
 * through `onRoute`, so the verifier checks each expert's matmuls against the rows it really got.
 */
import * as tf from '@tensorflow/tfjs';

import type { ExpertRouting, MoeArchitecture } from '../config/model_config.js';
import { scope } from '../core/scope.js';
import { backendHoldsValues, hostConstant } from './host_constant.js';
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
 * Each token's experts from the router's probabilities p [N, E]: int32 [N, k] (TopK's indices).
 * A part of the model, so a test can plant a router that picks k + 1.
 */
export type ChooseExperts = (probabilities: tf.Tensor2D, k: number) => tf.Tensor2D;

/** The k largest probabilities of each token, by index (tf.topk; the values are not kept). */
export function topKExperts(probabilities: tf.Tensor2D, k: number): tf.Tensor2D {
  const { values, indices } = tf.topk(probabilities, k); // (N, k) each
  values.dispose();
  return indices;
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

/** One layer's routing on the host: per expert, its tokens in increasing order and their slots t * k + j. */
interface LayerRoute {
  readonly tokens: readonly number[][];
  readonly slots: readonly number[][];
}

/** Sorts the N x k choices (expert of token t's j-th pick) into per-expert token and slot lists. */
function routeFromChoices(N: number, k: number, E: number, expertOf: (t: number, j: number) => number): LayerRoute {
  const tokens: number[][] = Array.from({ length: E }, () => []);
  const slots: number[][] = Array.from({ length: E }, () => []);
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < k; j++) {
      const e = expertOf(t, j);
      if (!Number.isInteger(e) || e < 0 || e >= E) throw new Error(`moe: token ${t} chose expert ${e} of ${E}`);
      tokens[e]!.push(t);
      slots[e]!.push(t * k + j);
    }
  }
  return { tokens, slots };
}

/** Per-expert row counts standing in for a routing on a backend without values (the lists' contents are never read). */
function routeFromRows(rows: readonly number[], E: number): LayerRoute {
  tf.util.assert(rows.length === E, () => `moe: a given routing has ${rows.length} experts in a layer of ${E}`);
  const placeholders = rows.map((n) => new Array<number>(n).fill(0));
  return { tokens: placeholders, slots: placeholders };
}

function layerRoute(choices: tf.Tensor2D, E: number, layer: number, routing: RoutingOptions): LayerRoute {
  const [N, k] = choices.shape;
  const choose = routing.choose ?? 'router';
  if (typeof choose === 'object') {
    tf.util.assert(
      !backendHoldsValues(),
      () => 'moe: a routing given as rows per expert names no tokens; only a shape-only backend can replay it',
    );
    const rows = choose.rows[layer];
    if (rows === undefined) throw new Error(`moe: the given routing has no rows for layer ${layer}`);
    return routeFromRows(rows, E);
  }
  if (choose === 'assigned' || !backendHoldsValues()) return routeFromChoices(N, k, E, (t, j) => (t + j) % E);
  const picked = choices.dataSync(); // (N * k): the router's choices, read back to gather each expert's rows
  return routeFromChoices(N, k, E, (t, j) => picked[t * k + j]!);
}

/** An int32 index tensor [n] (or [n, 1]) of `values`, built without a host array on a backend without values. */
function indexTensor<R extends tf.Rank>(shape: tf.ShapeMap[R], values: readonly number[]): tf.Tensor<R> {
  return hostConstant<R>(shape, 'int32', () => Int32Array.from(values));
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
    const logits = linear(x, weights.router, weights.router_bias); // (B, T, E)
    return tf.softmax(tf.reshape<tf.Rank.R2>(logits, [N, E])); // (N, E)
  });
  const { route, routeWeights } = scope('top_k', () => {
    const choices = chooseExperts(probabilities, moe.experts_per_token); // (N, k)
    const k = choices.shape[1];
    const chosen = layerRoute(choices, E, layer, routing);
    // The probability of each (token, pick): p[t, e] at t * E + e of the flattened p.
    const flatIndex = new Array<number>(N * k).fill(0);
    chosen.tokens.forEach((tokens, e) => tokens.forEach((t, r) => (flatIndex[chosen.slots[e]![r]!] = t * E + e)));
    const picked = gatherRows(
      tf.reshape<tf.Rank.R1>(probabilities, [N * E]),
      indexTensor<tf.Rank.R1>([N * k], flatIndex),
    ); // (N*k)
    const perToken = tf.reshape<tf.Rank.R2>(picked, [N, k]); // (N, k)
    const normalised = moe.normalize_top_k ? tf.div<tf.Tensor2D>(perToken, tf.sum(perToken, -1, true)) : perToken; // (N, k)
    return { route: chosen, routeWeights: tf.reshape<tf.Rank.R1>(normalised, [N * k]) }; // (N*k)
  });
  routing.onRoute?.(
    layer,
    route.tokens.map((tokens) => tokens.length),
  );

  const outputs: tf.Tensor2D[] = [];
  const destinations: number[] = [];
  weights.experts.forEach((expert, e) => {
    const tokens = route.tokens[e]!;
    const n = tokens.length;
    if (n === 0) return; // an expert no token chose runs nothing
    outputs.push(
      scope(`experts.${e}`, () => {
        const rows = gatherRows(tokenRows, indexTensor<tf.Rank.R1>([n], tokens)); // (n, d)
        const transformed = expertFfn(tf.reshape<tf.Rank.R3>(rows, [1, n, d]), expert); // (1, n, d)
        const weight = gatherRows(routeWeights, indexTensor<tf.Rank.R1>([n], route.slots[e]!)); // (n)
        return scope('combine', () =>
          tf.mul<tf.Tensor2D>(tf.reshape<tf.Rank.R2>(transformed, [n, d]), tf.reshape<tf.Rank.R2>(weight, [n, 1])),
        ); // (n, d)
      }),
    );
    for (const t of tokens) destinations.push(t);
  });
  const routed = scope('combine', () => {
    const updates = outputs.length === 1 ? outputs[0]! : tf.concat(outputs, 0); // (k*N, d)
    const indices = indexTensor<tf.Rank.R2>([destinations.length, 1], destinations); // (k*N, 1)
    return tf.reshape<tf.Rank.R3>(tf.scatterND(indices, updates, [N, d]), [B, T, d]); // (B, T, d)
  });

  const shared = weights.shared;
  if (shared === undefined) return routed;
  const sharedOut = scope('shared', () => expertFfn(x, shared)); // (B, T, d)
  const gate = weights.shared_gate;
  const scaled =
    gate === undefined
      ? sharedOut
      : scope('shared_gate', () => tf.mul<tf.Tensor3D>(sharedOut, tf.sigmoid(linear(x, gate)))); // (B, T, d)
  return tf.add<tf.Tensor3D>(routed, scaled); // (B, T, d)
}
