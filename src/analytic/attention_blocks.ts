/**
 * The attention core's scores, counted three ways (design.md section 2: attention is counted as
 * the kernels compute it; the useful count is a labelled alternative):
 *
 *   dense    every score of the T x T matrix:                     T^2 per query head
 *   blocked  every score of each (query block, key block) pair the mask does not empty
 *            (src/config/attention_schedule.ts), partly masked blocks in full
 *   useful   only the scores a query keeps: min(q + 1, w) for the query at position q
 *            (causal: T(T+1)/2; a window w < T: w(w+1)/2 + (T - w) w)
 *
 * Each score costs 2*dh FLOPs in q @ k^T and 2*dh in P @ v, per query head and sequence, so the
 * core of one layer costs 4 * B * H * dh * (scores) FLOPs whichever way they are counted.
 *
 * The blocked schedule in closed form, with blocks of b positions, nq = ceil(T / b) of them, the
 * last holding rho = T - (nq - 1) b: query block a keeps key blocks j <= a (the causal mask
 * empties every later one), and with a window w only j >= a - m, where
 *     m = floor((w + b - 2) / b)
 * is how many whole blocks back the window reaches: key block j < a is kept when its last key
 * (j + 1) b - 1 is within the window of the block's first query a b, i.e. a b - ((j + 1) b - 1) < w.
 * (Without a window m is unbounded.) A block holds R_a queries and C_j keys (b, or rho for the
 * last), so the scores of query block a are R_a K_a with K_a = sum of C_j over its kept j:
 *     K_a = b (min(a, m) + 1)            for a < nq - 1 (every block up to a is whole)
 *     K_{nq-1} = b min(nq - 1, m) + rho  (its own block holds rho keys)
 * and the layer's blocked scores are b^2 * sum_{a < nq-1} (min(a, m) + 1) + rho K_{nq-1}, where
 *     sum_{a=0}^{N-1} (min(a, m) + 1) = N (N + 1) / 2                             (N <= m + 1)
 *                                     = (m + 1)(m + 2) / 2 + (N - m - 1)(m + 1)   (N > m + 1).
 * The model decides its schedule by testing each pair of blocks (src/model/blocked_attention.ts);
 * nothing here is shared with it, so a trace that matches these counts checks one by the other.
 */
import { blockOf } from '../config/attention_schedule.js';
import { architectureOf, type ModelConfig, type RunShape } from '../config/model_config.js';
import { layerWindow } from '../config/windows.js';
import { blockLeaf, path } from '../core/module_paths.js';
import type { MatmulRow } from './types.js';

/** Scores per query head and sequence of a dense core: every one of T x T. */
export function denseScores(seq: number): bigint {
  const T = BigInt(seq);
  return T * T;
}

/** Scores a query keeps, summed over the T queries: min(q + 1, w) each (w absent: causal, T(T+1)/2). */
export function usefulScores(seq: number, window: number | undefined): bigint {
  const T = BigInt(seq);
  if (window === undefined || window >= seq) return (T * (T + 1n)) / 2n;
  const w = BigInt(window);
  return (w * (w + 1n)) / 2n + (T - w) * w;
}

/** How many whole key blocks before its own a query block's window reaches: floor((w + b - 2) / b); undefined: no limit. */
function windowReach(block: number, window: number | undefined): number | undefined {
  return window === undefined ? undefined : Math.floor((window + block - 2) / block);
}

/** sum_{a=0}^{N-1} (min(a, m) + 1): key blocks kept by the first N query blocks (m undefined: no window). */
function keptBlocksUpTo(N: bigint, reach: number | undefined): bigint {
  if (reach === undefined || N <= BigInt(reach) + 1n) return (N * (N + 1n)) / 2n;
  const m = BigInt(reach);
  return ((m + 1n) * (m + 2n)) / 2n + (N - m - 1n) * (m + 1n);
}

/** Scores per query head and sequence of the blocked schedule, in closed form (see above). */
export function blockedScores(seq: number, block: number, window: number | undefined): bigint {
  const b = BigInt(block);
  const blocks = Math.ceil(seq / block);
  const rho = BigInt(seq - (blocks - 1) * block);
  const reach = windowReach(block, window);
  const N = BigInt(blocks - 1);
  const lastKeys = b * (reach === undefined ? N : BigInt(Math.min(blocks - 1, reach))) + rho;
  return b * b * keptBlocksUpTo(N, reach) + rho * lastKeys;
}

