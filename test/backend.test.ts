import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { availableBackends, parseBackendChoice, useBackend } from '../src/runtime/backend.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { InputError, UnavailableError } from '../src/core/errors.js';
import { disposeWeights, forward, initWeights, tokenIds } from '../src/model/index.js';
import { builtCli, ROOT } from './helpers/built_cli.js';

function installed(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether tfjs-node can load here: installed, with the native binding its installer builds from
 * the libtensorflow it downloads. `npm install` without internet leaves the package without it.
 */
function tensorflowLoads(packageName: string): boolean {
  if (!installed(packageName)) return false;
  const root = dirname(createRequire(import.meta.url).resolve(`${packageName}/package.json`));
  const lib = join(root, 'lib');
  return existsSync(lib) && readdirSync(lib).some((dir) => existsSync(join(lib, dir, 'tfjs_binding.node')));
}

const tensorflowAvailable = tensorflowLoads('@tensorflow/tfjs-node') || tensorflowLoads('@tensorflow/tfjs-node-gpu');

describe('parseBackendChoice', () => {
  it('accepts the six choices', () => {
    for (const name of ['auto', 'cpu', 'wasm', 'native', 'tensorflow', 'meta'])
      expect(parseBackendChoice(name)).toBe(name);
  });

  it('rejects anything else with an InputError listing the choices', () => {
    expect(() => parseBackendChoice('gpu')).toThrow(InputError);
    expect(() => parseBackendChoice('gpu')).toThrow(
      '--backend: "gpu" is not one of auto, cpu, wasm, native, tensorflow, meta',
    );
    expect(() => parseBackendChoice('WASM')).toThrow('--backend: "WASM" is not one of');
    expect(() => parseBackendChoice('')).toThrow('--backend: "" is not one of');
  });
});

describe('useBackend', () => {
  it('starts cpu and wasm, each with synchronous kernel times', async () => {
    const cpu = await useBackend('cpu');
    expect(cpu).toEqual({
      name: 'cpu',
      description: 'plain JavaScript kernels (slow reference)',
      synchronousKernelTimes: true,
    });
    expect(tf.getBackend()).toBe('cpu');

    const wasm = await useBackend('wasm');
    expect(wasm.name).toBe('wasm');
    expect(wasm.description).toMatch(/^WebAssembly \((no )?SIMD, single thread\)$/);
    expect(wasm.synchronousKernelTimes).toBe(true);
    expect(tf.getBackend()).toBe('wasm');
    expect(
      tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2], [1, 2]), tf.tensor2d([3, 4], [2, 1])).dataSync())),
    ).toEqual([11]);
  });

  it.skipIf(tensorflowAvailable)(
    'refuses tensorflow where tfjs-node is absent or cannot load, saying how to install it',
    async () => {
      await useBackend('cpu');
      const attempt = useBackend('tensorflow');
      await expect(attempt).rejects.toThrow(UnavailableError);
      await expect(useBackend('tensorflow')).rejects.toThrow(
        /^--backend tensorflow: @tensorflow\/tfjs-node (is not installed|is installed but failed to load: .*)\. To use it: npm install @tensorflow\/tfjs-node \(it needs internet to download libtensorflow\), or use --backend wasm$/,
      );
      // A refused choice leaves the active backend as it was.
      expect(tf.getBackend()).toBe('cpu');
    },
  );

  it.skipIf(tensorflowAvailable)(
    'falls back from auto to native where tfjs-node is absent and onnxruntime-node is installed, else to wasm',
    async () => {
      const expected = installed('onnxruntime-node') ? 'native' : 'wasm';
      const active = await useBackend('auto');
      expect(active.name).toBe(expected);
      expect(tf.getBackend()).toBe(expected);
    },
  );

  it('starts the shape-only meta backend, which runs the model without data', async () => {
    const active = await useBackend('meta');
    expect(active).toEqual({
      name: 'meta',
      description: 'shape-only meta backend (no data, no kernel times)',
      synchronousKernelTimes: false,
    });
    expect(tf.getBackend()).toBe('meta');
    // A second call reuses the registration.
    expect((await useBackend('meta')).name).toBe('meta');

    const config: ModelConfig = {
      name: 'gpt2-small',
      source: 'test/backend.test.ts',
      vocab_size: 50257,
      context_length: 1024,
      num_layers: 12,
      d_model: 768,
      num_heads: 12,
      d_ff: 3072,
    };
    const baseline = tf.memory().numTensors;
    const weights = initWeights(config, { seed: 0, init: 'fill' });
    const ids = tokenIds(config, { batch: 2, seq: 1024 }, { seed: 0, init: 'fill' });
    try {
      const logits = forward(config, weights, ids);
      expect(logits.shape).toEqual([2, 1024, 50257]);
      expect(logits.dtype).toBe('float32');
      logits.dispose();
    } finally {
      ids.dispose();
      disposeWeights(weights);
    }
    expect(tf.memory().numTensors).toBe(baseline);
    await useBackend('cpu');
  });
});

describe('availableBackends', () => {
  it('lists cpu, wasm and meta here, native and tensorflow only when their packages are installed', async () => {
    const expected = [
      'cpu',
      'wasm',
      ...(installed('onnxruntime-node') ? ['native'] : []),
      ...(tensorflowAvailable ? ['tensorflow'] : []),
      'meta',
    ];
    expect(await availableBackends()).toEqual(expected);
  });
});

describe('FLOPLEDGER_WASM_THREADS', () => {
  it('refuses a value that is not a positive integer with one line naming the variable', async () => {
    await useBackend('cpu');
    process.env['FLOPLEDGER_WASM_THREADS'] = 'two';
    try {
      await expect(useBackend('wasm')).rejects.toThrow(
        'FLOPLEDGER_WASM_THREADS: "two" is not a positive integer; use e.g. FLOPLEDGER_WASM_THREADS=2, or 1 for the single-thread build',
      );
      await expect(useBackend('wasm')).rejects.toBeInstanceOf(InputError);
    } finally {
      process.env['FLOPLEDGER_WASM_THREADS'] = '1';
    }
    // At 1 the single-thread build starts.
    expect((await useBackend('wasm')).description).toMatch(/single thread/);
  });
});

describe('the default wasm build', () => {
  /** `time tiny` in a process of its own (a process holds one wasm module), with `threads` as the variable's value. */
  function timeTinyWith(threads: string | undefined): { backend_description: string; runs: number } {
    const env = { ...process.env };
    delete env['FLOPLEDGER_WASM_THREADS'];
    if (threads !== undefined) env['FLOPLEDGER_WASM_THREADS'] = threads;
    const args = ['time', 'tiny', '--backend', 'wasm', '--runs', '3', '--warmup', '1', '--no-calibrate'];
    const child = spawnSync(process.execPath, [builtCli(), ...args, '--format', 'json', '--quiet'], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    return JSON.parse(child.stdout) as { backend_description: string; runs: number };
  }

  it('is the threaded build at 2 threads when FLOPLEDGER_WASM_THREADS is unset, where there are 2 cores', () => {
    // Two threads ran the benchmark's forward passes 1.4-1.6x faster (README, "Measured here").
    const expected =
      availableParallelism() >= 2 ? 'WebAssembly (SIMD, 2 threads)' : 'WebAssembly (SIMD, single thread)';
    expect(timeTinyWith(undefined).backend_description).toBe(expected);
  });

  it('starts the threaded build when FLOPLEDGER_WASM_THREADS asks for threads', () => {
    const timed = timeTinyWith('2');
    expect(timed.backend_description).toBe('WebAssembly (SIMD, 2 threads)');
    expect(timed.runs).toBe(3);
  });
});
