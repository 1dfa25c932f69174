import { product, sum } from '../core/counting.js';
import {
  architectureOf,
  isMoeLayer,
  type Architecture,
  type MlaArchitecture,
  type ModelConfig,
  type MoeArchitecture,
} from '../config/model_config.js';
import {
  PARAMETER_COMPONENTS,
  expertIndexOf,
  layerIndexOf,
  parameterComponentOf,
  path,
  type ParameterComponent,
} from '../core/module_paths.js';
import type { ParameterRow } from './types.js';

function row(modulePath: string, name: string, shape: readonly number[]): ParameterRow {
  return { path: modulePath, name, shape, count: product(shape) };
}

/** A linear layer's weight [d_in, d_out] and, when `biased`, its bias [d_out]. */
function linearRows(modulePath: string, dIn: number, dOut: number, biased: boolean): ParameterRow[] {
  const rows = [row(modulePath, 'weight', [dIn, dOut])];
  if (biased) rows.push(row(modulePath, 'bias', [dOut]));
  return rows;
}

/** A norm's gain [d] and, for LayerNorm, its bias [d]; RMSNorm has a gain only. */
function normRows(modulePath: string, d: number, architecture: Architecture): ParameterRow[] {
  const rows = [row(modulePath, 'gain', [d])];
  if (architecture.norm === 'layernorm') rows.push(row(modulePath, 'bias', [d]));
  return rows;
}

/**
 * Every weight tensor in model order, as a data table (one shape per row) so it can be printed,
 * summed and diffed. Written from the architecture (architectureOf), not from the model's code:
 *
 *   token_embeddings      weight [Vp, d]          Vp = vocab_size padded to vocab_multiple
 *   position_embeddings   weight [ctx, d]         learned positions only (RoPE has no parameters)
 *   per layer:
 *     ln1                 gain [d] (+ bias [d] for LayerNorm)
 *     attn.q_proj         weight [d, dq]    (+ bias [dq])    dq = H * dh (d unless head_dim is its own)
 *     attn.k_proj         weight [d, dkv]   (+ bias [dkv])   dkv = Hkv * dh
 *     attn.v_proj         weight [d, dkv]   (+ bias [dkv])   (q, k, v biases: qkv_bias)
 *       or, fused: attn.qkv_proj  weight [d, dq + 2 dkv]  (+ bias [dq + 2 dkv])
 *     attn.q_norm         gain [dh] (+ bias [dh])          qk_norm: one vector shared by all heads
 *     attn.k_norm         as q_norm
 *     attn.output_proj    weight [dq, d]    (+ bias [d]: output_bias)
 *     post_attn_norm      as ln1                           post_norms only
 *     ln2                 as ln1
 *     ffn.w1              weight [d, F]     (+ bias [F])   (FFN biases: mlp_bias)
 *     ffn.w2              weight [F, d]     (+ bias [d])
 *     ffn.w3              weight [d, F]     (+ bias [F])   gated FFNs (swiglu, geglu) only
 *       or, fused: ffn.gate_up_proj  weight [d, 2F] (+ bias [2F]), then ffn.w2
 *     post_ffn_norm       as ln1                           post_norms only
 *   with latent attention (config/latent_attention.ts), in place of q_proj, k_proj and v_proj:
 *     attn.q_down         weight [d, rq]                   rq = q_lora_rank
 *     attn.q_latent_norm  as ln1 over rq
 *     attn.q_up           weight [rq, H (dn + dr)]
 *       or, without q_lora_rank: attn.q_proj  weight [d, H (dn + dr)]
 *     attn.kv_down        weight [d, r + dr]               r = kv_lora_rank
 *     attn.kv_latent_norm as ln1 over r
 *     attn.kv_up          weight [r, H (dn + dv)]
 *     attn.output_proj    weight [H dv, d]
 *   in a MoE layer (config/moe.ts), in place of ffn:
 *     moe.router          weight [d, E]     (+ bias [E]: router_bias; + score_bias [E]: router_score_bias)
 *     moe.experts.{e}.w1, w2, w3   as ffn with F = expert_d_ff, for e < E
 *     moe.shared.w1, w2, w3        as ffn with F = shared_d_ff    shared expert only
 *     moe.shared_gate     weight [d, 1]                    shared_expert_gate only
 *   ln_final              as ln1
 *   lm_head               weight [d, Vp], never a bias; absent when tied (it reuses token_embeddings)
 *
 * Matrices are stored [d_in, d_out] and applied as x W (the transpose of the course's
 * W[d_out, d_in]; the same count). A fused projection holds exactly the elements of the ones it
 * joins, so only the rows differ. A zero-centred gain (Gemma's 1 + w) is still one vector.
 */