/** (query block, key block) pairs the blocked schedule computes per layer: sum over all nq query blocks of min(a, m) + 1. */
export function blockedPairs(seq: number, block: number, window: number | undefined): bigint {
  return keptBlocksUpTo(BigInt(Math.ceil(seq / block)), windowReach(block, window));
}

/**
 * How many more core matmuls a blocked run has than a dense one: a dense layer has 2 (scores,
 * weighted sum), a blocked one 2 per computed pair of blocks. 0 for a dense run.
 */
export function blockedExtraMatmuls(config: ModelConfig, run: RunShape): number {
  const block = blockOf(run.attention);
  if (block === undefined) return 0;
  let extra = 0;
  for (let i = 0; i < config.num_layers; i++) {
    extra += 2 * (Number(blockedPairs(run.seq, block, layerWindow(config, i))) - 1);
  }
  return extra;
}

/** One (query block, key block) pair the blocked schedule computes. */
export interface ScoreBlockRow {
  readonly queryBlock: number;
  readonly keyBlock: number;
  readonly queryStart: number;
  /** R: query positions in the block. */
  readonly queries: number;
  readonly keyStart: number;
  /** C: key positions in the block. */
  readonly keys: number;
  /** Whether the mask removes some pair of the block (it is then masked after its scores). */
  readonly masked: boolean;
}

/**
 * The pairs of blocks the blocked schedule computes, query block by query block, key blocks in
 * order: for query block a, key blocks max(0, a - m) to a. A pair is masked when it holds a
 * removed pair: the diagonal block (a future key) unless it holds one position, and a block
 * whose first key the block's last query has left w or more positions behind.
 */
export function scoreBlocks(seq: number, block: number, window: number | undefined): ScoreBlockRow[] {
  const blocks = Math.ceil(seq / block);
  const reach = windowReach(block, window);
  const span = (index: number) => ({ start: index * block, size: Math.min(block, seq - index * block) });
  const rows: ScoreBlockRow[] = [];
  for (let a = 0; a < blocks; a++) {
    const queries = span(a);
    const lastQuery = queries.start + queries.size - 1;
    for (let j = reach === undefined ? 0 : Math.max(0, a - reach); j <= a; j++) {
      const keys = span(j);
      const future = j === a && queries.size > 1;
      const passed = window !== undefined && lastQuery - keys.start >= window;
      rows.push({
        queryBlock: a,
        keyBlock: j,
        queryStart: queries.start,
        queries: queries.size,
        keyStart: keys.start,
        keys: keys.size,
        masked: future || passed,
      });
    }
  }
  return rows;
}

/**
 * The core's matmul rows of layer `layer` under a blocked run: per computed block, scores
 * q_a @ k_b^T [B,H,R,dh] x [B,Hkv,dh,C] and the weighted sum P_ab @ v_b [B,H,R,C] x [B,Hkv,C,dh],
 * each at its block's path (layers.{i}.attn.scores.q{a}_k{b}, weighted_sum.q{a}_k{b}). As in the
 * dense rows, a key/value head serves its G query heads, so the batch counts H query heads.
 * `pairs` is scoreBlocks for the layer's window (shared by the layers with the same window).
 */
function blockedCoreRows(
  config: ModelConfig,
  run: RunShape,
  layer: number,
  pairs: readonly ScoreBlockRow[],
): { scores: MatmulRow[]; weighted: MatmulRow[] } {
  const { head_dim: dh, num_kv_heads: Hkv, mla } = architectureOf(config);
  // Latent attention's values are v_head_dim wide, its scores dn + dr deep; elsewhere both dh.
  const dv = mla?.v_head_dim ?? dh;
  const H = config.num_heads;
  const kvHeads = Hkv === H ? 'H' : 'Hkv';
  const batch = [run.batch, H] as const;
  const heads = BigInt(run.batch) * BigInt(H);
  const [depth, valueDepth] = [BigInt(dh), BigInt(dv)];
  const [scoresPath, weightedPath] = [path.scores(layer), path.weightedSum(layer)];
  const scores: MatmulRow[] = [];
  const weighted: MatmulRow[] = [];
  // Most blocks are b x b: their shapes and counts are made once, not once per block.
  const shapes = new Map<string, { macs: bigint; weightedMacs: bigint; scores: string; weighted: string }>();
  for (const pair of pairs) {
    const leaf = blockLeaf(pair.queryBlock, pair.keyBlock);
    const { queries: R, keys: C } = pair;
    const size = `${R}x${C}`;
    let shape = shapes.get(size);
    if (shape === undefined) {
      shape = {
        // Both products have m*k*n = R*C*dh per query head (R*C*dv for the weighted sum with latent attention).
        macs: heads * BigInt(R) * BigInt(C) * depth,
        weightedMacs: heads * BigInt(R) * BigInt(C) * valueDepth,
        scores: `[B,H,${R},dk] x [B,${kvHeads},dk,${C}]`,
        weighted: `[B,H,${R},${C}] x [B,${kvHeads},${C},${dv === dh ? 'dk' : 'dv'}]`,
      };
      shapes.set(size, shape);
    }
    const { macs, weightedMacs } = shape;
    const of = `q block ${pair.queryBlock}, k block ${pair.keyBlock}`;
    scores.push({
      path: `${scoresPath}.${leaf}`,
      component: 'attention_core',
      description: `q_a @ k_b^T / sqrt(dk), ${of}`,
      symbolicShapes: shape.scores,
      batch,
      m: R,
      k: dh,
      n: C,
      flops: 2n * macs,
      macs,
    });
    weighted.push({
      path: `${weightedPath}.${leaf}`,
      component: 'attention_core',
      description: `P_ab @ v_b, ${of}`,
      symbolicShapes: shape.weighted,
      batch,
      m: R,
      k: C,
      n: dv,
      flops: 2n * weightedMacs,
      macs: weightedMacs,
    });
  }
  return { scores, weighted };
}

