/**
 * Decode: N new tokens per sequence attend to the P positions already cached and to themselves
 * (design.md section 2). A decode step is a forward pass over the N new tokens of each of the B
 * sequences, whose attention core runs over a non-square range: N queries against
 *
 *   keys = P + N                  full attention
 *   keys = min(P, w - 1) + N      a sliding window w (the newest query sees w positions, itself
 *                                 included; kv_cache.ts says why the cache holds w)
 *
 * Every matmul outside the core is the forward pass's at seq = N: one row per sequence per new
 * token (m = N, batch [B]); the projections never see the cached positions. The core is counted
 * as the dense kernel computes it, every score of the N x keys block then the mask (the N new
 * queries are causal among themselves); at N = 1 nothing is masked and the count is also the
 * useful one.
 *
 * A generation of G tokens is G steps of one token: step j (1 to G) feeds the j-th generated
 * token, the first sampled from the prefill's last logits; it sits at position P + j - 1 with
 * P + j - 1 positions cached and attends over keys(P + j) = P + j (full) or min(P + j, w). The
 * cache ends at P + G positions. Step j's FLOPs are A + c * sum over layers of keys_i(j), where A
 * is everything outside the core (the same at every step) and c = 4 B H dh (q k^T and P v, 2 B H
 * dh each per key), so the total has the closed form
 *
 *   G A + c * sum over layers of S_i,   S = sum_{t = P+1}^{P+G} t = G P + G (G + 1) / 2 (full)
 *                                        S = sum_{t = P+1}^{P+G} min(t, w)              (window)
 *
 * which decodeGenerationFlops evaluates and the tests check against the sum of the steps.
 *
 * Latent attention (config/latent_attention.ts) caches only the latent c_KV and the rope key k_R,
 * so a step cannot run kv_up on its new tokens alone: the cached positions have no per-head keys
 * to join. It takes the absorbed form (DeepSeek's inference code, vLLM's decode), with kv_up's
 * key half W_UK [H, dn, r] and value half W_UV [H, r, dv] applied per head:
 *
 *   absorb_k      q_C W_UK                        [H, B*N, dn] x [H, dn, r]
 *   scores        [q_C W_UK | q_R] [c_KV | k_R]^T  N queries per head over keys, depth r + dr
 *   weighted_sum  P c_KV                          N x keys by r
 *   absorb_v      (P c_KV) W_UV                   [H, B*N, r] x [H, r, dv]
 *
 * so c = 2 B H (r + dr) + 2 B H r per key, and absorb_k and absorb_v stand in A where kv_up was.
 * The prefill runs the forward pass (the naive form) and caches the latents it made.
 */
import {
  architectureOf,
  type ExpertRouting,
  type MlaArchitecture,
  type ModelConfig,
} from '../../config/model_config.js';
import { matmulFlops, matmulMacs } from '../../core/counting.js';
import { InputError } from '../../core/errors.js';
import { layerIndexOf, path } from '../../core/module_paths.js';
import { forwardMatmulInventory } from '../forward_matmuls.js';
import type { MatmulRow } from '../types.js';
import { cacheHeadDim, cacheWindows } from './kv_cache.js';

/** One decode step: `batch` sequences, each with `cached` positions in the cache and `newTokens` new ones. */
export interface DecodeStep {
  readonly batch: number;
  /** P: positions already cached per sequence (the prompt and the tokens decoded so far). */
  readonly cached: number;
  /** N: new tokens per sequence in this step (1 for plain decoding, more to verify drafted tokens). */
  readonly newTokens: number;
  /** The rows each routed expert got in this step (a traced step's); absent: the documented assignment. */
  readonly routing?: ExpertRouting;
}

/** A prompt of P tokens, then G generated tokens, for B sequences at once. */
export interface GenerationRequest {
  readonly batch: number;
  readonly prompt: number;
  readonly generate: number;
}

/** Keys the N new queries of a step attend over: P + N, or min(P, w - 1) + N with a window w. */
export function attendedKeys(window: number | undefined, cached: number, newTokens: number): number {
  return window === undefined ? cached + newTokens : Math.min(cached, window - 1) + newTokens;
}

