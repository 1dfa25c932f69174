/**
 * One serving scenario, analytically: prefill and decode FLOPs, the KV cache and the weights in
 * their formats, the bytes a decode step reads, and what fits in a memory budget. Every figure is
 * formatted here from an exact value (src/analytic/inference/estimate.ts).
 */
import { MATMUL_COMPONENTS, ratio } from '../analytic/index.js';
import {
  cachedRows,
  layerBytesPerPosition,
  positionsHeld,
  type DecodeStepCost,
  type InferenceEstimate,
  type StorageFormat,
} from '../analytic/inference/index.js';
import type { MatmulRow } from '../analytic/types.js';
import { modelLabel } from '../config/model_config.js';
import type { Rational } from '../core/exact.js';
import { formatBytesBinary, formatBytesSi, formatFlops, groupDigits } from '../core/format.js';
import {
  cellText,
  fixed,
  heading,
  list,
  paragraph,
  tableBlock,
  type Block,
  type Cell,
  type Depth,
  type Report,
  type Table,
} from '../render/table.js';
import { numericShapes } from './flops_report.js';
import { configJson, dimensionsLabel, matmulComponentLabels } from './labels.js';

/** A flag's value and whether the user gave it or the default stands. */
export interface Given<T> {
  readonly value: T;
  readonly isDefault: boolean;
}

export interface InferReportInput {
  readonly estimate: InferenceEstimate;
  readonly depth: Depth;
  readonly memoryBudget: Given<bigint>;
}

const n = (value: number | bigint) => groupDigits(BigInt(value));
/** "1 sequence", "2 sequences". */
const sequences = (count: number) => `${n(count)} ${count === 1 ? 'sequence' : 'sequences'}`;
const bytesText = (bytes: bigint) =>
  bytes < 1000n ? `${n(bytes)} B` : `${formatBytesSi(bytes)} = ${formatBytesBinary(bytes)}`;
const perByte = (value: Rational): Cell => fixed(value.numerator, value.denominator, 2);

const DECODE_CONVENTIONS =
  'Decode: a generation of G tokens is G steps of one token per sequence; step j feeds the j-th generated token ' +
  "(the first sampled from the prefill's last logits) at context P + j, so the cache ends at P + G positions. " +
  'A step is the forward pass over its new tokens (one row per sequence, m = 1) whose attention core runs q k^T and P v ' +
  'over every key it attends: P + j, or min(P + j, w) in a layer with a sliding window w. ' +
  'FLOPs are matmul FLOPs (2 m k n); norms, softmax, RoPE and activations are apart, as in `flops`.';

const BYTES_CONVENTIONS =
  'Bytes read per decode step: every weight once for all B sequences (the embedding table only for the rows the ' +
  "lookup gathers), plus each sequence's cache rows for every key attended, its own new key and value included. " +
  'Activations are not counted. FLOPs per byte = step FLOPs / bytes read. Memory = weights + caches; activations, ' +
  'workspace and fragmentation come on top.';

const CACHE_CONVENTIONS =
  'KV cache: K and V for each key/value head (grouped-query heads share them: Hkv, not H), head_dim values each ' +
  "(the config's head_dim, else d / H); a layer with a sliding window w holds at most w positions.";

function formatConvention(label: string, format: StorageFormat, quantizes: boolean): string {
  const which = quantizes
    ? ' The linear layers inside the blocks (q, k, v, output, FFN) take it; embeddings, lm_head, norms and biases stay bf16.'
    : '';
  return `${label}: ${format.convention}.${which}`;
}

