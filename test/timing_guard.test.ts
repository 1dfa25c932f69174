/**
 * The one memory guard, through every real-compute command: `time` (which had none: `time
 * gpt2-small` on wasm grew to 4.2 GB and ran until killed, `time mistral-7b --backend cpu` reached
 * 18.9 GB), `verify`, `verify --train` and `trace`. For every preset at its full context, on wasm
 * and on cpu, a run the guard estimates over the budget is refused on one line, with the estimate,
 * the limit and the fix, in under 2 s, before TensorFlow.js has made a single tensor.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { listPresets, loadModelConfig } from '../src/config/index.js';
import { formatSi } from '../src/core/format.js';
import { useBackend } from '../src/runtime/backend.js';
import { estimateRunMemory, WASM_HEAP_BYTES, type RunKind } from '../src/runtime/memory_guard.js';
import { builtCli } from './helpers/built_cli.js';
import { cli } from './helpers/cli_runner.js';

const COMMANDS: readonly { argv: readonly string[]; kind: RunKind }[] = [
  { argv: ['time'], kind: 'timing' },
  { argv: ['verify'], kind: 'forward' },
  { argv: ['trace'], kind: 'forward' },
  { argv: ['verify', '--train'], kind: 'training step' },
];

/** Counts every tensor TensorFlow.js registers, weights, ids and kernel outputs alike. */
function countTensorsMade() {
  return vi.spyOn(tf.engine(), 'trackTensor');
}

