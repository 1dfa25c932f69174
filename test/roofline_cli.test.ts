/**
 * The roofline and devices commands: the FasterTransformer 13B case through the CLI (source and
 * measured figures in test/roofline_fastertransformer.test.ts), overrides, refusals, formats.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/built_cli.js';
import { cli, cliJson } from './helpers/cli_runner.js';

const FT = 'test/fixtures/gpt-13b-fastertransformer.json';
const A100 = ['--device', 'a100-40gb-sxm', '--dtype', 'fp16'];

/** An exact fraction as the JSON writes it. */
const exact = (numerator: bigint, denominator: bigint) => ({
  numerator: numerator.toString(),
  denominator: denominator.toString(),
});

describe('roofline command', () => {
  it('predicts the FasterTransformer 13B prefill and decode at the device defaults', async () => {
    const prefill = await cliJson('roofline', FT, ...A100, '--mode', 'prefill', '--prompt', '512');
    expect(prefill.totals.seconds).toEqual(exact(22_587_665_540_623n, 288_063_750_000_000n));
    expect(prefill.totals.kernels).toBe(1973);
    expect(prefill.assumptions).toMatchObject({
      compute_efficiency: exact(19n, 20n),
      memory_efficiency: exact(9n, 10n),
      launch_seconds: exact(1n, 200_000n),
      compute_efficiency_default: true,
    });
    const decode = await cliJson('roofline', FT, ...A100, '--mode', 'decode', '--prompt', '512', '--generate', '10');
    // 10 steps: 10 x 27.77 ms
    expect(decode.totals.seconds).toEqual(exact(19_432_791_833n, 69_975_000_000n));
    expect(decode.totals.milliseconds_per_token).toBeCloseTo(27.771, 3);
    expect(decode.tokens).toBe('10');
    expect(decode.totals.read.kv_cache).toBe((2n * 40n * 5120n * 2n * (513n + 522n) * 5n).toString());
  });

  it('reports per module: bound, time, share, MFU; shares add up to the whole', async () => {
    const json = await cliJson(
      'roofline',
      'gpt2-original-small',
      '--device',
      'h100-sxm',
      '--seq',
      '1024',
      '--batch',
      '8',
    );
    const modules: { module: string; share_percent: number; bound: string }[] = json.modules;
    expect(modules.map((module) => module.module)).toContain('layers.*.attn.q_proj');
    expect(modules.map((module) => module.module)).toContain('lm_head');
    expect(modules.reduce((total, module) => total + module.share_percent, 0)).toBeCloseTo(100, 9);
    const lmHead = modules.find((module) => module.module === 'lm_head')!;
    expect(lmHead.bound).toBe('compute');
    const perLayer = await cliJson('roofline', 'gpt2-original-small', '--device', 'h100-sxm', '--depth', '2');
    expect(perLayer.modules.map((module: { module: string }) => module.module)).toContain('layers.11');
    // 8 x 1024 tokens
    expect(json.tokens).toBe('8192');
  });

  it('takes the efficiencies, launch cost, peak and bandwidth from flags and says so', async () => {
    const json = await cliJson(
      'roofline',
      'gpt2-original-small',
      '--device',
      'h100-sxm',
      '--compute-efficiency',
      '50%',
      '--memory-efficiency',
      '0.8',
      '--launch-us',
      '0',
      '--bandwidth',
      '2TB/s',
      '--peak-flops',
      '500T',
    );
    expect(json.assumptions).toMatchObject({
      compute_efficiency: exact(1n, 2n),
      compute_efficiency_default: false,
      memory_efficiency: exact(4n, 5n),
      launch_seconds: exact(0n, 1n),
      launch_seconds_default: false,
      bandwidth: '2000000000000',
      bandwidth_from: 'given',
      matmul_peak: '500000000000000',
      matmul_peak_from: 'given',
    });
    expect(json.totals.seconds_by_bound.launch).toEqual(exact(0n, 1n));
  });

  it('refuses an MFU above 100% as an error, never a figure', async () => {
    const result = await cli(
      'roofline',
      'gpt2-original-small',
      '--device',
      'h100-sxm',
      '--peak-flops',
      '1T',
      '--vector-flops',
      '1000T',
      '--bandwidth',
      '1000000T',
      '--launch-us',
      '0',
    );
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/MFU above 100%/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [['--device', 'h100'], /--device: unknown device "h100"; did you mean --device h100-sxm or --device h100-pcie\?/],
    [['--device', 'tpu-v9'], /--device: unknown device "tpu-v9"; did you mean --device tpu-v5e\?/],
    [['--device', 'gaudi3'], /--device: unknown device "gaudi3"; use one of a100-40gb-sxm, .*tpu-v5e$/m],
    [[], /--device is required: .*use e\.g\. --device h100-sxm/],
    [['--device', 'h100-sxm', '--mode', 'decod'], /--mode: "decod" is not a mode; did you mean --mode decode\?/],
    [['--device', 'h100-sxm', '--mode', 'decode', '--prompt', '16'], /--generate is required with --mode decode/],
    [['--device', 'h100-sxm', '--mode', 'decode', '--seq', '16'], /--seq 16: applies to --mode forward or train/],
    [['--device', 'h100-sxm', '--generate', '4'], /--generate 4: applies to --mode decode, not --mode forward/],
    [['--device', 'h100-sxm', '--compute-efficiency', '1.5'], /--compute-efficiency: "1\.5" is more than 100%/],
    [['--device', 'h100-sxm', '--bandwidth', 'fast'], /--bandwidth: "fast" is not a rate in bytes\/s/],
    [['--device', 'h100-sxm', '--peak-flops', '0.5'], /--peak-flops: "0\.5" is not a whole number of FLOP\/s/],
    [['--device', 'h100-sxm', '--launch-us', '-1'], /--launch-us: "-1" is not a number of microseconds/],
    [['--device', 'h100-sxm', '--dtype', 'fp4'], /--dtype: "fp4" is not a dtype of the device table/],
    [['--device', 'a100-40gb-sxm', '--dtype', 'fp8'], /no sourced dense fp8 peak.*use --dtype/],
    [['--device', 'h100-sxm', '--mode', 'prefill', '--prompt', '2048'], /--prompt 2048 needs 2048 positions/],
  ])('refuses %j in one line, exit 2', async (flags, message) => {
    const result = await cli('roofline', 'gpt2-original-small', ...flags);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
  });

  it("prints the README tour's lines as the README shows them", async () => {
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    const block = /\$ flopledger (roofline [^\n]+)\n([\s\S]*?)\n```/.exec(readme);
    expect(block).not.toBeNull();
    const [, command, lines] = block!;
    const { code, stdout } = await cli(...command!.split(' '));
    expect(code).toBe(0);
    for (const line of lines!.split('\n')) expect(stdout).toContain(line);
  });

  it('writes Markdown and CSV like every command', async () => {
    const markdown = await cli('roofline', 'tiny', '--device', 'l4', '--format', 'markdown');
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toMatch(/\| module \| kernels \| FLOPs \|/);
    const csv = await cli('roofline', 'tiny', '--device', 'l4', '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout).toMatch(/module,kernels,FLOPs,bytes,FLOP\/B,bound,ms,share,MFU/);
  });
});

describe('devices command', () => {
  it('lists every device with its ridge point and every figure with its source', async () => {
    const json = await cliJson('devices');
    expect(json.devices).toHaveLength(14);
    const h100 = json.devices.find((device: { id: string }) => device.id === 'h100-sxm');
    // 989.4e12 / 3.35e12 = 9894 / 33.5 = 19788 / 67
    expect(h100.bf16_ridge).toEqual(exact(19_788n, 67n));
    expect(h100.peaks.bf16).toMatchObject({
      value: '989400000000000',
      dense: true,
      source: 'nvidia-hopper-whitepaper',
    });
    expect(Object.keys(json.sources)).toContain('nvidia-h100-datasheet');
    const table = await cli('devices');
    expect(table.stdout).toMatch(/Every figure and its source/);
    expect(table.stdout).toMatch(/halved sparse/);
    // int8 tensor cores do integer operations: the column and figures say TOPS, not TFLOP/s
    expect(table.stdout).toMatch(/int8 TOPS/);
    expect(table.stdout).not.toMatch(/int8 TFLOP\/s/);
    // L4: "485 TOPS*" with sparsity, halved
    expect(table.stdout).toMatch(/l4 +│ int8 dense peak │ +242\.5 TOPS/);
    const int8 = await cli('roofline', 'tiny', '--device', 'l4', '--dtype', 'int8');
    expect(int8.stdout).toMatch(/matmul peak: 242,500 GOPS dense int8/);
  });
});