export function inferReport(input: InferReportInput): Report<InferData> {
  const { estimate, depth } = input;
  const { config, request } = estimate;
  const blocks: Block[] = [
    heading(
      `Inference of ${modelLabel(config)}: ${n(request.batch)} x (${n(request.prompt)}-token prompt + ${n(request.generate)} generated tokens)`,
    ),
    paragraph(`${dimensionsLabel(config)}; from ${config.source}.`),
    tableBlock(summaryTable(input)),
    list(assumptionLines(input)),
  ];
  if (depth >= 1) {
    blocks.push(
      tableBlock(decodeComponentTable(estimate)),
      tableBlock(stepBytesTable(estimate)),
      tableBlock(cacheTable(estimate)),
      tableBlock(weightTable(estimate)),
      paragraph(fitSentences(input)),
    );
  }
  if (depth >= 2) blocks.push(tableBlock(cacheLayerTable(estimate)));
  if (depth >= 3) blocks.push(tableBlock(stepRowTable(estimate.lastStepRows, estimate.lastStep.context)));
  blocks.push(paragraph(DECODE_CONVENTIONS), paragraph(CACHE_CONVENTIONS), paragraph(BYTES_CONVENTIONS));
  return { blocks, json: inferData(input) };
}

function summaryTable({ estimate, memoryBudget }: InferReportInput): Table {
  const { request, prefill, decode, firstStep, lastStep, kvCache, served } = estimate;
  const B = request.batch;
  const flopsRow = (label: Cell, flops: bigint): Cell[] => [label, flops, formatFlops(flops)];
  const bytesRow = (label: Cell, bytes: bigint): Cell[] => [label, bytes, bytesText(bytes)];
  const budget = formatBytesSi(memoryBudget.value);
  return {
    columns: [{ header: 'quantity' }, { header: 'exact', align: 'right' }, { header: 'approx', align: 'right' }],
    rows: [
      flopsRow(cellText`prefill FLOPs, ${B} x ${request.prompt} tokens, logits at every position`, prefill.allLogits),
      flopsRow('prefill FLOPs, logits at the last position only', prefill.lastLogits),
      flopsRow(cellText`decode FLOPs per token, first step (context ${firstStep.context})`, firstStep.flopsPerToken),
      flopsRow(cellText`decode FLOPs per token, last step (context ${lastStep.context})`, lastStep.flopsPerToken),
      flopsRow(cellText`decode FLOPs, ${decode.steps} steps x ${sequences(B)}`, decode.total),
      flopsRow('prefill (last logits) + decode', estimate.generationFlops),
      bytesRow(
        cellText`KV cache per token (${served.kvFormat.dtype}, ${served.cacheLayers.length} layers)`,
        kvCache.perToken,
      ),
      bytesRow(cellText`KV cache per sequence at ${lastStep.context} tokens`, kvCache.perSequenceAtEnd),
      bytesRow(cellText`KV cache of ${sequences(B)} at ${lastStep.context} tokens`, kvCache.batchAtEnd),
      bytesRow(cellText`weights (${weightsLabel(estimate)})`, served.weights.total),
      bytesRow(cellText`bytes read per decode step, first (${sequences(B)})`, firstStep.bytes.read),
      bytesRow(cellText`bytes read per decode step, last (${sequences(B)})`, lastStep.bytes.read),
      ['FLOPs per byte read, first step', perByte(firstStep.flopsPerByte), ''],
      ['FLOPs per byte read, last step', perByte(lastStep.flopsPerByte), ''],
      bytesRow(cellText`memory: weights + KV cache at ${lastStep.context} tokens`, estimate.memoryAtEnd),
      [cellText`largest batch at ${lastStep.context} tokens in ${budget}`, batchCell(estimate), ''],
      [cellText`longest context at batch ${B} in ${budget}`, contextCell(estimate), ''],
    ],
  };
}

function weightsLabel({ served }: InferenceEstimate): string {
  const { format, keptDtype } = served.weights;
  return format.dtype === keptDtype ? format.dtype : `${format.dtype} linear layers, ${keptDtype} the rest`;
}

function batchCell({ largestBatch }: InferenceEstimate): Cell {
  return 'reason' in largestBatch ? 'none fits' : BigInt(largestBatch.batch);
}

function contextCell({ largestContext, config }: InferenceEstimate): Cell {
  if ('reason' in largestContext) return 'none fits';
  return largestContext.limitedBy === 'context'
    ? cellText`${largestContext.context} (all of ctx ${config.context_length})`
    : BigInt(largestContext.context);
}