export function parameterInventory(config: ModelConfig): ParameterRow[] {
  const architecture = architectureOf(config);
  const { num_layers: L, d_model: d, d_ff: F } = config;
  const { padded_vocab_size: Vp, q_dim: dq, kv_dim: dkv, head_dim: dh } = architecture;
  const { qkv_bias, output_bias, mlp_bias } = architecture;
  const rows: ParameterRow[] = [row(path.tokenEmbeddings, 'weight', [Vp, d])];
  if (architecture.positions === 'learned') {
    rows.push(row(path.positionEmbeddings, 'weight', [config.context_length, d]));
  }
  for (let i = 0; i < L; i++) {
    rows.push(...normRows(path.ln1(i), d, architecture));
    if (architecture.mla !== undefined) {
      rows.push(...latentAttentionRows(i, config, architecture, architecture.mla));
      if (architecture.post_norms) rows.push(...normRows(path.postAttnNorm(i), d, architecture));
      rows.push(...normRows(path.ln2(i), d, architecture));
      rows.push(...ffnOrMoeRows(i, config, architecture));
      if (architecture.post_norms) rows.push(...normRows(path.postFfnNorm(i), d, architecture));
      continue;
    }
    if (architecture.fused_qkv) rows.push(...linearRows(path.qkvProj(i), d, dq + 2 * dkv, qkv_bias));
    else {
      rows.push(
        ...linearRows(path.attnProjection(i, 'q_proj'), d, dq, qkv_bias),
        ...linearRows(path.attnProjection(i, 'k_proj'), d, dkv, qkv_bias),
        ...linearRows(path.attnProjection(i, 'v_proj'), d, dkv, qkv_bias),
      );
    }
    if (architecture.qk_norm)
      rows.push(...normRows(path.qNorm(i), dh, architecture), ...normRows(path.kNorm(i), dh, architecture));
    rows.push(...linearRows(path.attnProjection(i, 'output_proj'), dq, d, output_bias));
    if (architecture.post_norms) rows.push(...normRows(path.postAttnNorm(i), d, architecture));
    rows.push(...normRows(path.ln2(i), d, architecture));
    if (architecture.moe !== undefined && isMoeLayer(architecture, i)) {
      // One row per expert matrix: a spread of that many arguments can overflow the stack.
      for (const expertRow of moeRows(i, d, architecture, architecture.moe)) rows.push(expertRow);
    } else if (architecture.fused_gate_up) {
      rows.push(
        ...linearRows(path.gateUpProj(i), d, 2 * F, mlp_bias), // d -> [gate | up], 2F
        ...linearRows(path.ffnMatrix(i, 'w2'), F, d, mlp_bias),
      );
    } else {
      rows.push(
        ...linearRows(path.ffnMatrix(i, 'w1'), d, F, mlp_bias),
        ...linearRows(path.ffnMatrix(i, 'w2'), F, d, mlp_bias),
      );
      if (architecture.gated_ffn) rows.push(...linearRows(path.ffnMatrix(i, 'w3'), d, F, mlp_bias));
    }
    if (architecture.post_norms) rows.push(...normRows(path.postFfnNorm(i), d, architecture));
  }
  rows.push(...normRows(path.lnFinal, d, architecture));
  if (!architecture.tie_embeddings) rows.push(row(path.lmHead, 'weight', [d, Vp])); // d -> Vp
  return rows;
}

/**
 * A latent-attention layer's projections and latent norms (config/latent_attention.ts). None has
 * a bias: validation refuses biases with latent attention.
 */
