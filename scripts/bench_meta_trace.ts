/**
 * One full-size shape-only trace in a process of its own, so its peak RSS is its own:
 *
 *   node dist/scripts/bench_meta_trace.js gpt2-xl 16384
 *
 * prints one JSON object: how long the weights took to make and the forward pass to trace on
 * the meta backend, what the trace holds, and the process's peak resident set size.
 */
import { pathToFileURL } from 'node:url';
import { useBackend } from '../src/runtime/backend.js';
import { loadModelConfig } from '../src/config/index.js';
import { disposeWeights, forward, initWeights, tokenIds } from '../src/model/index.js';
import { matmulKernelCount, totalMatmulFlops } from '../src/trace/summary.js';
import { traceKernels } from '../src/trace/tracer.js';

export interface MetaTraceResult {
  readonly model: string;
  readonly seq: number;
  readonly init_ms: number;
  readonly trace_ms: number;
  readonly kernels: number;
  readonly matmul_kernels: number;
  readonly matmul_flops: string;
  /** Peak resident set size of the whole process (Node, tfjs, the trace), in bytes. */
  readonly max_rss_bytes: number;
  /** Peak RSS once the modules were loaded, before the backend started: the floor the trace adds to. */
  readonly rss_after_imports_bytes: number;
}

/** process.resourceUsage().maxRSS is in kilobytes (1024 bytes). */
const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;

async function main(): Promise<void> {
  const model = process.argv[2] ?? 'gpt2-xl';
  const seq = Number(process.argv[3] ?? 1024);
  const rssAfterImports = maxRssBytes();
  await useBackend('meta');
  const base = loadModelConfig(model);
  const config = seq > base.context_length ? loadModelConfig(model, { context_length: seq }) : base;
  const initStart = performance.now();
  const weights = initWeights(config, { seed: 0, init: 'fill' });
  const ids = tokenIds(config, { batch: 1, seq }, { seed: 0, init: 'fill' });
  const traceStart = performance.now();
  const trace = traceKernels(() => forward(config, weights, ids));
  const traceEnd = performance.now();
  trace.result.dispose();
  ids.dispose();
  disposeWeights(weights);
  const result: MetaTraceResult = {
    model,
    seq,
    init_ms: traceStart - initStart,
    trace_ms: traceEnd - traceStart,
    kernels: trace.records.length,
    matmul_kernels: matmulKernelCount(trace.records),
    matmul_flops: totalMatmulFlops(trace.records).toString(),
    max_rss_bytes: maxRssBytes(),
    rss_after_imports_bytes: rssAfterImports,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
