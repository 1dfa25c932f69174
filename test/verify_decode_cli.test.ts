/**
 * `verify --decode`: a prefill and decode steps traced and checked exactly, rendered like every
 * command, with bad flags refused in one line and a real run held to the memory guard.
 */
import { describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli_runner.js';

// Llama-3-8B by hand (config.json of meta-llama/Meta-Llama-3-8B): L 32, d 4096, 32 heads of 128,
// 8 KV heads (dkv 1024), F 14336, V 128256, untied.
const [L, d, dkv, F, V, H, Hkv, dh] = [32n, 4096n, 1024n, 14_336n, 128_256n, 32n, 8n, 128n];
/** Every linear layer inside the blocks: q and output d x d, k and v d x dkv, three FFN matrices d x F. */
const LINEAR = L * (2n * d * d + 2n * d * dkv + 3n * d * F);
/** One token at context t: 2 FLOPs per weight it passes (blocks and lm_head) and 4 H dh t per layer for q k^T and P v. */
const decodePerToken = (t: bigint) => 2n * (LINEAR + d * V) + 4n * L * H * dh * t;
/** The fp32 cache of one sequence at context t: K and V x Hkv x dh x 4 bytes x L layers x t. */
const fp32Cache = (t: bigint) => 2n * Hkv * dh * 4n * L * t;

describe('verify --decode', () => {
  it('verifies Llama-3-8B on meta exactly: a 4,096-token prefill and 16 steps, each at the closed form', async () => {
    const json = await cliJson(
      'verify',
      'llama-3-8b',
      '--backend',
      'meta',
      '--decode',
      '--prompt',
      '4096',
      '--generate',
      '16',
      '--quiet',
    );
    expect(json.ok).toBe(true);
    expect(json.request).toEqual({ batch: 1, prompt: 4096, generate: 16, new_tokens: 1 });
    expect(json.passes).toHaveLength(17);
    const P = 4096n;
    // The prefill: every block linear layer over P tokens, the causal square scored densely, lm_head at every position.
    const prefill = 2n * P * (LINEAR + d * V) + L * 4n * P * P * d;
    expect(json.passes[0]).toMatchObject({ pass: 'prefill', ok: true, mismatches: [] });
    expect(json.passes[0].matmuls.traced_total).toBe(prefill.toString());
    expect(json.passes[0].cache).toEqual({
      context: 4096,
      formula_bytes: fp32Cache(P).toString(),
      measured_bytes: fp32Cache(P).toString(),
    });
    for (let j = 1; j <= 16; j++) {
      const t = P + BigInt(j);
      const pass = json.passes[j];
      expect(pass).toMatchObject({ pass: `step ${j}`, cached: 4096 + j - 1, new_tokens: 1, ok: true, mismatches: [] });
      expect(pass.matmuls.traced_total).toBe(decodePerToken(t).toString());
      expect(pass.matmuls.expected_total).toBe(decodePerToken(t).toString());
      expect(pass.matmuls).toMatchObject({ expected_count: 289, matched_count: 289 });
      expect(pass.cache.measured_bytes).toBe(fp32Cache(t).toString());
    }
    expect(json.verdict).toMatch(/^verified: prefill and 16 decode steps, 4,913 of 4,913 matmuls match exactly/);
  }, 60_000);

  it('folds --batch into the rows: two sequences cost twice one', async () => {
    const json = await cliJson(
      'verify',
      'llama-3-8b',
      '--backend',
      'meta',
      '--decode',
      '--prompt',
      '64',
      '--generate',
      '2',
      '--batch',
      '2',
      '--quiet',
    );
    expect(json.ok).toBe(true);
    expect(
      json.passes.map((pass: { matmuls: { traced_total: string } }) => pass.matmuls.traced_total).slice(1),
    ).toEqual([(2n * decodePerToken(65n)).toString(), (2n * decodePerToken(66n)).toString()]);
    expect(json.passes[2].cache.measured_bytes).toBe((2n * fp32Cache(66n)).toString());
  }, 60_000);

  it('renders Markdown and CSV like every command', async () => {
    const args = [
      'verify',
      'gpt2-small',
      '--backend',
      'meta',
      '--decode',
      '--prompt',
      '8',
      '--generate',
      '2',
      '--quiet',
    ];
    const markdown = await cli(...args, '--format', 'markdown');
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toContain('| step 2 |');
    expect(markdown.stdout).toContain('verified: prefill and 2 decode steps');
    const csv = await cli(...args, '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n').filter((line) => line.startsWith('step '))).toHaveLength(2);
  }, 60_000);

  it('refuses bad flags in one line naming the flag, with exit code 2', async () => {
    const cases: [string[], string][] = [
      [['--prompt', '8', '--generate', '2'], '--prompt needs --decode; add --decode to trace generation'],
      [['--decode', '--generate', '2'], '--prompt is required: the prompt length in tokens; use e.g. --prompt 4096'],
      [['--decode', '--prompt', '8', '--generate', '0'], '--generate'],
      [
        ['--decode', '--prompt', '8', '--generate', '2', '--seq', '8'],
        '--seq does not go with --decode: give the prompt with --prompt',
      ],
      // GPT-2's learned position table has one row per position: past its context is another model.
      [['--decode', '--prompt', '1000', '--generate', '100'], 'add --ctx 1100 to count the larger table'],
    ];
    for (const [flags, message] of cases) {
      const result = await cli('verify', 'gpt2-original-small', '--backend', 'meta', '--quiet', ...flags);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(message);
    }
  });

  it('holds a real decode to the one memory guard before anything runs', async () => {
    const result = await cli(
      'verify',
      'gpt2-small',
      '--backend',
      'cpu',
      '--decode',
      '--prompt',
      '512',
      '--generate',
      '4',
      '--max-memory',
      '1GB',
      '--quiet',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('decoding gpt2-small at batch 1 x 516 tokens needs about');
    expect(result.stderr).toContain('the KV cache and its extended copy');
    expect(result.stderr).toContain('lower --prompt/--generate/--batch');
  });
});