function assumptionLines({ estimate, memoryBudget }: InferReportInput): string[] {
  const { served } = estimate;
  const quantizes = served.weights.format.dtype !== served.weights.keptDtype;
  return [
    `memory ${formatBytesSi(memoryBudget.value)} = ${n(memoryBudget.value)} bytes (GB = 10^9 bytes, GiB = 2^30): ` +
      (memoryBudget.isDefault ? 'assumed (default, an 80 GB accelerator)' : 'given'),
    formatConvention('KV cache', served.kvFormat, false),
    formatConvention('weights', served.weights.format, quantizes),
  ];
}

function decodeComponentTable({ config, firstStep, lastStep, lastStepRows, request }: InferenceEstimate): Table {
  const labels = matmulComponentLabels([config]);
  const first = new Map<string, bigint>();
  const last = new Map<string, bigint>();
  // The first step's rows differ from the last's only in the core's key length.
  for (const row of lastStepRows) last.set(row.component, (last.get(row.component) ?? 0n) + row.flops);
  const coreLast = last.get('attention_core') ?? 0n;
  const coreFirst = coreLast - (lastStep.flops - firstStep.flops);
  for (const [component, flops] of last) first.set(component, component === 'attention_core' ? coreFirst : flops);
  const B = BigInt(request.batch);
  return {
    title: `One decode step by component, per token (step FLOPs / ${n(B)})`,
    columns: [
      { header: 'component' },
      { header: `first step (context ${n(firstStep.context)})`, align: 'right' },
      { header: `last step (context ${n(lastStep.context)})`, align: 'right' },
      { header: 'approx (last)', align: 'right' },
    ],
    rows: MATMUL_COMPONENTS.map((component) => {
      const lastFlops = (last.get(component) ?? 0n) / B;
      return [labels[component], (first.get(component) ?? 0n) / B, lastFlops, formatFlops(lastFlops)];
    }),
    totals: [['total', firstStep.flopsPerToken, lastStep.flopsPerToken, formatFlops(lastStep.flopsPerToken)]],
  };
}

function stepBytesTable({ firstStep, lastStep, request }: InferenceEstimate): Table {
  const row = (label: string, pick: (step: DecodeStepCost) => Cell): Cell[] => [label, pick(firstStep), pick(lastStep)];
  return {
    title: `Bytes of one decode step, ${sequences(request.batch)}`,
    columns: [
      { header: 'part' },
      { header: `first step (context ${n(firstStep.context)})`, align: 'right' },
      { header: `last step (context ${n(lastStep.context)})`, align: 'right' },
    ],
    rows: [
      row('weights read', (step) => step.bytes.weights),
      row('KV cache read', (step) => step.bytes.kvCacheRead),
      row('KV cache written (the new positions)', (step) => step.bytes.kvCacheWritten),
      row('bytes read (weights + KV cache)', (step) => step.bytes.read),
      row('matmul FLOPs', (step) => step.flops),
      row('FLOPs per byte read', (step) => perByte(step.flopsPerByte)),
    ],
  };
}

/** The cache's layers grouped by what they hold per position and their window. */
function layerGroups({ served }: InferenceEstimate) {
  const groups = new Map<string, { layers: number; layer: (typeof served.cacheLayers)[number] }>();
  for (const layer of served.cacheLayers) {
    const rows = cachedRows(layer)
      .map((rows) => `${rows.count} x ${rows.length}`)
      .join(' + ');
    const key = `${rows}|${layer.window ?? ''}`;
    const entry = groups.get(key);
    if (entry === undefined) groups.set(key, { layers: 1, layer });
    else entry.layers += 1;
  }
  return [...groups.values()];
}

