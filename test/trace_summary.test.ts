import { expect, test } from 'vitest';
import {
  matmulKernelCount,
  outermostRecords,
  totalMatmulFlops,
  totalNonMatmulFlops,
  totalTimeMs,
  totalsByKernel,
  totalsByPath,
  traceTotals,
  tracedMatmul,
  uncountedKernels,
} from '../src/trace/index.js';
import type { KernelRecord, TracedMatmul } from '../src/trace/index.js';

let nextIndex = 0;
function record(
  kernel: string,
  path: string,
  flops: bigint | null,
  extra: { matmul?: TracedMatmul; nested?: boolean; timeMs?: number } = {},
): KernelRecord {
  return {
    index: nextIndex++,
    kernel,
    path,
    inputs: [],
    outputs: [],
    attrs: {},
    nested: extra.nested ?? false,
    flops,
    ...(extra.matmul === undefined ? {} : { matmul: extra.matmul }),
    ...(extra.timeMs === undefined ? {} : { timeMs: extra.timeMs }),
  };
}

// [2, 8] @ [8, 16]: 2 * 2*8*16 = 512. [4, 4] @ [4, 4] x 2 heads: 2 * 2*4*4*4 = 256.
const projection = tracedMatmul(1, 2, 8, 16)!;
const scores = tracedMatmul(2, 4, 4, 4)!;

/** A small trace: two layers, a fused kernel with nested work, an uncounted kernel. */
const records: KernelRecord[] = [
  record('GatherV2', 'token_embeddings', 0n, { timeMs: 0.5 }),
  record('BatchMatMul', 'layers.0.attn.q_proj', 0n, { matmul: projection, timeMs: 2 }),
  record('BatchMatMul', 'layers.0.attn.scores', 0n, { matmul: scores, timeMs: 1 }),
  record('Softmax', 'layers.0.attn.softmax', 144n, { timeMs: 0.25 }),
  record('Add', 'layers.0', 32n, { timeMs: 0.25 }),
  record('_FusedMatMul', 'layers.1.ffn.w1', 32n, { matmul: projection, timeMs: 3 }),
  record('BatchMatMul', 'layers.1.ffn.w1', 0n, { nested: true, timeMs: 2.5 }),
  record('Add', 'layers.1.ffn.w1', 32n, { nested: true, timeMs: 0.125 }),
  record('TopK', 'layers.1.ffn.w1', null, { nested: true, timeMs: 0.125 }),
  record('TopK', 'lm_head', null, { timeMs: 0.5 }),
  record('TopK', 'lm_head', null, { timeMs: 0.5 }),
];

test('matmul totals count the outermost matmuls only', () => {
  expect(totalMatmulFlops(records)).toBe(512n + 256n + 512n);
  expect(matmulKernelCount(records)).toBe(3);
});

test('non-matmul totals skip nested kernels and uncounted ones', () => {
  // Softmax 144 + Add 32 + the fused kernel's own 32; the nested Add is inside the fused kernel.
  expect(totalNonMatmulFlops(records)).toBe(208n);
  expect(outermostRecords(records).map((r) => r.kernel)).toEqual([
    'GatherV2',
    'BatchMatMul',
    'BatchMatMul',
    'Softmax',
    'Add',
    '_FusedMatMul',
    'TopK',
    'TopK',
  ]);
});

test('uncounted kernels are reported by name with their counts (outermost only)', () => {
  expect(uncountedKernels(records)).toEqual(new Map([['TopK', 2]]));
  expect(uncountedKernels(records.slice(0, 5))).toEqual(new Map());
});

test('roll-up by module path at each depth', () => {
  expect(totalsByPath(records, 0)).toEqual(new Map([['', traceTotals(records)]]));
  expect(totalsByPath(records, 1)).toEqual(
    new Map([
      [
        'token_embeddings',
        { kernels: 1, matmulKernels: 0, matmulFlops: 0n, nonMatmulFlops: 0n, uncountedKernels: 0, timeMs: 0.5 },
      ],
      [
        'layers',
        { kernels: 5, matmulKernels: 3, matmulFlops: 1280n, nonMatmulFlops: 208n, uncountedKernels: 0, timeMs: 6.5 },
      ],
      [
        'lm_head',
        { kernels: 2, matmulKernels: 0, matmulFlops: 0n, nonMatmulFlops: 0n, uncountedKernels: 2, timeMs: 1 },
      ],
    ]),
  );
  const byLayer = totalsByPath(records, 2);
  expect([...byLayer.keys()]).toEqual(['token_embeddings', 'layers.0', 'layers.1', 'lm_head']);
  expect(byLayer.get('layers.0')).toMatchObject({ kernels: 4, matmulFlops: 768n, nonMatmulFlops: 176n });
  expect(byLayer.get('layers.1')).toMatchObject({ kernels: 1, matmulFlops: 512n, nonMatmulFlops: 32n, timeMs: 3 });
  const byPart = totalsByPath(records, 3);
  expect(byPart.get('layers.0.attn')).toMatchObject({
    kernels: 3,
    matmulKernels: 2,
    matmulFlops: 768n,
    nonMatmulFlops: 144n,
  });
  expect(byPart.get('layers.0')).toMatchObject({ kernels: 1, matmulFlops: 0n, nonMatmulFlops: 32n });
  expect(totalsByPath(records, 4).get('layers.0.attn.scores')).toMatchObject({ matmulFlops: 256n });
});

test('totals per kernel name, in order of first appearance', () => {
  const byKernel = totalsByKernel(records);
  expect([...byKernel.keys()]).toEqual(['GatherV2', 'BatchMatMul', 'Softmax', 'Add', '_FusedMatMul', 'TopK']);
  expect(byKernel.get('BatchMatMul')).toEqual({
    kernels: 2,
    matmulKernels: 2,
    matmulFlops: 768n,
    nonMatmulFlops: 0n,
    uncountedKernels: 0,
    timeMs: 3,
  });
  expect(byKernel.get('Add')).toMatchObject({ kernels: 1, nonMatmulFlops: 32n });
  expect(byKernel.get('TopK')).toMatchObject({ kernels: 2, uncountedKernels: 2, nonMatmulFlops: 0n, timeMs: 1 });
});

test('time totals sum the outermost kernels; untimed traces have no time', () => {
  // 0.5 + 2 + 1 + 0.25 + 0.25 + 3 + 0.5 + 0.5: the nested times are inside the fused kernel's 3.
  expect(totalTimeMs(records)).toBe(8);
  const untimed = records.map(({ timeMs: _timeMs, ...rest }) => rest as KernelRecord);
  expect(totalTimeMs(untimed)).toBeUndefined();
  expect(traceTotals(untimed).timeMs).toBeUndefined();
  expect(traceTotals([])).toEqual({
    kernels: 0,
    matmulKernels: 0,
    matmulFlops: 0n,
    nonMatmulFlops: 0n,
    uncountedKernels: 0,
    timeMs: undefined,
  });
});
