/**
 * --attention and --block on the command line: blocked counts in flops, verify and trace, every
 * bad value refused with one line, and flops --conventions setting the core dense, blocked and
 * useful side by side, each number worked out here.
 */
import { describe, expect, it } from 'vitest';

import { cli, cliJson } from './helpers/cli_runner.js';

describe('--attention and --block', () => {
  it('flops counts the blocked core: tiny at 64 tokens in 16-blocks keeps 1 + 2 + 3 + 4 of its 16 block pairs', async () => {
    // Per head 10 blocks of 16 x 16 = 2,560 scores; 4 FLOPs per score and head width: 2 layers x 4 x 64 x 2,560.
    const json = await cliJson('flops', 'tiny', '--attention', 'blocked', '--block', '16');
    expect(json.run).toEqual({ batch: 1, seq: 64, attention: { kind: 'blocked', block: 16 } });
    const core = json.components.find((entry: { component: string }) => entry.component === 'attention_core');
    expect(core.flops).toBe(String(2 * 4 * 64 * 2560));
    // The dense count less the skipped blocks: 20,971,520 - 2 x 4 x 64 x (4,096 - 2,560).
    expect(json.total).toBe('20185088');
    const dense = await cliJson('flops', 'tiny', '--attention', 'dense');
    expect(dense.total).toBe('20971520');
    expect(dense.run).toEqual({ batch: 1, seq: 64 });
  });

  it('says how the run computed attention, in the title and the conventions line', async () => {
    const { stdout, code } = await cli('flops', 'tiny', '--attention', 'blocked', '--block', '16');
    expect(code).toBe(0);
    expect(stdout).toContain('Forward matmul FLOPs of tiny, 1 x 64 tokens (blocked attention, 16 x 16 blocks)');
    expect(stdout).toContain(
      'Attention is computed in 16 x 16 blocks: the blocks the causal mask empties are skipped, the others computed in full.',
    );
  });

  it('refuses a bad kind, a bad block, and a block without blocked attention, with exit code 2', async () => {
    expect(await cli('flops', 'tiny', '--attention', 'flash')).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'flopledger: --attention: "flash" is not a way to compute attention; use --attention dense (every T x T score, ' +
        'then the mask) or --attention blocked (query and key blocks of --block positions; blocks the mask empties are skipped)\n',
    });
    expect(await cli('flops', 'tiny', '--attention', 'blocked', '--block', '0')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'flopledger: --block: "0" is not a positive integer; use e.g. --block 64\n',
    });
    expect(await cli('verify', 'tiny', '--backend', 'meta', '--block', '16')).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'flopledger: --block 16: the block size applies to blocked attention only; add --attention blocked, or leave out --block\n',
    });
  });

  it('verify and trace run the model block by block', async () => {
    const verified = await cli(
      'verify',
      'tiny',
      '--backend',
      'meta',
      '--attention',
      'blocked',
      '--block',
      '16',
      '--depth',
      '0',
    );
    expect(verified.code).toBe(0);
    // 9 per layer + lm_head with the core's 2 per layer replaced by 2 per computed pair: 2 x (7 + 2 x 10) + 1.
    expect(verified.stdout).toContain(
      '376 kernels traced, 55 matmuls (55 expected (9 per layer + lm_head; the core 2 per computed block))',
    );
    expect(verified.stdout).toContain('verified: 55 of 55 matmuls match exactly (20,185,088 FLOPs) on meta');
    const traced = await cliJson(
      'trace',
      'tiny',
      '--backend',
      'meta',
      '--attention',
      'blocked',
      '--block',
      '32',
      '--depth',
      '3',
    );
    const paths = new Set<string>(
      traced.kernels
        .filter((kernel: { matmul?: unknown }) => kernel.matmul !== undefined)
        .map((kernel: { path: string }) => kernel.path),
    );
    for (const block of ['q0_k0', 'q1_k0', 'q1_k1']) {
      expect(paths).toContain(`layers.1.attn.scores.${block}`);
      expect(paths).toContain(`layers.1.attn.weighted_sum.${block}`);
    }
    expect(paths).not.toContain('layers.1.attn.scores.q0_k1');
  });
});

describe('flops --conventions with a sliding window', () => {
  it('sets Mistral-7B dense, blocked and useful side by side at 8,192 tokens', async () => {
    // Per layer and per FLOP of a score: 4 x B x H x dh = 4 x 4,096 = 16,384; x 32 layers = 524,288.
    // Dense: 8,192^2 scores. Useful, window 4,096: 4,096 x 4,097 / 2 + 4,096 x 4,096 = 25,167,872.
    // Blocked in 64-blocks: 128 query blocks each keeping min(a, 64) + 1 key blocks (the window
    // reaches floor((4,096 + 62) / 64) = 64 blocks back): 2,145 + 63 x 65 = 6,240 pairs of 4,096 scores.
    const json = await cliJson('flops', 'mistral-7b', '--conventions', '--seq', '8192');
    expect(json.attention_core).toEqual({
      full: String(524_288n * 8192n * 8192n),
      causal_triangle: String((524_288n * 8192n * 8193n) / 2n),
      half: String((524_288n * 8192n * 8192n) / 2n),
      useful: String(524_288n * 25_167_872n),
      blocked: { block: 64, flops: String(524_288n * 6240n * 4096n) },
      counted: 'dense',
    });
    const counts = new Map<string, string>(
      json.counts.map((count: { convention: string; value: string }) => [count.convention, count.value]),
    );
    const total = BigInt(json.counts[0].value);
    expect(total).toBe(151_681_065_025_536n);
    expect(counts.get('attention_blocked')).toBe(String(total - 524_288n * 8192n * 8192n + 524_288n * 6240n * 4096n));
    expect(counts.get('attention_useful')).toBe(String(total - 524_288n * 8192n * 8192n + 524_288n * 25_167_872n));
    const { stdout } = await cli('flops', 'mistral-7b', '--conventions', '--seq', '8192');
    expect(stdout).toContain('Attention core (q @ k^T and P @ v), counted each way');
    expect(stdout).toMatch(/│ dense \(this run\)\s+│ 35,184,372,088,832 │ 35\.18 TFLOP │\s+1\.0000x │\s+2\.6664x │/);
    expect(stdout).toMatch(
      /│ blocked, 64 x 64 blocks\s+│ 13,400,297,963,520 │ 13\.40 TFLOP │\s+0\.3809x │\s+1\.0155x │/,
    );
    expect(stdout).toMatch(
      /│ useful: the window band\s+│ 13,195,213,275,136 │ 13\.20 TFLOP │\s+0\.3750x │\s+1\.0000x │/,
    );
  });

  it('counts a blocked run by its blocks and shows the dense count beside it', async () => {
    const json = await cliJson('flops', 'mistral-7b', '--conventions', '--seq', '8192', '--attention', 'blocked');
    expect(json.attention_core.counted).toBe('blocked');
    expect(json.counts[0].value).toBe(
      String(151_681_065_025_536n - 524_288n * 8192n * 8192n + 524_288n * 6240n * 4096n),
    );
    const dense = json.counts.find((count: { convention: string }) => count.convention === 'attention_dense');
    expect(dense.value).toBe('151681065025536');
  });
});