describe('every real-compute command refuses what the guard estimates over the budget', () => {
  beforeAll(async () => {
    // Both backends started once, as a process that runs a command has them started.
    await useBackend('cpu');
    await useBackend('wasm');
    // And the modules each command imports when it runs, which vitest transforms on first import.
    await Promise.all([
      import('../src/timing/sweep.js'),
      import('../src/timing/time_model.js'),
      import('../src/views/time_report.js'),
      import('../src/runtime/traced_run.js'),
      import('../src/verify/index.js'),
      import('../src/verify/verify_training.js'),
      import('../src/views/verify_report.js'),
      import('../src/views/verify_training_report.js'),
      import('../src/views/trace_report.js'),
    ]);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const presets = listPresets();

  it('lists every preset', () => {
    expect(presets).toContain('tiny');
    expect(presets).toContain('mistral-7b');
    expect(presets).toContain('deepseek-v2-lite');
    expect(presets).toContain('deepseek-v3');
    expect(presets.length).toBeGreaterThanOrEqual(13);
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`on ${backend}: every preset at its full context, one byte under the estimate, before any tensor`, async () => {
      for (const preset of presets) {
        const config = loadModelConfig(preset);
        const run = { batch: 1, seq: config.context_length };
        for (const { argv, kind } of COMMANDS) {
          const estimate = estimateRunMemory(config, run, kind, backend);
          const budget = estimate.total - 1n;
          const made = countTensorsMade();
          const start = performance.now();
          const result = await cli(...argv, preset, '--backend', backend, '--max-memory', `${budget}B`, '--quiet');
          const ms = performance.now() - start;
          const what = `${argv.join(' ')} ${preset} on ${backend}`;
          expect(result.code, what).toBe(2);
          expect(result.stdout, what).toBe('');
          expect(made, what).not.toHaveBeenCalled();
          expect(ms, what).toBeLessThan(2000);
          const lines = result.stderr.trimEnd().split('\n');
          expect(lines, what).toHaveLength(1);
          // The estimate, the limit it exceeds, and the fix.
          expect(lines[0], what).toContain(`needs about ${formatSi(estimate.total, 'B', 3)} on ${backend} (weights `);
          const limit =
            backend === 'wasm' && WASM_HEAP_BYTES < budget
              ? 'a wasm heap can hold (32-bit WebAssembly memory)'
              : `over the ${formatSi(budget, 'B', 3)} budget (--max-memory)`;
          expect(lines[0], what).toContain(limit);
          expect(lines[0], what).toMatch(kind === 'timing' ? /--layers/ : /use --backend meta/);
          vi.restoreAllMocks();
        }
      }
    });
  }

  it('time gpt2-small on wasm at 16 x 1,024 tokens: refused against the 4 GiB heap, naming the fix', async () => {
    const made = countTensorsMade();
    // One block's 16 x 12 x 1024^2 scores alone are 805 MB a tensor.
    const { code, stdout, stderr } = await cli(
      'time',
      'gpt2-small',
      '--backend',
      'wasm',
      '--batch',
      '16',
      '--max-memory',
      '100GB',
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(made).not.toHaveBeenCalled();
    expect(stderr).toMatch(
      /^flopledger: timing gpt2-small at batch 16 x 1024 tokens needs about [\d.]+ GB on wasm \(weights 762 MB \+ their packed copies [\d.]+ MB \+ activations [\d.]+ GB \+ heap growth over repeated passes [\d.]+ [MG]B \+ the calibration matmul [\d.]+ [MG]B\), over the 4\.29 GB a wasm heap can hold \(32-bit WebAssembly memory\); lower --seq\/--batch, or time fewer layers with --layers\n$/,
    );
  });

  it('time mistral-7b on cpu: refused by the budget, its weights alone over it', async () => {
    const made = countTensorsMade();
    const { code, stderr } = await cli('time', 'mistral-7b', '--backend', 'cpu', '--max-memory', '24GB');
    expect(code).toBe(2);
    expect(made).not.toHaveBeenCalled();
    // 7,241,732,096 parameters x 4 bytes: 29.0 GB of fp32 weights (Mistral 7B's published count).
    expect(stderr).toContain('timing mistral-7b at batch 1 x ');
    expect(stderr).toContain('(weights 29.0 GB + ');
    expect(stderr).toContain(
      'over the 24.0 GB budget (--max-memory); the weights alone do not fit: time fewer layers with --layers, or a smaller model',
    );
  });
});

/** Runs in Node's loader thread: notes every TensorFlow.js module the process loads. */
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  if (url.includes('/node_modules/@tensorflow/')) appendFileSync(process.env.FLOPLEDGER_TEST_LOAD_LOG, url + '\\n');
  return nextLoad(url, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(
  `data:text/javascript,${encodeURIComponent(HOOKS)}`,
)});`;

describe('the built CLI refuses before it loads TensorFlow.js', () => {
  /** Exit code, stderr, and whether the process loaded any @tensorflow module. */
  function run(args: readonly string[]): { status: number | null; stderr: string; loadedTfjs: boolean } {
    const dir = mkdtempSync(join(tmpdir(), 'flopledger-guard-'));
    try {
      const log = join(dir, 'loaded.log');
      const child = spawnSync(
        process.execPath,
        ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, builtCli(), ...args],
        { encoding: 'utf8', env: { ...process.env, FLOPLEDGER_TEST_LOAD_LOG: log } },
      );
      let loadedTfjs = false;
      try {
        loadedTfjs = readFileSync(log, 'utf8').trim() !== '';
      } catch {
        // No log: nothing under @tensorflow was loaded.
      }
      return { status: child.status, stderr: child.stderr, loadedTfjs };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it.each([
    [['time', 'gpt2-small', '--backend', 'wasm', '--batch', '16']],
    [['time', 'mistral-7b', '--backend', 'cpu', '--max-memory', '24GB']],
    [['time', 'tiny', '--sweep', 'model=gpt2-small', '--backend', 'wasm', '--batch', '16']],
    [['verify', 'gpt2-xl', '--backend', 'wasm']],
    [['verify', 'gpt2-small', '--backend', 'wasm', '--seq', '32', '--train', '--max-memory', '100GB']],
    [['trace', 'gpt2-xl', '--backend', 'cpu', '--max-memory', '2GiB']],
  ])('%j: one line, exit 2, TensorFlow.js never loaded', (args) => {
    const { status, stderr, loadedTfjs } = run(args);
    expect(stderr).toMatch(/^flopledger: .* needs about .*, over the .*; .*\n$/);
    expect(status).toBe(2);
    expect(loadedTfjs).toBe(false);
  });

  it('loads it for a run that fits (the control: the hook sees tfjs when it loads)', () => {
    const { status, loadedTfjs } = run([
      'time',
      'tiny',
      '--backend',
      'wasm',
      '--runs',
      '3',
      '--no-calibrate',
      '--quiet',
    ]);
    expect(status).toBe(0);
    expect(loadedTfjs).toBe(true);
  });
});
