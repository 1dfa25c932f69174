import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { useBackend } from '../src/runtime/backend.js';
import { builtCli, ROOT } from './helpers/built_cli.js';

function installed(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

const nativeInstalled = installed('onnxruntime-node');

/** Runs `compute` on `backend` and returns its result's values, disposing every tensor it made. */
async function valuesOn(backend: 'cpu' | 'wasm' | 'native', compute: () => tf.Tensor): Promise<Float32Array> {
  await useBackend(backend);
  const before = tf.memory().numTensors;
  const result = tf.tidy(compute);
  const values = result.dataSync() as Float32Array;
  result.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return values;
}

/** Largest |x - y| over the largest |y|: float32 sums in a different order differ by a few ulps of the sum. */
function relativeDifference(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let difference = 0;
  let scale = 1e-30;
  for (let i = 0; i < x.length; i++) {
    difference = Math.max(difference, Math.abs(x[i]! - y[i]!));
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return difference / scale;
}

describe.runIf(nativeInstalled)('the native backend (onnxruntime-node installed)', () => {
  afterAll(async () => {
    await useBackend('wasm');
  });

  it('starts on wasm instance and names ONNX Runtime in its description', async () => {
    const native = await useBackend('native');
    expect(native.name).toBe('native');
    expect(tf.getBackend()).toBe('native');
    expect(native.description).toMatch(/^WebAssembly \(SIMD, .*\), matmuls on ONNX Runtime \d+\.\d+\.\d+, 1 thread$/);
    expect(native.synchronousKernelTimes).toBe(true);
  });

  it('computes a hand-worked 2x3 by 3x2 product, and its transposed forms', async () => {
    await useBackend('native');
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor2d([7, 8, 9, 10, 11, 12], [3, 2]);
    // [1 2 3; 4 5 6] x [7 8; 9 10; 11 12] = [58 64; 139 154]
    expect(Array.from(tf.matMul(a, b).dataSync())).toEqual([58, 64, 139, 154]);
    expect(Array.from(tf.matMul(tf.transpose(a), tf.transpose(b), true, true).dataSync())).toEqual([58, 64, 139, 154]);
    // b^T a^T = (a b)^T
    expect(Array.from(tf.matMul(b, a, true, true).dataSync())).toEqual([58, 139, 64, 154]);
    tf.dispose([a, b]);
  });

  it('agrees with wasm on random products: any transposes, broadcast batches, empty inner dims', async () => {
    const shape = fc.record({
      batchA: fc.constantFrom(1, 3),
      broadcastB: fc.boolean(),
      m: fc.integer({ min: 1, max: 40 }),
      k: fc.integer({ min: 0, max: 40 }),
      n: fc.integer({ min: 1, max: 40 }),
      transposeA: fc.boolean(),
      transposeB: fc.boolean(),
      // From 1: tfjs reads a seed of 0 as no seed, so the two backends would draw different operands.
      seed: fc.integer({ min: 1, max: 1000 }),
    });
    await fc.assert(
      fc.asyncProperty(shape, async ({ batchA, broadcastB, m, k, n, transposeA, transposeB, seed }) => {
        const batchB = broadcastB ? 1 : batchA;
        const product = () =>
          tf.matMul(
            tf.randomNormal(transposeA ? [batchA, k, m] : [batchA, m, k], 0, 1, 'float32', seed),
            tf.randomNormal(transposeB ? [batchB, n, k] : [batchB, k, n], 0, 1, 'float32', seed + 1),
            transposeA,
            transposeB,
          );
        const onNative = await valuesOn('native', product);
        expect(onNative.length).toBe(batchA * m * n);
        // An empty sum is 0 (wasm's XNNPACK refuses k = 0 outright).
        if (k === 0) expect(onNative.every((value) => value === 0)).toBe(true);
        else expect(relativeDifference(onNative, await valuesOn('wasm', product))).toBeLessThan(1e-5);
      }),
      { numRuns: 25 },
    );
  });

  // Against cpu, not wasm: tfjs-backend-wasm 4.22's _FusedMatMul adds the bias wrongly at a batch
  // of 2 (it differs from cpu and from matMul + add by up to 0.1 here); native matches both.
  it('agrees with cpu on a fused product with bias and each activation', async () => {
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
      const fused = () =>
        tf.fused.matMul({
          a: tf.randomNormal([2, 17, 33], 0, 1, 'float32', 1),
          b: tf.randomNormal([2, 33, 9], 0, 1, 'float32', 2),
          bias: tf.randomNormal([9], 0, 1, 'float32', 3),
          activation,
          leakyreluAlpha: 0.1,
        });
      const onCpu = await valuesOn('cpu', fused);
      const onNative = await valuesOn('native', fused);
      expect(relativeDifference(onNative, onCpu), activation).toBeLessThan(1e-5);
    }
  });

  it('agrees with wasm at a model shape: 128x768 by 768x768', async () => {
    const product = () =>
      tf.matMul(tf.randomNormal([128, 768], 0, 1, 'float32', 5), tf.randomNormal([768, 768], 0, 1, 'float32', 6));
    expect(relativeDifference(await valuesOn('native', product), await valuesOn('wasm', product))).toBeLessThan(1e-5);
  });
});

describe.runIf(nativeInstalled)('verify --backend native', () => {
  it('gives the verdict wasm and cpu give, exactly, for a forward pass and a training step', () => {
    const verdict = (backend: string, ...extra: string[]) => {
      const threads = extra[0] === 'threads' ? extra.shift() : undefined;
      const run = spawnSync(process.execPath, [builtCli(), 'verify', 'tiny', '--backend', backend, ...extra], {
        cwd: ROOT,
        encoding: 'utf8',
        // Two threads: ONNX Runtime's, beside the single-thread wasm build (native_backend.ts).
        env: threads === undefined ? process.env : { ...process.env, FLOPLEDGER_WASM_THREADS: '2' },
      });
      if (backend === 'native') {
        const wasmThreads = 'WebAssembly (SIMD, single thread)';
        expect(run.stdout).toContain(
          `${wasmThreads}, matmuls on ONNX Runtime 1.31.1, ${threads ? '2 threads' : '1 thread'}`,
        );
      }
      expect(run.status, run.stderr).toBe(0);
      return run.stdout
        .trim()
        .split('\n')
        .at(-1)!
        .replace(/ on \w+$/, '');
    };
    // tiny: L=2, d=64, F=256, V=256 at 64 tokens: 2 layers x 9 matmuls + lm_head.
    const onNative = verdict('native');
    expect(onNative).toBe('verified: 19 of 19 matmuls match exactly (20,971,520 FLOPs)');
    expect(onNative).toBe(verdict('wasm'));
    expect(onNative).toBe(verdict('cpu'));
    expect(verdict('native', 'threads')).toBe(onNative);
    expect(verdict('native', '--train')).toBe(verdict('wasm', '--train'));
  }, 300_000);

  it("runs on the threaded wasm build's shared heap when that build started first, with one thread of its own", () => {
    builtCli();
    // The threaded build's heap is shared memory, which the binding takes only as copies.
    const script = `
      import * as tf from '@tensorflow/tfjs';
      import { useBackend } from './dist/src/runtime/backend.js';
      const wasm = await useBackend('wasm');
      const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
      const b = tf.tensor2d([[7, 8], [9, 10], [11, 12]]);
      const onWasm = tf.matMul(a, b).arraySync();
      const native = await useBackend('native');
      console.log(JSON.stringify({ wasm: wasm.description, native: native.description, onWasm, onNative: tf.matMul(a, b).arraySync() }));
      process.exit(0);
    `;
    // A file, not -e: the threaded build's workers need the main script to be a file. Under
    // node_modules so that the bare imports resolve from the repository.
    const scratch = mkdtempSync(join(ROOT, 'node_modules', '.flopledger-native-test-'));
    const scriptPath = join(scratch, 'native_after_threaded_wasm.mjs');
    writeFileSync(scriptPath, script.replace("'./dist/", `'${pathToFileURL(join(ROOT, 'dist')).href}/`));
    let run: SpawnSyncReturns<string>;
    try {
      run = spawnSync(process.execPath, [scriptPath], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, FLOPLEDGER_WASM_THREADS: '2' },
      });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(result.wasm).toBe('WebAssembly (SIMD, 2 threads)');
    expect(result.native).toBe('WebAssembly (SIMD, 2 threads), matmuls on ONNX Runtime 1.31.1, 1 thread');
    // [1 2 3; 4 5 6] [7 8; 9 10; 11 12] = [58 64; 139 154]
    expect(result.onWasm).toEqual([
      [58, 64],
      [139, 154],
    ]);
    expect(result.onNative).toEqual(result.onWasm);
  }, 120_000);
});

describe('--backend native without onnxruntime-node', () => {
  it('refuses on one line with exit code 2, naming the package and the fix', () => {
    builtCli();
    // A copy of the built tool beside every dependency but onnxruntime-node: a machine whose
    // optional install failed or was left out.
    const scratch = mkdtempSync(join(os.tmpdir(), 'flopledger-no-native-'));
    try {
      cpSync(join(ROOT, 'dist'), join(scratch, 'dist'), { recursive: true });
      cpSync(join(ROOT, 'models'), join(scratch, 'models'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(scratch, 'package.json'));
      // Each dependency linked by name, the native package left out.
      const modules = join(scratch, 'node_modules');
      mkdirSync(modules);
      for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
        if (entry === 'onnxruntime-node') continue;
        symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
      }
      const run = spawnSync(
        process.execPath,
        [join(scratch, 'dist/src/cli/main.js'), 'verify', 'tiny', '--backend', 'native'],
        {
          cwd: scratch,
          encoding: 'utf8',
        },
      );
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /--backend native: onnxruntime-node is not installed\. To use it: npm install onnxruntime-node/,
      );
      expect(lines[0]).toContain('or use --backend wasm');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
