/**
 * The `time` command through run(argv): exit codes, messages and the structure of its JSON.
 * Durations vary from run to run and machine to machine, so nothing here asserts one: only
 * counts, keys and types.
 */
import { describe, expect, it } from 'vitest';
import { cli } from './helpers/cli_runner.js';

describe('time: refusals', () => {
  it('says tfjs-node is missing or broken and how to install it, with exit 2', async () => {
    const { code, stdout, stderr } = await cli('time', 'tiny', '--backend', 'tensorflow');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^flopledger: --backend tensorflow: .*(not installed|failed to load)/);
    expect(stderr).toContain('npm install @tensorflow/tfjs-node');
  });

  it('refuses the meta backend, which computes nothing', async () => {
    const { code, stderr } = await cli('time', 'tiny', '--backend', 'meta');
    expect(code).toBe(2);
    expect(stderr).toContain('use --backend wasm');
  });

  it('refuses a malformed sweep before starting a backend', async () => {
    const bad = await cli('time', 'tiny', '--sweep', 'tokens=1,2');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--sweep seq=64,128,256');
    const single = await cli('time', 'tiny', '--sweep', 'seq=16');
    expect(single.code).toBe(2);
    expect(single.stderr).toContain('at least 2');
    // An empty item is refused as in every list flag (it used to be dropped silently).
    const empty = await cli('time', 'tiny', '--sweep', 'seq=16,,32');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe(
      'flopledger: --sweep: "" in "16,,32" is not a positive integer; use e.g. --sweep seq=64,128,256\n',
    );
  });
});

describe('time: JSON structure', () => {
  it('times tiny twice and reports wall times, rates, calibration and shares', async () => {
    const { code, stdout, stderr } = await cli(
      'time',
      'tiny',
      '--runs',
      '2',
      '--format',
      'json',
      '--backend',
      'wasm',
      '--quiet',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.backend).toBe('wasm');
    expect(json.synchronous_kernel_times).toBe(true);
    expect(json.run).toEqual({ batch: 1, seq: 64 });
    expect(json.runs).toBe(2);
    expect(json.wall_ms.samples).toHaveLength(2);
    for (const key of ['min', 'median', 'max', 'mean']) expect(typeof json.wall_ms[key]).toBe('number');
    expect(json.warmup_runs).toBeGreaterThanOrEqual(2);
    expect(json.matmul_flops).toMatch(/^\d+$/);
    expect(typeof json.achieved_gflops).toBe('number');
    expect(typeof json.tokens_per_second).toBe('number');
    // tiny: 2 layers x 9 matmuls + lm_head; the largest is ffn.w1 ([64,64] x [64,256]), tied with lm_head.
    expect(json.calibration.path).toBe('layers.0.ffn.w1');
    expect(json.calibration.dispatched.flops).toBe(String(2 * 64 * 64 * 256));
    // The fast-path row is there only when the model dispatches its largest matmul some other way.
    const { fast_path: fastPath, dispatched } = json.calibration;
    if (fastPath === null) expect(dispatched.label).toBe('[64,64] x [64,256]');
    else expect([fastPath.label, fastPath.flops]).toEqual(['[64,64] x [64,256]', dispatched.flops]);
    expect(json.calibration.calibrated_gflops).toBe(Math.max(dispatched.gflops, fastPath?.gflops ?? 0));
    expect(json.shares.by).toBe('component');
    const rows = json.shares.rows as { key: string; kernels: number; time_share: number; flop_share: number }[];
    expect(rows.map((row) => row.key)).toEqual([
      'attention_projections',
      'attention_core',
      'ffn',
      'lm_head',
      'non_matmul',
    ]);
    // On wasm the core runs one 2-D matmul per head (src/model/head_matmul.ts): 2 layers x 2 x 4 heads.
    expect(rows.slice(0, 4).map((row) => row.kernels)).toEqual([8, 2 * 2 * 4, 6, 1]);
    expect(rows.reduce((total, row) => total + row.time_share, 0)).toBeCloseTo(1, 9);
    expect(rows.reduce((total, row) => total + row.flop_share, 0)).toBeCloseTo(1, 9);
    expect(json.traced.kernels).toBe(rows.reduce((total, row) => total + row.kernels, 0));
    expect(Array.isArray(json.where_time_goes)).toBe(true);
  });

  it('sweeps sequence lengths into points and a fit, in the shape `report --timing` reads', async () => {
    const { code, stdout } = await cli(
      'time',
      'tiny',
      '--sweep',
      'seq=16,32',
      '--runs',
      '2',
      '--warmup',
      '1',
      '--format',
      'json',
      '--backend',
      'wasm',
      '--quiet',
    );
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.backend).toBe('wasm');
    expect(json.points.map((point: { label: string }) => point.label)).toEqual(['seq=16', 'seq=32']);
    for (const point of json.points) {
      expect(point.flops).toMatch(/^\d+$/);
      expect(typeof point.median_ms).toBe('number');
      expect(point.runs).toBe(2);
    }
    expect(BigInt(json.points[1].flops)).toBeGreaterThan(BigInt(json.points[0].flops));
    expect(Object.keys(json.fit).sort()).toEqual(['intercept_ms', 'marginal_gflops', 'ms_per_gflop', 'points', 'r2']);
    expect(json.fit.points).toBe(2);
  });
});
