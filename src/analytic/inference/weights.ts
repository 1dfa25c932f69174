/**
 * The weights at inference: their bytes in a storage format, and the bytes one decode step reads.
 *
 * - fp32, fp16, bf16: every parameter at that width.
 * - fp8, int8, int4: the linear layers inside the blocks (q, k, v or qkv, output, the FFN
 *   matrices) in the format, groups running along d_in; the embeddings, lm_head, norms and biases
 *   in bf16 (formats.ts says why, with the sources).
 * - A decode step reads every weight once for all B sequences (the roofline's "reads its inputs
 *   once", src/analytic/bytes.ts), except the token embedding table, of which the lookup reads
 *   the B x N rows it gathers (and a tied lm_head reads the whole table besides), and a learned
 *   position table, of which it reads the N rows at the new positions.
 */
import { architectureOf, type ModelConfig } from '../../config/model_config.js';
import { matmulComponentOf, path } from '../../core/module_paths.js';
import { parameterInventory } from '../parameters.js';
import type { ParameterRow } from '../types.js';
import { isQuantized, rowBytes, tensorScaleBytes, type InferenceDtype, type StorageFormat } from './formats.js';

/** The 16-bit dtype the weights a quantised format leaves alone are kept in. */
const KEPT_DTYPE: InferenceDtype = 'bf16';
const KEPT_BYTES = 2n;

export interface WeightBytesRow extends ParameterRow {
  readonly quantized: boolean;
  readonly bytes: bigint;
}

export interface WeightBytes {
  readonly format: StorageFormat;
  /** The dtype of the weights the format does not quantise (the format's own for fp32, fp16, bf16). */
  readonly keptDtype: InferenceDtype;
  readonly total: bigint;
  readonly quantized: { readonly parameters: bigint; readonly bytes: bigint };
  readonly kept: { readonly parameters: bigint; readonly bytes: bigint };
  readonly rows: readonly WeightBytesRow[];
}

/** Whether a quantised format quantises this parameter: a weight matrix of a projection or of the FFN. */
function isQuantizedLinear(row: ParameterRow): boolean {
  const component = matmulComponentOf(row.path);
  return row.name === 'weight' && (component === 'attention_projections' || component === 'ffn');
}

/** Bytes of every weight of `config` stored in `format`. */
export function weightBytes(config: ModelConfig, format: StorageFormat): WeightBytes {
  const quantizing = isQuantized(format);
  const keptWidth = quantizing ? KEPT_BYTES : format.valueBits / 8n;
  const rows = parameterInventory(config).map((row): WeightBytesRow => {
    if (!quantizing || !isQuantizedLinear(row)) return { ...row, quantized: false, bytes: row.count * keptWidth };
    const [dIn, dOut] = row.shape;
    if (dIn === undefined || dOut === undefined || row.shape.length !== 2) {
      throw new Error(`weights: ${row.path}.${row.name} [${row.shape.join(', ')}] is not a matrix`);
    }
    // Stored [d_in, d_out]: d_out columns of d_in values, grouped along d_in.
    return { ...row, quantized: true, bytes: BigInt(dOut) * rowBytes(dIn, format) + tensorScaleBytes(format) };
  });
  const part = (quantized: boolean) => {
    const chosen = rows.filter((row) => row.quantized === quantized);
    return {
      parameters: chosen.reduce((total, row) => total + row.count, 0n),
      bytes: chosen.reduce((total, row) => total + row.bytes, 0n),
    };
  };
  const quantized = part(true);
  const kept = part(false);
  return {
    format,
    keptDtype: quantizing ? KEPT_DTYPE : format.dtype,
    total: quantized.bytes + kept.bytes,
    quantized,
    kept,
    rows,
  };
}

/** The weight bytes one decode step of `newTokens` tokens for `batch` sequences reads. */
export function weightBytesReadPerStep(
  config: ModelConfig,
  weights: WeightBytes,
  batch: number,
  newTokens = 1,
): bigint {
  const tied = architectureOf(config).tie_embeddings;
  const perRowOf = (row: WeightBytesRow) => row.bytes / BigInt(row.shape[0] ?? 1);
  let total = 0n;
  for (const row of weights.rows) {
    if (row.path === path.tokenEmbeddings) {
      // The lookup gathers B x N rows of [Vp, d]; a tied lm_head then multiplies by the whole table.
      total += BigInt(batch) * BigInt(newTokens) * perRowOf(row) + (tied ? row.bytes : 0n);
    } else if (row.path === path.positionEmbeddings) {
      total += BigInt(newTokens) * perRowOf(row); // the N rows at the new positions of [ctx, d]
    } else {
      total += row.bytes;
    }
  }
  return total;
}
