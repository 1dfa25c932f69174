import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const testFiles = (names: readonly string[]): string[] => names.map((name) => `test/${name}.test.ts`);

/**
 * The long runs: full-size presets on meta, the browser, the CLI in child processes, timing, the
 * native backend, the sweeps over many random configs, and the heavier files of single features
 * (a training step per variant, latent attention, the Hugging Face keys), so that `npm test`
 * stays within 45 s on 2 cores. `npm run test:long` runs these; `.ci/run` runs both.
 */
const LONG_RUNS = testFiles([
  'attention_cli',
  'attention_schedule_verify',
  'backend',
  'cli',
  'cli_flags',
  'cli_startup',
  'deepseek_presets_meta',
  'dense_features_verify',
  'dense_presets_meta',
  'dense_reports',
  'fuzz',
  'hf_config',
  'layers',
  'mla_config',
  'mla_decode',
  'mla_verify',
  'model_variants',
  'moe_deepseek_router',
  'moe_presets_meta',
  'moe_verify',
  'native_backend',
  'package',
  'parallel_fill',
  'report',
  'report_csv',
  'report_write',
  'saved_activations_trace',
  'timing_cli',
  'timing_guard',
  'timing_progress',
  'trace_cli',
  'train_checkpoint',
  'train_selective_checkpoint',
  'training_kernel_bytes',
  'verify_decode_cli',
  'verify_train',
  'verify_variants',
  'web_browser',
]);

/**
 * Quick files that draw charts with Vega: its modules, imported while the test runs, fail to link
 * in a VM context ("request for './accessor.js' is not in cache"), so these run in plain threads.
 */
const CHART_RUNS = testFiles(['report_browser', 'roofline_chart', 'zero_chart']);

/** A chart file that also replaces a module (vi.mock): it gets a fresh worker, as in the quick set. */
const MOCKING_CHART_RUNS = testFiles(['report_mismatch']);

/**
 * Quick files whose time goes to JavaScript loops: the cpu backend's kernels, the seeded fill, the
 * analytic inventories over random configs. A VM context reaches every global (Math, typed arrays)
 * through the context's interceptor, which made these loops 2-20x slower than on a plain thread.
 */
const COMPUTE_RUNS = testFiles([
  'analytic_properties',
  'analytic_variants_properties',
  'backward_release',
  'blocked_attention',
  'decode_kernel_bytes',
  'forward_release',
  'generation',
  'meta_model',
  'model',
  'report_labels',
  'training_properties',
  'truncated_normal',
  'verify_decode',
  'verify_meta',
  'verify_properties',
]);

// A renamed or deleted file would otherwise drop out of the long runs into `npm test` unnoticed.
const named = [...LONG_RUNS, ...CHART_RUNS, ...MOCKING_CHART_RUNS, ...COMPUTE_RUNS];
const missing = named.filter((path) => !existsSync(fileURLToPath(new URL(path, import.meta.url))));
if (missing.length > 0)
  throw new Error(`vitest.config.ts: a list of test files names no file at ${missing.join(', ')}`);
// A file in two lists would run in two projects, twice per `npm run test:all`.
const twice = named.filter((path, i) => named.indexOf(path) !== i);
if (twice.length > 0) throw new Error(`vitest.config.ts: ${twice.join(', ')} named in two lists`);

export default defineConfig({
  test: {
    // Each file runs in a worker thread of its own, with its own tfjs engine, backends and kernel
    // registry; a thread starts and loads the modules faster than a child process did.
    pool: 'threads',
    // Vitest's default is one worker fewer than the cores, one on this 2-core machine; the test
    // files are independent, so both cores run them.
    maxWorkers: 2,
    testTimeout: 120_000,
    // One wasm thread in tests: the files already run two at a time, and their kernels'
    // results do not depend on the thread count (the threaded build is exercised by bench).
    env: { FLOPLEDGER_WASM_THREADS: '1' },
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'quick',
          include: ['test/**/*.test.ts'],
          exclude: [...LONG_RUNS, ...CHART_RUNS, ...MOCKING_CHART_RUNS, ...COMPUTE_RUNS],
          pool: 'vmThreads',
        },
      },
      { extends: true, test: { name: 'quick-mocking', include: MOCKING_CHART_RUNS } },
      {
        extends: true,
        test: {
          name: 'quick-threads',
          include: [...CHART_RUNS, ...COMPUTE_RUNS],
          // A worker keeps its modules from one file to the next instead of loading tfjs, its
          // backends and Vega again for each: every one of these files sets the backend it needs
          // (or runs the CLI with --backend), checks tensors against a baseline it takes itself,
          // releases what it made, and mocks no module. npm test took 55-67 s of CPU against 71-73
          // s with a fresh worker per file, and passed with the files in nine shuffled orders,
          // three of them on one worker.
          isolate: false,
        },
      },
      { extends: true, test: { name: 'long', include: LONG_RUNS } },
    ],
  },
});
