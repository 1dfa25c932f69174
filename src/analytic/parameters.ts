import { product, sum } from '../core/counting.js';
import { architectureOf, type Architecture, type ModelConfig } from '../config/model_config.js';
import {
  ATTENTION_PROJECTIONS,
  PARAMETER_COMPONENTS,
  layerIndexOf,
  parameterComponentOf,
  path,
  type AttentionProjection,
  type FfnMatrix,
  type ParameterComponent,
} from '../core/module_paths.js';
import type { ParameterRow } from './types.js';

function row(modulePath: string, name: string, shape: readonly number[]): ParameterRow {
  return { path: modulePath, name, shape, count: product(shape) };
}

/** A linear layer's weight [d_in, d_out] and, when the architecture has biases, its bias [d_out]. */
function linearRows(modulePath: string, dIn: number, dOut: number, architecture: Architecture): ParameterRow[] {
  const rows = [row(modulePath, 'weight', [dIn, dOut])];
  if (architecture.bias) rows.push(row(modulePath, 'bias', [dOut]));
  return rows;
}

/** A norm's gain [d] and, for LayerNorm, its bias [d]; RMSNorm has a gain only. */
function normRows(modulePath: string, d: number, architecture: Architecture): ParameterRow[] {
  const rows = [row(modulePath, 'gain', [d])];
  if (architecture.norm === 'layernorm') rows.push(row(modulePath, 'bias', [d]));
  return rows;
}

/** The FFN's matrices in model order: swiglu has w1, w2, w3; the GELU MLP has w1 and w2 only. */
function ffnMatricesOf(config: ModelConfig): readonly FfnMatrix[] {
  return architectureOf(config).ffn === 'swiglu' ? ['w1', 'w2', 'w3'] : ['w1', 'w2'];
}

/**
 * Every weight tensor in model order, as a data table (one shape per row) so it can be printed,
 * summed and diffed. Written from the architecture (architectureOf), not from the model's code:
 *
 *   token_embeddings      weight [Vp, d]          Vp = vocab_size padded to vocab_multiple
 *   position_embeddings   weight [ctx, d]         learned positions only (RoPE has no parameters)
 *   per layer:
 *     ln1                 gain [d] (+ bias [d] for LayerNorm)
 *     attn.q_proj         weight [d, d]     (+ bias [d])
 *     attn.k_proj         weight [d, dkv]   (+ bias [dkv])   dkv = num_kv_heads * dk
 *     attn.v_proj         weight [d, dkv]   (+ bias [dkv])
 *     attn.output_proj    weight [d, d]     (+ bias [d])
 *     ln2                 as ln1
 *     ffn.w1              weight [d, F]     (+ bias [F])
 *     ffn.w2              weight [F, d]     (+ bias [d])
 *     ffn.w3              weight [d, F]     (+ bias [F])     swiglu only
 *   ln_final              as ln1
 *   lm_head               weight [d, Vp], never a bias; absent when tied (it reuses token_embeddings)
 *
 * Matrices are stored [d_in, d_out] and applied as x W (the transpose of the course's
 * W[d_out, d_in]; the same count). Biases (the "bias" option) sit on every linear layer but lm_head.
 */
export function parameterInventory(config: ModelConfig): ParameterRow[] {
  const architecture = architectureOf(config);
  const { num_layers: L, d_model: d, d_ff: F } = config;
  const { padded_vocab_size: Vp, kv_dim: dkv } = architecture;
  const projectionShapes: Record<AttentionProjection, readonly [number, number]> = {
    q_proj: [d, d],
    k_proj: [d, dkv],
    v_proj: [d, dkv],
    output_proj: [d, d],
  };
  const ffnShapes: Record<FfnMatrix, readonly [number, number]> = {
    w1: [d, F], // d -> F
    w2: [F, d], // F -> d
    w3: [d, F], // d -> F
  };
  const rows: ParameterRow[] = [row(path.tokenEmbeddings, 'weight', [Vp, d])];
  if (architecture.positions === 'learned') {
    rows.push(row(path.positionEmbeddings, 'weight', [config.context_length, d]));
  }
  for (let i = 0; i < L; i++) {
    rows.push(...normRows(path.ln1(i), d, architecture));
    for (const projection of ATTENTION_PROJECTIONS) {
      const [dIn, dOut] = projectionShapes[projection];
      rows.push(...linearRows(path.attnProjection(i, projection), dIn, dOut, architecture));
    }
    rows.push(...normRows(path.ln2(i), d, architecture));
    for (const matrix of ffnMatricesOf(config)) {
      const [dIn, dOut] = ffnShapes[matrix];
      rows.push(...linearRows(path.ffnMatrix(i, matrix), dIn, dOut, architecture));
    }
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