function cacheTable(estimate: InferenceEstimate): Table {
  const { served, request, lastStep } = estimate;
  const format = served.kvFormat;
  const rows = layerGroups(estimate).map(({ layers, layer }): Cell[] => {
    const perPosition = layerBytesPerPosition(layer, format);
    const held = positionsHeld(layer, lastStep.context);
    return [
      cachedRows(layer)
        .map((rows) =>
          rows.count === 1 ? `${rows.what} ${rows.length}` : `${rows.what} ${rows.count} heads x ${rows.length}`,
        )
        .join(' + '),
      layer.window === undefined ? 'all' : cellText`${layer.window}`,
      BigInt(layers),
      perPosition,
      held,
      BigInt(layers) * held * perPosition,
    ];
  });
  const notes =
    estimate.kvCache.fixed > 0n ? [`plus ${n(estimate.kvCache.fixed)} bytes of per-tensor scales, held once`] : [];
  return {
    title: `KV cache per sequence at ${n(lastStep.context)} tokens (${format.dtype})`,
    columns: [
      { header: 'each layer caches per position' },
      { header: 'window' },
      { header: 'layers', align: 'right' },
      { header: 'bytes per position per layer', align: 'right' },
      { header: 'positions held', align: 'right' },
      { header: 'bytes', align: 'right' },
    ],
    rows,
    totals: [
      ['one sequence', '', BigInt(served.cacheLayers.length), '', '', estimate.kvCache.perSequenceAtEnd],
      [sequences(request.batch), '', '', '', '', estimate.kvCache.batchAtEnd],
    ],
    notes,
  };
}

function weightTable({ served }: InferenceEstimate): Table {
  const { weights } = served;
  const quantizes = weights.format.dtype !== weights.keptDtype;
  const row = (label: string, dtype: string, part: { parameters: bigint; bytes: bigint }): Cell[] => [
    label,
    dtype,
    part.parameters,
    part.bytes,
    part.parameters === 0n ? '' : cellText`${fixed(8n * part.bytes, part.parameters, 3)}`,
  ];
  return {
    title: 'Weights',
    columns: [
      { header: 'weights' },
      { header: 'stored as' },
      { header: 'parameters', align: 'right' },
      { header: 'bytes', align: 'right' },
      { header: 'bits per parameter', align: 'right' },
    ],
    rows: quantizes
      ? [
          row('block linear layers (q, k, v, output, FFN)', weights.format.dtype, weights.quantized),
          row('embeddings, lm_head, norms, biases', weights.keptDtype, weights.kept),
        ]
      : [row('every weight', weights.format.dtype, weights.kept)],
    totals: [
      row('total', '', {
        parameters: weights.quantized.parameters + weights.kept.parameters,
        bytes: weights.total,
      }),
    ],
  };
}

function fitSentences({ estimate, memoryBudget }: InferReportInput): string {
  const { largestBatch, largestContext, lastStep, request, served } = estimate;
  const budget = `${formatBytesSi(memoryBudget.value)} (${n(memoryBudget.value)} bytes)`;
  const perSequence = estimate.kvCache.perSequenceAtEnd;
  const fixedBytes = served.weights.total + estimate.kvCache.fixed;
  const batch =
    'reason' in largestBatch
      ? `No batch fits in ${budget} at ${n(lastStep.context)} tokens: ${largestBatch.reason}.`
      : `Largest batch in ${budget} at ${n(lastStep.context)} tokens: ${n(largestBatch.batch)} = ` +
        `floor((${n(memoryBudget.value)} - ${n(fixedBytes)}) / ${n(perSequence)}), using ${formatBytesSi(largestBatch.bytesAtBatch)}; ` +
        `${n(largestBatch.batch + 1)} would need ${formatBytesSi(largestBatch.bytesAtNext)}.`;
  const context =
    'reason' in largestContext
      ? `No context fits at batch ${n(request.batch)}: ${largestContext.reason}.`
      : largestContext.limitedBy === 'context'
        ? `At batch ${n(request.batch)} the whole context (${n(largestContext.context)} tokens) fits, using ${formatBytesSi(largestContext.bytesAtContext)}.`
        : `Longest context at batch ${n(request.batch)}: ${n(largestContext.context)} tokens, using ` +
          `${formatBytesSi(largestContext.bytesAtContext)}; one more would need ${formatBytesSi(largestContext.bytesAtNext ?? 0n)}.`;
  return `${batch} ${context}`;
}

