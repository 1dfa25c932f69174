import { describe, expect, it } from 'vitest';

import { cli, cliJson } from './helpers/cli_runner.js';

/** The tiny preset: V 256, ctx 64, L 2, d 64, H 4 (dk 16), F 256. */
const TINY = { V: 256n, L: 2, d: 64n, F: 256n, T: 64n };

/** The 9 matmul paths of one layer in execution order, then lm_head: the model's order on paper. */
function matmulPaths(layers: number): string[] {
  const paths: string[] = [];
  for (let i = 0; i < layers; i++) {
    for (const leaf of [
      'attn.q_proj',
      'attn.k_proj',
      'attn.v_proj',
      'attn.scores',
      'attn.weighted_sum',
      'attn.output_proj',
      'ffn.w1',
      'ffn.w3',
      'ffn.w2',
    ]) {
      paths.push(`layers.${i}.${leaf}`);
    }
  }
  return [...paths, 'lm_head'];
}

/** Per sequence: L * (2T(4d^2 + 3dF) + 4T^2 d) + 2TdV, by hand. */
const TINY_MATMUL_FLOPS =
  BigInt(TINY.L) * (2n * TINY.T * (4n * TINY.d * TINY.d + 3n * TINY.d * TINY.F) + 4n * TINY.T * TINY.T * TINY.d) +
  2n * TINY.T * TINY.d * TINY.V;

/** A kernel and a module row of the trace command's JSON, as these tests read them. */
interface KernelJson {
  index: number;
  kernel: string;
  path: string;
  matmul: unknown;
  flops: string;
}
interface ModuleJson {
  module: string;
  flops: string;
  kernels: number;
  matmul_kernels: number;
}

describe('flopledger trace', () => {
  it('lists every kernel with its module path in JSON', async () => {
    const json = await cliJson('trace', 'tiny', '--backend', 'cpu');
    expect(json.backend.name).toBe('cpu');
    expect(json.logits_shape).toEqual([1, 64, 256]);
    const kernels = json.kernels as KernelJson[];
    expect(kernels.length).toBe(json.totals.kernels);
    kernels.forEach((kernel, index) => {
      expect(kernel.index).toBe(index);
      expect(typeof kernel.kernel).toBe('string');
      expect(kernel.path).toMatch(
        /^(token_embeddings|ln_final|lm_head|layers\.[01](\.(ln1|ln2|attn|ffn)(\.[a-z_0-9]+)?)?)$/,
      );
    });
    const matmuls = kernels.filter((kernel) => kernel.matmul !== null);
    expect(matmuls.map((kernel) => kernel.path)).toEqual(matmulPaths(TINY.L));
    expect(matmuls.every((kernel) => kernel.kernel === 'BatchMatMul')).toBe(true);
    expect(BigInt(json.totals.matmul_flops)).toBe(TINY_MATMUL_FLOPS);
    // Every kernel's FLOPs are exact decimal strings, and they add up to the total.
    const sum = kernels.reduce((total, kernel) => total + BigInt(kernel.flops), 0n);
    expect(sum).toBe(BigInt(json.totals.flops));
    // The embedding lookup is a gather at token_embeddings, 0 FLOPs by the table.
    expect(kernels[0]).toMatchObject({ kernel: 'GatherV2', path: 'token_embeddings', flops: '0' });
  });

  it('rolls kernels up by module path at depths 0, 1 and 2, each summing to the total', async () => {
    const full = await cliJson('trace', 'tiny', '--backend', 'cpu');
    const expectedModules: Record<number, string[]> = {
      0: [''],
      1: ['token_embeddings', 'layers', 'ln_final', 'lm_head'],
      2: ['token_embeddings', 'layers.0', 'layers.1', 'ln_final', 'lm_head'],
    };
    for (const depth of [0, 1, 2]) {
      const json = await cliJson('trace', 'tiny', '--backend', 'cpu', '--depth', String(depth));
      expect(json.modules.map((module: ModuleJson) => module.module)).toEqual(expectedModules[depth]);
      const flops = json.modules.reduce((total: bigint, module: ModuleJson) => total + BigInt(module.flops), 0n);
      const kernels = json.modules.reduce((total: number, module: ModuleJson) => total + module.kernels, 0);
      const matmulKernels = json.modules.reduce(
        (total: number, module: ModuleJson) => total + module.matmul_kernels,
        0,
      );
      expect(flops).toBe(BigInt(full.totals.flops));
      expect(kernels).toBe(full.kernels.length);
      expect(matmulKernels).toBe(9 * TINY.L + 1);
    }
  });

  it('prints one table row per kernel at depth 3 and a roll-up table otherwise', async () => {
    const perKernel = await cli('trace', 'tiny', '--backend', 'cpu');
    expect(perKernel.code).toBe(0);
    expect(perKernel.stdout).toContain('Trace of tiny, 1 x 64 tokens, on cpu');
    expect(perKernel.stdout).toMatch(
      /│ +0 │ token_embeddings +│ GatherV2 +│ \[256,64\], \[1,64\] -> \[1,64,64\] +│ +0 │ +0\.0% │/,
    );
    const perLayer = await cli('trace', 'tiny', '--backend', 'cpu', '--depth', '2');
    expect(perLayer.stdout).toMatch(/│ layers\.0 +│/);
    expect(perLayer.stdout).not.toContain('GatherV2');
  });

  it('traces full-size GPT-2 XL on meta', async () => {
    const json = await cliJson('trace', 'gpt2-xl', '--backend', 'meta', '--depth', '1');
    expect(json.totals.matmul_kernels).toBe(433);
    expect(json.totals.matmul_flops).toBe('4513336524800');
    expect(json.logits_shape).toEqual([1, 1024, 50257]);
  });
});