function latentAttentionRows(
  i: number,
  config: ModelConfig,
  architecture: Architecture,
  mla: MlaArchitecture,
): ParameterRow[] {
  const { d_model: d, num_heads: H } = config;
  const rows: ParameterRow[] = [];
  if (mla.q_lora_rank === undefined) {
    rows.push(...linearRows(path.attnProjection(i, 'q_proj'), d, H * mla.qk_head_dim, false)); // d -> H (dn + dr)
  } else {
    rows.push(
      ...linearRows(path.latentProjection(i, 'q_down'), d, mla.q_lora_rank, false), // d -> rq
      ...normRows(path.qLatentNorm(i), mla.q_lora_rank, architecture),
      ...linearRows(path.latentProjection(i, 'q_up'), mla.q_lora_rank, H * mla.qk_head_dim, false), // rq -> H (dn + dr)
    );
  }
  rows.push(
    ...linearRows(path.latentProjection(i, 'kv_down'), d, mla.kv_lora_rank + mla.qk_rope_head_dim, false), // d -> r + dr
    ...normRows(path.kvLatentNorm(i), mla.kv_lora_rank, architecture),
    // r -> H (dn + dv)
    ...linearRows(
      path.latentProjection(i, 'kv_up'),
      mla.kv_lora_rank,
      H * (mla.qk_nope_head_dim + mla.v_head_dim),
      false,
    ),
    ...linearRows(path.attnProjection(i, 'output_proj'), H * mla.v_head_dim, d, false), // H dv -> d
  );
  return rows;
}

/** Layer i's FFN: a MoE layer's router and experts, or the dense FFN (fused or not). */
function ffnOrMoeRows(i: number, config: ModelConfig, architecture: Architecture): ParameterRow[] {
  const { d_model: d, d_ff: F } = config;
  if (architecture.moe !== undefined && isMoeLayer(architecture, i))
    return moeRows(i, d, architecture, architecture.moe);
  if (architecture.fused_gate_up) {
    return [
      ...linearRows(path.gateUpProj(i), d, 2 * F, architecture.mlp_bias), // d -> [gate | up], 2F
      ...linearRows(path.ffnMatrix(i, 'w2'), F, d, architecture.mlp_bias),
    ];
  }
  return ffnRows((name) => path.ffnMatrix(i, name), d, F, architecture);
}

/** The matrices of one unfused FFN of width `F` at `matrix(name)`: w1, w2, and w3 when gated. */
function ffnRows(
  matrix: (name: 'w1' | 'w2' | 'w3') => string,
  d: number,
  F: number,
  architecture: Architecture,
): ParameterRow[] {
  const rows = [
    ...linearRows(matrix('w1'), d, F, architecture.mlp_bias),
    ...linearRows(matrix('w2'), F, d, architecture.mlp_bias),
  ];
  if (architecture.gated_ffn) rows.push(...linearRows(matrix('w3'), d, F, architecture.mlp_bias));
  return rows;
}

/**
 * A MoE layer's FFN: the router [d, E] (+ bias [E]), E routed experts of width Fe, then the
 * shared expert of width Fs and its gate [d, 1] when the config has them. Each expert is an FFN
 * of the config's kind (mlp_bias applies to it as to the dense FFN).
 */
function moeRows(i: number, d: number, architecture: Architecture, moe: MoeArchitecture): ParameterRow[] {
  const rows = linearRows(path.router(i), d, moe.num_experts, moe.router_bias); // d -> E
  if (moe.router_score_bias) rows.push(row(path.router(i), 'score_bias', [moe.num_experts]));
  for (let e = 0; e < moe.num_experts; e++) {
    rows.push(...ffnRows((name) => path.expertMatrix(i, e, name), d, moe.expert_d_ff, architecture));
  }
  if (moe.shared_d_ff !== undefined) {
    rows.push(...ffnRows((name) => path.sharedMatrix(i, name), d, moe.shared_d_ff, architecture));
    if (moe.shared_expert_gate) rows.push(...linearRows(path.sharedGate(i), d, 1, false)); // d -> 1
  }
  return rows;
}

