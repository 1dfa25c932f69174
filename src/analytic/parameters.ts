import { product, sum } from '../core/counting.js';
import { architectureOf, type Architecture, type ModelConfig } from '../config/model_config.js';
import {
  PARAMETER_COMPONENTS,
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
    if (architecture.fused_gate_up) {
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

export interface ParameterSummary {
  total: bigint;
  /**
   * By component. With tied embeddings the one shared table is counted once, under
   * token_embeddings, and lm_head is 0n (see `notes`).
   */
  byComponent: Record<ParameterComponent, bigint>;
  /** Parameters of one transformer block (every block has the same shape). */
  perLayer: bigint;
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
  return {
    total,
    byComponent,
    perLayer: sum(rows.filter((r) => layerIndexOf(r.path) === 0).map((r) => r.count)),
    nonEmbedding: total - byComponent.token_embeddings - byComponent.position_embeddings,
    tiedEmbeddings: architecture.tie_embeddings,
    notes: summaryNotes(config, architecture),
    rows,
  };
}