function checkStep(config: ModelConfig, step: DecodeStep): void {
  const problems: string[] = [];
  const whole = (value: number, least: number) => Number.isSafeInteger(value) && value >= least;
  if (!whole(step.batch, 1)) problems.push(`decode: batch (${step.batch}) must be a positive integer`);
  if (!whole(step.cached, 0)) problems.push(`decode: cached positions (${step.cached}) must be a whole number`);
  if (!whole(step.newTokens, 1)) problems.push(`decode: new tokens (${step.newTokens}) must be a positive integer`);
  if (problems.length === 0 && step.cached + step.newTokens > config.context_length) {
    problems.push(
      `${config.source}: a decode step at positions ${step.cached} to ${step.cached + step.newTokens - 1} ` +
        `is past context_length (${config.context_length}); raise context_length to at least ${step.cached + step.newTokens}`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
}

/**
 * Every matmul of one decode step, in execution order, with the forward pass's module paths:
 * the forward inventory at seq = N (m = N rows per sequence), the core's key length replaced by
 * the keys each layer attends over.
 */
export function decodeMatmulInventory(
  config: ModelConfig,
  step: DecodeStep,
  windows: readonly (number | undefined)[] = cacheWindows(config),
): MatmulRow[] {
  checkStep(config, step);
  if (windows.length !== config.num_layers) {
    throw new Error(`decode: ${windows.length} windows for ${config.num_layers} layers`);
  }
  const { batch: B, cached: P, newTokens: N } = step;
  const mla = architectureOf(config).mla;
  if (mla !== undefined) return absorbedLatentRows(config, step, mla);
  const kvHeads = architectureOf(config).num_kv_heads === config.num_heads ? 'H' : 'Hkv';
  const rows = forwardMatmulInventory(config, {
    batch: B,
    seq: N,
    ...(step.routing === undefined ? {} : { routing: step.routing }),
  });
  return rows.map((row) => {
    if (row.component !== 'attention_core') return row;
    const layer = layerIndexOf(row.path);
    const window = layer === undefined ? undefined : windows[layer];
    const keys = attendedKeys(window, P, N);
    const keySymbol = window === undefined ? 'P+N' : 'min(P,w-1)+N';
    const over = window === undefined ? `${keySymbol} keys` : `${keySymbol} keys (window w = ${window})`;
    if (row.path === path.scores(layer ?? -1) && row.m === N && row.n === N) {
      return coreRow(
        row,
        `q @ k^T / sqrt(dk): N new queries over ${over}`,
        `[B,H,N,dk] x [B,${kvHeads},dk,${keySymbol}]`,
        N,
        row.k,
        keys,
      );
    }
    if (row.path === path.weightedSum(layer ?? -1) && row.m === N && row.k === N) {
      return coreRow(
        row,
        `P @ v: N new queries over ${over}`,
        `[B,H,N,${keySymbol}] x [B,${kvHeads},${keySymbol},dk]`,
        N,
        keys,
        row.n,
      );
    }
    throw new Error(`decode: no key-length rule for the attention-core matmul ${row.path} (${row.description})`);
  });
}

/**
 * A latent-attention decode step's matmuls (the file comment's absorbed form): the forward rows
 * at seq = N outside the core, with kv_up replaced by absorb_k and the core and absorb_v after it.
 */
function absorbedLatentRows(config: ModelConfig, step: DecodeStep, mla: MlaArchitecture): MatmulRow[] {
  const { batch: B, cached: P, newTokens: N } = step;
  const H = config.num_heads;
  const { kv_lora_rank: r, qk_rope_head_dim: dr, qk_nope_head_dim: dn, v_head_dim: dv } = mla;
  const keys = attendedKeys(undefined, P, N);
  const row = (
    modulePath: string,
    component: MatmulRow['component'],
    description: string,
    symbolicShapes: string,
    batch: readonly number[],
    [m, k, n]: readonly [number, number, number],
  ): MatmulRow => {
    const elements = batch.reduce((total, dim) => total * BigInt(dim), 1n);
    const [bm, bk, bn] = [BigInt(m), BigInt(k), BigInt(n)];
    return {
      path: modulePath,
      component,
      description,
      symbolicShapes,
      batch,
      m,
      k,
      n,
      flops: matmulFlops(elements, bm, bk, bn),
      macs: matmulMacs(elements, bm, bk, bn),
    };
  };
  const run = { batch: B, seq: N, ...(step.routing === undefined ? {} : { routing: step.routing }) };
  return forwardMatmulInventory(config, run).flatMap((forward) => {
    const layer = layerIndexOf(forward.path);
    if (layer === undefined) return [forward];
    if (forward.path === path.latentProjection(layer, 'kv_up')) {
      return [
        row(
          path.latentProjection(layer, 'absorb_k'),
          'latent_projections',
          "q_C @ W_UK (kv_up's key half, per head)",
          '[H,B*N,dn] x [H,dn,r]',
          [H],
          [B * N, dn, r],
        ),
      ];
    }
    if (forward.path === path.scores(layer)) {
      return [
        row(
          path.scores(layer),
          'attention_core',
          '[q_C W_UK | q_R] @ [c_KV | k_R]^T / sqrt(dn + dr): N new queries over P+N cached latents',
          '[B,H,N,r+dr] x [B,1,r+dr,P+N]',
          [B, H],
          [N, r + dr, keys],
        ),
      ];
    }
    if (forward.path === path.weightedSum(layer)) {
      return [
        row(
          path.weightedSum(layer),
          'attention_core',
          'P @ c_KV: N new queries over P+N cached latents',
          '[B,H,N,P+N] x [B,1,P+N,r]',
          [B, H],
          [N, keys, r],
        ),
        row(
          path.latentProjection(layer, 'absorb_v'),
          'latent_projections',
          "(P c_KV) @ W_UV (kv_up's value half, per head)",
          '[H,B*N,r] x [H,r,dv]',
          [H],
          [B * N, r, dv],
        ),
      ];
    }
    return [forward];
  });
}

function coreRow(
  row: MatmulRow,
  description: string,
  symbolicShapes: string,
  m: number,
  k: number,
  n: number,
): MatmulRow {
  const batch = row.batch.reduce((total, dim) => total * BigInt(dim), 1n);
  const [bm, bk, bn] = [BigInt(m), BigInt(k), BigInt(n)];
  return {
    ...row,
    description,
    symbolicShapes,
    m,
    k,
    n,
    flops: matmulFlops(batch, bm, bk, bn),
    macs: matmulMacs(batch, bm, bk, bn),
  };
}

/** Matmul FLOPs of one decode step, all B sequences. */
export function decodeStepFlops(
  config: ModelConfig,
  step: DecodeStep,
  windows: readonly (number | undefined)[] = cacheWindows(config),
): bigint {
  return decodeMatmulInventory(config, step, windows).reduce((total, row) => total + row.flops, 0n);
}

/**
 * Matmul FLOPs to decode one token of `batch` sequences at context t: the new token is the t-th
 * position (t - 1 cached). Per token of one sequence at batch 1.
 */
export function decodeFlopsAtContext(
  config: ModelConfig,
  context: number,
  batch = 1,
  windows: readonly (number | undefined)[] = cacheWindows(config),
): bigint {
  return decodeStepFlops(config, { batch, cached: context - 1, newTokens: 1 }, windows);
}

/** A generation's decode FLOPs, by the closed form in the file comment. */
export interface DecodeGenerationFlops {
  /** G: decode steps, one token per sequence each. */
  readonly steps: number;
  /** Context of the first step (P + 1) and of the last (P + G). */
  readonly firstContext: number;
  readonly lastContext: number;
  /** FLOPs of the first and the last step, all B sequences. */
  readonly firstStep: bigint;
  readonly lastStep: bigint;
  /** A: the FLOPs of a step outside the attention core, the same at every step. */
  readonly perStepOutsideCore: bigint;
  /** c = 4 B H dh (2 B H (2 r + dr) with latent attention): core FLOPs per attended key per layer. */
  readonly corePerKey: bigint;
  /** Sum over layers and steps of the keys attended. */
  readonly keysAttended: bigint;
  /** G A + c x keysAttended. */
  readonly total: bigint;
}

/** sum_{t = first}^{last} min(t, cap), exactly (cap undefined: no cap). */
export function sumOfCappedContexts(first: bigint, last: bigint, cap: bigint | undefined): bigint {
  if (last < first) return 0n;
  const run = (a: bigint, b: bigint) => (b < a ? 0n : ((a + b) * (b - a + 1n)) / 2n);
  if (cap === undefined || last <= cap) return run(first, last);
  if (first > cap) return (last - first + 1n) * cap;
  return run(first, cap) + (last - cap) * cap;
}

function checkGeneration(config: ModelConfig, request: GenerationRequest): void {
  const problems: string[] = [];
  const { batch, prompt, generate } = request;
  for (const [name, value] of Object.entries({ batch, prompt, generate })) {
    if (!Number.isSafeInteger(value) || value < 1)
      problems.push(`generation: ${name} (${value}) must be a positive integer`);
  }
  if (problems.length === 0 && request.prompt + request.generate > config.context_length) {
    problems.push(
      `${config.source}: a prompt of ${request.prompt} and ${request.generate} generated tokens need ` +
        `${request.prompt + request.generate} positions, past context_length (${config.context_length}); ` +
        `raise context_length or shorten them`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
}

/** Decode FLOPs of generating `generate` tokens after a `prompt`-token prefill, by the closed form. */
export function decodeGenerationFlops(
  config: ModelConfig,
  request: GenerationRequest,
  windows: readonly (number | undefined)[] = cacheWindows(config),
): DecodeGenerationFlops {
  checkGeneration(config, request);
  const { batch: B, prompt: P, generate: G } = request;
  const first = decodeMatmulInventory(config, { batch: B, cached: P, newTokens: 1 }, windows);
  const perStepOutsideCore = first
    .filter((row) => row.component !== 'attention_core')
    .reduce((total, row) => total + row.flops, 0n);
  // 2 B H per key for q k^T over the score depth and 2 B H for P v over the value width: dh each,
  // or r + dr and r with latent attention (the absorbed form, over the cached latents).
  const mla = architectureOf(config).mla;
  const depths =
    mla === undefined ? 2n * BigInt(cacheHeadDim(config)) : BigInt(2 * mla.kv_lora_rank + mla.qk_rope_head_dim);
  const corePerKey = 2n * BigInt(B) * BigInt(config.num_heads) * depths;
  const firstContext = BigInt(P) + 1n;
  const lastContext = BigInt(P) + BigInt(G);
  const keysAttended = windows.reduce<bigint>(
    (total, window) =>
      total + sumOfCappedContexts(firstContext, lastContext, window === undefined ? undefined : BigInt(window)),
    0n,
  );
  return {
    steps: G,
    firstContext: P + 1,
    lastContext: P + G,
    firstStep: first.reduce((total, row) => total + row.flops, 0n),
    lastStep: decodeStepFlops(config, { batch: B, cached: P + G - 1, newTokens: 1 }, windows),
    perStepOutsideCore,
    corePerKey,
    keysAttended,
    total: BigInt(G) * perStepOutsideCore + corePerKey * keysAttended,
  };
}

/** The same total as decodeGenerationFlops, step by step from the inventory: its check. */
export function decodeGenerationFlopsByStep(
  config: ModelConfig,
  request: GenerationRequest,
  windows: readonly (number | undefined)[] = cacheWindows(config),
): bigint {
  checkGeneration(config, request);
  let total = 0n;
  for (let j = 1; j <= request.generate; j++) {
    total += decodeStepFlops(config, { batch: request.batch, cached: request.prompt + j - 1, newTokens: 1 }, windows);
  }
  return total;
}