function cacheLayerTable({ served, lastStep }: InferenceEstimate): Table {
  const format = served.kvFormat;
  return {
    title: `KV cache by layer at ${n(lastStep.context)} tokens, one sequence`,
    columns: [
      { header: 'layer' },
      { header: 'window' },
      { header: 'bytes per position', align: 'right' },
      { header: 'positions held', align: 'right' },
      { header: 'bytes', align: 'right' },
    ],
    rows: served.cacheLayers.map((layer, i): Cell[] => {
      const perPosition = layerBytesPerPosition(layer, format);
      const held = positionsHeld(layer, lastStep.context);
      return [
        `layers.${i}`,
        layer.window === undefined ? 'all' : cellText`${layer.window}`,
        perPosition,
        held,
        held * perPosition,
      ];
    }),
  };
}

function stepRowTable(rows: readonly MatmulRow[], context: number): Table {
  return {
    title: `Every matmul of the last decode step (context ${n(context)})`,
    columns: [
      { header: 'path' },
      { header: 'computes' },
      { header: 'shapes' },
      { header: 'numeric shapes' },
      { header: 'FLOPs', align: 'right' },
    ],
    rows: rows.map((row) => [row.path, row.description, row.symbolicShapes, numericShapes(row), row.flops]),
    totals: [['total', '', '', '', rows.reduce((total, row) => total + row.flops, 0n)]],
  };
}

/** An exact fraction with its nearest double beside it. */
const withValue = (value: Rational) => ({ ...value, value: ratio(value.numerator, value.denominator) });

function formatData(format: StorageFormat) {
  return {
    dtype: format.dtype,
    valueBits: format.valueBits,
    groupSize: format.groups?.size,
    groupScaleBits: format.groups?.scaleBits,
    tensorScaleBits: format.tensorScaleBits,
    convention: format.convention,
  };
}

function stepData(step: DecodeStepCost) {
  return {
    context: step.context,
    flops: step.flops,
    flopsPerToken: step.flopsPerToken,
    weightsRead: step.bytes.weights,
    kvCacheRead: step.bytes.kvCacheRead,
    kvCacheWritten: step.bytes.kvCacheWritten,
    bytesRead: step.bytes.read,
    flopsPerByte: withValue(step.flopsPerByte),
  };
}

/** What `infer --format json` writes. */
function inferData({ estimate, memoryBudget, depth }: InferReportInput) {
  const { config, request, prefill, decode, served, kvCache } = estimate;
  const format = served.kvFormat;
  return {
    model: configJson(config),
    request: {
      batch: request.batch,
      prompt: request.prompt,
      generate: request.generate,
      memoryBytes: { value: memoryBudget.value, default: memoryBudget.isDefault },
    },
    formats: {
      kvCache: formatData(format),
      weights: { ...formatData(served.weights.format), keptDtype: served.weights.keptDtype },
    },
    prefill: {
      allLogits: prefill.allLogits,
      lastLogits: prefill.lastLogits,
      lmHeadAll: prefill.lmHeadAll,
      lmHeadLast: prefill.lmHeadLast,
    },
    decode: {
      steps: decode.steps,
      perStepOutsideCore: decode.perStepOutsideCore,
      corePerKey: decode.corePerKey,
      keysAttended: decode.keysAttended,
      total: decode.total,
      first: stepData(estimate.firstStep),
      last: stepData(estimate.lastStep),
    },
    generationFlops: estimate.generationFlops,
    kvCache: {
      perToken: kvCache.perToken,
      perSequenceAfterPrefill: kvCache.perSequenceAfterPrefill,
      perSequenceAtEnd: kvCache.perSequenceAtEnd,
      batchAtEnd: kvCache.batchAtEnd,
      fixed: kvCache.fixed,
      layers: served.cacheLayers.map((layer) => ({
        ...layer,
        bytesPerPosition: layerBytesPerPosition(layer, format),
        positionsAtEnd: positionsHeld(layer, estimate.lastStep.context),
      })),
    },
    weights: {
      total: served.weights.total,
      quantized: served.weights.quantized,
      kept: served.weights.kept,
    },
    memoryAtEnd: estimate.memoryAtEnd,
    largestBatch: { context: estimate.lastStep.context, ...estimate.largestBatch },
    largestContext: { batch: request.batch, ...estimate.largestContext },
    ...(depth >= 3 ? { lastStepMatmuls: estimate.lastStepRows } : {}),
  };
}

export type InferData = ReturnType<typeof inferData>;