export interface ParameterSummary {
  total: bigint;
  /**
   * By component. With tied embeddings the one shared table is counted once, under
   * token_embeddings, and lm_head is 0n (see `notes`).
   */
  byComponent: Record<ParameterComponent, bigint>;
  /** Parameters of one transformer block: layer 0's (every block has its shape unless `layerShapes` says otherwise). */
  perLayer: bigint;
  /**
   * Parameters a token's forward pass uses: the total less, in every MoE layer, the E - k routed
   * experts it does not visit. Includes the embedding table (one row of it is read per token, but
   * the whole table is counted, as Mixtral's "13B active" and Qwen's "3.3B activated" count it)
   * and lm_head. Equal to `total` for a dense model.
   */
  active: bigint;
  /** `active` less the embedding tables, as nonEmbedding is total less them. */
  activeNonEmbedding: bigint;
  /** The distinct block sizes when the blocks differ (dense and MoE layers), in layer order: [size, layer count]. */
  layerShapes: readonly (readonly [parameters: bigint, layers: number])[];
  /**
   * Total minus the embedding tables (token_embeddings and, with learned positions,
   * position_embeddings). An untied lm_head is kept: Kaplan et al.'s N excludes only the
   * embeddings, and an untied lm_head is a matrix of its own. A tied table is excluded once,
   * as an embedding, so a tied model's non-embedding count holds no logits matrix at all.
   */
  nonEmbedding: bigint;
  /** lm_head reuses token_embeddings (one table, one count). */
  tiedEmbeddings: boolean;
  /** What a reader needs to know to read the counts: the shared table, vocab padding. Empty for the seed's model. */
  notes: string[];
  rows: ParameterRow[];
}

function summaryNotes(config: ModelConfig, architecture: Architecture): string[] {
  const notes: string[] = [];
  const { padded_vocab_size: Vp } = architecture;
  if (architecture.tie_embeddings) {
    notes.push(
      `token_embeddings [${Vp}, ${config.d_model}] is also lm_head's weight (tied: logits = x @ E^T); ` +
        'the shared table is counted once, under token_embeddings, and lm_head has no parameters of its own',
    );
  }
  if (Vp !== config.vocab_size) {
    notes.push(
      `the vocabulary (${config.vocab_size}) is padded to ${Vp} (a multiple of ${architecture.vocab_multiple}): ` +
        `token_embeddings${architecture.tie_embeddings ? '' : ' and lm_head'} hold ${Vp - config.vocab_size} padding ` +
        `row(s) of ${config.d_model}, counted because they are allocated and trained`,
    );
  }
  return notes;
}

/**
 * The routed-expert parameters a token does not visit: (E - k) experts' worth per MoE layer. All
 * experts of a layer have the same shape, so expert 0's size stands for each.
 */
function unvisitedExpertParameters(rows: readonly ParameterRow[], architecture: Architecture): bigint {
  const moe = architecture.moe;
  if (moe === undefined) return 0n;
  const skipped = BigInt(moe.num_experts - moe.experts_per_token);
  const expertZero = sum(rows.filter((r) => expertIndexOf(r.path) === 0).map((r) => r.count));
  return skipped * expertZero;
}

function layerShapes(rows: readonly ParameterRow[], numLayers: number): [bigint, number][] {
  const sizes = Array.from({ length: numLayers }, () => 0n);
  for (const r of rows) {
    const i = layerIndexOf(r.path);
    if (i !== undefined) sizes[i] = (sizes[i] ?? 0n) + r.count;
  }
  const shapes: [bigint, number][] = [];
  for (const size of sizes) {
    const known = shapes.find(([s]) => s === size);
    if (known !== undefined) known[1] += 1;
    else shapes.push([size, 1]);
  }
  return shapes;
}

export function summarizeParameters(config: ModelConfig): ParameterSummary {
  const architecture = architectureOf(config);
  const rows = parameterInventory(config);
  const byComponent = Object.fromEntries(PARAMETER_COMPONENTS.map((c) => [c, 0n])) as Record<
    ParameterComponent,
    bigint
  >;
  for (const r of rows) {
    const component = parameterComponentOf(r.path);
    if (component === undefined) throw new Error(`parameters: ${r.path} belongs to no component`);
    byComponent[component] += r.count;
  }
  const total = sum(rows.map((r) => r.count));
  const embeddings = byComponent.token_embeddings + byComponent.position_embeddings;
  const active = total - unvisitedExpertParameters(rows, architecture);
  return {
    total,
    byComponent,
    perLayer: sum(rows.filter((r) => layerIndexOf(r.path) === 0).map((r) => r.count)),
    active,
    activeNonEmbedding: active - embeddings,
    layerShapes: layerShapes(rows, config.num_layers),
    nonEmbedding: total - embeddings,
    tiedEmbeddings: architecture.tie_embeddings,
    notes: summaryNotes(config, architecture),
    rows,
  };
}