describe('flopledger verify', () => {
  it('exits 0 for tiny on the default backend with every matmul matched', async () => {
    const result = await cli('verify', 'tiny');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(
      new RegExp(
        `^verified: 19 of 19 matmuls match exactly \\(${groupDigits(TINY_MATMUL_FLOPS)} FLOPs\\) on (native|wasm|tensorflow)$`,
      ),
    );
  });

  it('carries every check in JSON with exact decimal strings', async () => {
    const json = await cliJson('verify', 'tiny', '--backend', 'cpu', '--seq', '16', '--batch', '2', '--seed', '3');
    expect(json.ok).toBe(true);
    expect(json.run).toEqual({ batch: 2, seq: 16 });
    expect(json.matmuls.checks).toHaveLength(19);
    expect(json.matmuls.checks.every((check: { status: string }) => check.status === 'match')).toBe(true);
    expect(json.matmuls.mismatches).toEqual([]);
    const q = json.matmuls.checks[0];
    // q_proj: batch 2 of [16,64] x [64,64], folded to 32 rows: 2 * 32 * 64 * 64 FLOPs.
    expect(q.expected).toMatchObject({ rows: '32', k: 64, n: 64, flops: String(2 * 32 * 64 * 64) });
    expect(q.traced.flops).toBe(q.expected.flops);
    expect(json.non_matmul.difference).toBe('0');
  });

  it('verifies GPT-2 XL at 16,384 tokens on meta', async () => {
    const result = await cli(
      'verify',
      'gpt2-xl',
      '--backend',
      'meta',
      '--ctx',
      '16384',
      '--seq',
      '16384',
      '--depth',
      '0',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('verified: 433 of 433 matmuls match exactly (149,522,795,724,800 FLOPs) on meta');
  });

  it("verifies a length beyond float32's exact positions (2^24) on meta, which computes no mask values", async () => {
    const result = await cli(
      'verify',
      'tiny',
      '--backend',
      'meta',
      '--ctx',
      '17000000',
      '--seq',
      '17000000',
      '--depth',
      '0',
    );
    expect(result.code).toBe(0);
    // L (8 T d^2 + 4 T^2 d + 6 T d F) + 2 T d V at L 2, d 64, F 256, V 256, T 17,000,000
    const [T, d, F, V, L] = [17_000_000n, 64n, 256n, 256n, 2n];
    const flops = L * (8n * T * d * d + 4n * T * T * d + 6n * T * d * F) + 2n * T * d * V;
    expect(result.stdout).toContain(
      `verified: 19 of 19 matmuls match exactly (${flops.toLocaleString('en-US')} FLOPs) on meta`,
    );
  });

  it('refuses a real run over --max-memory before allocating: exit 2, one line naming --backend meta', async () => {
    const result = await cli('verify', 'gpt2-xl', '--backend', 'wasm', '--max-memory', '1GB');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^flopledger: gpt2-xl at batch 1 x 1024 tokens needs about [\d.]+ [kMGT]B on wasm \(weights 8\.51 GB \+ their packed copies 8\.19 GB \+ activations [\d.]+ [kMGT]B\), over the 1\.00 GB budget \(--max-memory\); use --backend meta/,
    );
  });

  it('refuses the same run on the trace command', async () => {
    const result = await cli('trace', 'gpt2-xl', '--backend', 'cpu', '--max-memory', '2GiB');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('over the 2.15 GB budget (--max-memory); use --backend meta');
  });

  it.each([
    [
      ['--max-memory', 'garbage'],
      'flopledger: --max-memory: "garbage" is not a size; use a number with a unit, e.g. --max-memory 8GB or --max-memory 512MiB',
    ],
    [['--max-memory', '0GB'], 'flopledger: --max-memory: "0GB" is zero; give a positive size, e.g. --max-memory 8GB'],
    [['--backend', 'gpu'], 'flopledger: --backend: "gpu" is not one of auto, cpu, wasm, native, tensorflow, meta'],
    [['--seed', '-1'], 'flopledger: --seed: "-1" is not a whole number from 0 to 2^53 - 1; use e.g. --seed 0'],
    [['--seed', '1.5'], 'flopledger: --seed: "1.5" is not a whole number from 0 to 2^53 - 1; use e.g. --seed 0'],
  ])('exits 2 with one line for %j', async (flags, line) => {
    const result = await cli('verify', 'tiny', ...flags);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`${line}\n`);
  });

  it('exits 2 for a seq beyond the context of a learned position table, naming --ctx', async () => {
    const result = await cli('verify', 'gpt2-original-small', '--backend', 'meta', '--seq', '1025');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--seq 1025 is longer than the context length of gpt2-original-small (1024)');
    expect(result.stderr).toContain('add --ctx 1025');
  });
});

function groupDigits(value: bigint): string {
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
