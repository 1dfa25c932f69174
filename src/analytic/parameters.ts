import { product, sum } from '../counting.js';
import type { ModelConfig } from '../config/model_config.js';
import {
  ATTENTION_PROJECTIONS,
  FFN_MATRICES,
  PARAMETER_COMPONENTS,
  layerIndexOf,
  parameterComponentOf,
  path,
  type ParameterComponent,
} from '../module_paths.js';
import type { ParameterRow } from './types.js';

function row(modulePath: string, name: string, shape: readonly number[]): ParameterRow {
  return { path: modulePath, name, shape, count: product(shape) };
}

/**
 * Every weight tensor in model order, as a data table (one shape per row) so it can be printed,
 * summed and diffed. Matrices are stored [d_in, d_out] and applied as x W (the transpose of the
 * course's W[d_out, d_in]; the same count); there are no biases and RoPE has no
 * parameters, so nothing here depends on the context length.
 */
export function parameterInventory(config: ModelConfig): ParameterRow[] {
  const { vocab_size: V, num_layers: L, d_model: d, d_ff: F } = config;
  const ffnShapes: Record<(typeof FFN_MATRICES)[number], readonly number[]> = {
    w1: [d, F], // d -> F
    w2: [F, d], // F -> d
    w3: [d, F], // d -> F
  };
  const rows: ParameterRow[] = [row(path.tokenEmbeddings, 'weight', [V, d])];
  for (let i = 0; i < L; i++) {
    rows.push(row(path.ln1(i), 'gain', [d]));
    for (const projection of ATTENTION_PROJECTIONS) {
      rows.push(row(path.attnProjection(i, projection), 'weight', [d, d]));
    }
    rows.push(row(path.ln2(i), 'gain', [d]));
    for (const matrix of FFN_MATRICES) {
      rows.push(row(path.ffnMatrix(i, matrix), 'weight', ffnShapes[matrix]));
    }
  }
  rows.push(row(path.lnFinal, 'gain', [d]));
  rows.push(row(path.lmHead, 'weight', [d, V])); // d -> V, untied from token_embeddings
  return rows;
}

export interface ParameterSummary {
  total: bigint;
  byComponent: Record<ParameterComponent, bigint>;
  /** Parameters of one transformer block (every block has the same shape). */
  perLayer: bigint;
  /**
   * Total minus token_embeddings. lm_head is kept: Kaplan et al.'s N excludes only the
   * embedding lookups, and an untied lm_head is a real matmul.
   */
  nonEmbedding: bigint;
  rows: ParameterRow[];
}

export function summarizeParameters(config: ModelConfig): ParameterSummary {
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
    nonEmbedding: total - byComponent.token_embeddings,
    rows,
  };
}