/**
 * `rows` (forwardMatmulInventory's, dense) as the run computes them: unchanged for a dense run;
 * for a blocked run each layer's scores and weighted_sum rows give way to the rows of its blocks.
 */
export function scheduledCoreRows(config: ModelConfig, run: RunShape, rows: readonly MatmulRow[]): MatmulRow[] {
  const block = blockOf(run.attention);
  if (block === undefined) return [...rows];
  const pairsByWindow = new Map<number | undefined, ScoreBlockRow[]>();
  const pairsOf = (window: number | undefined) => {
    let pairs = pairsByWindow.get(window);
    if (pairs === undefined) pairsByWindow.set(window, (pairs = scoreBlocks(run.seq, block, window)));
    return pairs;
  };
  const byLayer = new Map<number, { scores: MatmulRow[]; weighted: MatmulRow[] }>();
  const blocksOf = (layer: number) => {
    let rowsOf = byLayer.get(layer);
    if (rowsOf === undefined) {
      rowsOf = blockedCoreRows(config, run, layer, pairsOf(layerWindow(config, layer)));
      byLayer.set(layer, rowsOf);
    }
    return rowsOf;
  };
  const out: MatmulRow[] = [];
  for (const row of rows) {
    const match = /^layers\.(\d+)\.attn\.(scores|weighted_sum)$/.exec(row.path);
    if (match === null) {
      out.push(row);
      continue;
    }
    const layer = Number(match[1]);
    const blocks = blocksOf(layer);
    for (const blockRow of match[2] === 'scores' ? blocks.scores : blocks.weighted) out.push(blockRow);
    if (match[2] === 'weighted_sum') byLayer.delete(layer);
  }
  return out;
}

/** The mask a layer's core applies to one block of its scores, as the formulas expect it. */
export interface ExpectedMask {
  /** The scores module the mask belongs to: layers.{i}.attn.scores, or one of its blocks. */
  readonly path: string;
  readonly queryStart: number;
  readonly queries: number;
  readonly keyStart: number;
  readonly keys: number;
  /** The window, or undefined for the causal mask alone. */
  readonly window: number | undefined;
}

/**
 * Every mask the forward pass applies: dense, one per layer over the whole T x T square with the
 * layer's window; blocked, one per masked block (a block the mask keeps whole is not masked).
 */
export function expectedMasks(config: ModelConfig, run: RunShape): ExpectedMask[] {
  const block = blockOf(run.attention);
  const masks: ExpectedMask[] = [];
  for (let i = 0; i < config.num_layers; i++) {
    const window = layerWindow(config, i);
    if (block === undefined) {
      masks.push({ path: path.scores(i), queryStart: 0, queries: run.seq, keyStart: 0, keys: run.seq, window });
      continue;
    }
    for (const pair of scoreBlocks(run.seq, block, window)) {
      if (!pair.masked) continue;
      masks.push({
        path: `${path.scores(i)}.${blockLeaf(pair.queryBlock, pair.keyBlock)}`,
        queryStart: pair.queryStart,
        queries: pair.queries,
        keyStart: pair.keyStart,
        keys: pair.keys,
        window,
      });
    }
  }
  return masks;
}
