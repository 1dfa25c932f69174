import { modelLabel } from '../config/model_config.js';
/**
 * The trace of one forward pass, torchinfo-style: at depth 3 one row per kernel (module path,
 * kernel, input shapes -> output shapes, FLOPs, share); at depths 0-2 the kernels rolled up by
 * module path with their counts. FLOPs are the matmul count plus the rule table's non-matmul
 * count; a kernel without a rule is "uncounted", never 0.
 */
import { totalsByPath, type KernelTotals } from '../trace/summary.js';
import type { KernelRecord, TensorSignature } from '../core/kernel_record.js';
import type { TracedRun } from '../runtime/traced_run.js';
import { formatFlops, formatShare, groupDigits } from '../core/format.js';
import { configJson, dimensionsLabel, runJson, runLabel } from './labels.js';
import { heading, paragraph, tableBlock, type Cell, type Depth, type Report, type Table } from '../render/table.js';

const UNCOUNTED = 'uncounted';
/** Shown for a kernel run by another kernel: its work is already in its caller's count. */
const IN_CALLER = 'in caller';
/** The roll-up row of kernels outside every module scope, and of the whole model at depth 0. */
const WHOLE_MODEL = '(model)';

/** Counted FLOPs of one record (matmul plus rule), or undefined when it has no rule or is nested. */
function recordFlops(record: KernelRecord): bigint | undefined {
  if (record.nested || record.flops === null) return undefined;
  return (record.matmul?.flops ?? 0n) + record.flops;
}

function shapesText(tensors: readonly TensorSignature[]): string {
  return tensors.map((tensor) => `[${tensor.shape.join(',')}]`).join(', ');
}

/** "[1,1024,1600], [1600,1600] -> [1,1024,1600]". */
function kernelShapesText(record: KernelRecord): string {
  return `${shapesText(record.inputs)} -> ${shapesText(record.outputs)}`;
}

function countedTotal(totals: KernelTotals): bigint {
  return totals.matmulFlops + totals.nonMatmulFlops;
}

function kernelTable(records: readonly KernelRecord[], total: bigint): Table {
  return {
    title: 'Every kernel, in execution order',
    columns: [
      { header: '#', align: 'right' },
      { header: 'module path' },
      { header: 'kernel' },
      { header: 'input shapes -> output shape' },
      { header: 'FLOPs', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows: records.map((record) => {
      const flops = recordFlops(record);
      return [
        record.index,
        record.path === '' ? WHOLE_MODEL : record.path,
        record.kernel,
        kernelShapesText(record),
        flops ?? (record.nested ? IN_CALLER : UNCOUNTED),
        flops === undefined ? '' : formatShare(flops, total),
      ];
    }),
  };
}

function moduleTable(records: readonly KernelRecord[], depth: Depth, totals: KernelTotals): Table {
  const total = countedTotal(totals);
  const row = (module: string, group: KernelTotals): Cell[] => [
    module,
    group.kernels,
    group.matmulKernels,
    group.matmulFlops,
    group.nonMatmulFlops,
    group.uncountedKernels,
    countedTotal(group),
    formatShare(countedTotal(group), total),
  ];
  const rows = [...totalsByPath(records, depth)].map(([module, group]) =>
    row(module === '' ? WHOLE_MODEL : module, group),
  );
  return {
    title: depth === 0 ? 'The whole forward pass' : `Kernels rolled up to depth ${depth} of the module path`,
    columns: [
      { header: 'module' },
      { header: 'kernels', align: 'right' },
      { header: 'matmuls', align: 'right' },
      { header: 'matmul FLOPs', align: 'right' },
      { header: 'non-matmul FLOPs', align: 'right' },
      { header: 'uncounted', align: 'right' },
      { header: 'FLOPs', align: 'right' },
      { header: 'share', align: 'right' },
    ],
    rows,
    ...(depth === 0 ? {} : { totals: [row('total', totals)] }),
  };
}

function recordData(record: KernelRecord) {
  return {
    index: record.index,
    path: record.path,
    kernel: record.kernel,
    inputs: record.inputs,
    outputs: record.outputs,
    // A Map: tfjs's attribute names (transposeA, keepDims) are data and keep their spelling.
    attrs: new Map(Object.entries(record.attrs)),
    matmul: record.matmul ?? null,
    nonMatmulFlops: record.flops,
    flops: recordFlops(record) ?? null,
    nested: record.nested,
    timeMs: record.timeMs,
  };
}

function totalsData(totals: KernelTotals) {
  return {
    kernels: totals.kernels,
    matmulKernels: totals.matmulKernels,
    matmulFlops: totals.matmulFlops,
    nonMatmulFlops: totals.nonMatmulFlops,
    flops: countedTotal(totals),
    uncountedKernels: totals.uncountedKernels,
  };
}

/** What `trace --format json` writes: totals, the roll-up at the depth asked for, and every kernel. */
function traceData(traced: TracedRun, depth: Depth) {
  const { config, run, backend, records, totals } = traced;
  return {
    model: configJson(config),
    run: runJson(run),
    backend: { name: backend.name, description: backend.description },
    logitsShape: traced.logitsShape,
    totals: totalsData(totals),
    depth: depth >= 3 ? undefined : depth,
    modules:
      depth >= 3
        ? undefined
        : [...totalsByPath(records, depth)].map(([module, group]) => ({ module, ...totalsData(group) })),
    kernels: records.map(recordData),
  };
}

export type TraceData = ReturnType<typeof traceData>;

export function traceReport(traced: TracedRun, depth: Depth): Report<TraceData> {
  const { config, run, backend, records, totals } = traced;
  const total = countedTotal(totals);
  const summary =
    `${groupDigits(BigInt(totals.kernels))} kernels, ${totals.matmulKernels} of them matmuls: ` +
    `${groupDigits(totals.matmulFlops)} matmul FLOPs + ${groupDigits(totals.nonMatmulFlops)} non-matmul FLOPs = ` +
    `${groupDigits(total)} FLOPs (${formatFlops(total)})` +
    (totals.uncountedKernels > 0 ? `; ${totals.uncountedKernels} kernels have no FLOP rule and are uncounted.` : '.');
  const table = depth >= 3 ? kernelTable(records, total) : moduleTable(records, depth, totals);
  return {
    blocks: [
      heading(`Trace of ${modelLabel(config)}, ${runLabel(run)}, on ${backend.name}`),
      paragraph(`${dimensionsLabel(config)}; ${backend.description}; logits [${traced.logitsShape.join(',')}].`),
      paragraph(summary),
      tableBlock(table),
      paragraph(
        'FLOPs: matmuls count 2*m*k*n per batch element; every other kernel by the rule table (src/core/flop_rules.ts); ' +
          'data movement counts 0, and a kernel without a rule is uncounted, never 0.',
      ),
    ],
    json: traceData(traced, depth),
  };
}
