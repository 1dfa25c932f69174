import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli_runner.js';
import { ROOT } from './helpers/built_cli.js';

/** The infer command's JSON; each test reads the fields it checks. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed report, read field by field
async function inferJson(...argv: string[]): Promise<any> {
  return cliJson('infer', ...argv);
}

// Llama-3-8B by hand: L 32, d 4096, 32 heads of 128, 8 KV heads (dkv 1024), F 14336, V 128256.
const [L, d, dkv, F, V, H, dh] = [32n, 4096n, 1024n, 14_336n, 128_256n, 32n, 128n];
const PARAMETERS = 8_030_261_248n;
const LINEAR = L * (2n * d * d + 2n * d * dkv + 3n * d * F); // the block linear layers' parameters
/** Matmul FLOPs of one token at context t: 2 x every matrix it passes, and 4 H dh t per layer for the core. */
const decodePerToken = (t: bigint) => 2n * (LINEAR + d * V) + 4n * L * H * dh * t;
const KV_PER_TOKEN = 2n * 8n * 128n * 32n * 2n; // bf16: 131,072

describe('infer command', () => {
  it('answers Llama-3-8B with int4 weights: 2 sequences, a 4,096-token prompt, 16 generated tokens', async () => {
    const json = await inferJson(
      'llama-3-8b',
      '--prompt',
      '4096',
      '--generate',
      '16',
      '--batch',
      '2',
      '--weight-dtype',
      'int4',
    );
    expect(json.request).toEqual({
      batch: 2,
      prompt: 4096,
      generate: 16,
      memory_bytes: { value: '80000000000', default: true },
    });
    const P = 4096n;
    const body = L * ((2n * P * LINEAR) / L + 4n * P * P * d);
    expect(json.prefill.all_logits).toBe((2n * (body + 2n * P * d * V)).toString());
    expect(json.prefill.last_logits).toBe((2n * (body + 2n * d * V)).toString());
    expect(json.decode.first).toMatchObject({ context: 4097, flops_per_token: decodePerToken(4097n).toString() });
    expect(json.decode.last).toMatchObject({ context: 4112, flops_per_token: decodePerToken(4112n).toString() });
    let total = 0n;
    for (let t = 4097n; t <= 4112n; t++) total += 2n * decodePerToken(t);
    expect(json.decode.total).toBe(total.toString());
    expect(json.kv_cache.per_token).toBe(KV_PER_TOKEN.toString());
    expect(json.kv_cache.per_sequence_at_end).toBe((4112n * KV_PER_TOKEN).toString());
    // ggml Q4_0: 18 bytes per 32 values for the block linear layers; bf16 for the rest.
    const weights = (LINEAR / 32n) * 18n + 2n * (PARAMETERS - LINEAR);
    expect(json.weights.total).toBe(weights.toString());
    expect(json.formats.weights).toMatchObject({ dtype: 'int4', value_bits: '4', group_size: 32, kept_dtype: 'bf16' });
    // Read per step: the weights less the embedding table but its 2 gathered rows, and both caches.
    const weightsRead = weights - V * d * 2n + 2n * d * 2n;
    expect(json.decode.last).toMatchObject({
      weights_read: weightsRead.toString(),
      kv_cache_read: (2n * 4112n * KV_PER_TOKEN).toString(),
      bytes_read: (weightsRead + 2n * 4112n * KV_PER_TOKEN).toString(),
    });
    const memory = 80n * 10n ** 9n;
    expect(json.largest_batch).toMatchObject({
      context: 4112,
      batch: Number((memory - weights) / (4112n * KV_PER_TOKEN)),
    });
    expect(json.largest_context).toMatchObject({ batch: 2, context: 8192, limited_by: 'context' });
  });

  it('sizes the cache by its dtype and finds the longest context a memory holds', async () => {
    const json = await inferJson(
      'llama-3-8b',
      ...['--prompt', '1000', '--generate', '24', '--kv-dtype', 'int8', '--batch', '64', '--memory', '24GB'],
    );
    // ggml Q8_0: 34 bytes per 32 values, four groups in a 128-wide head.
    const perToken = 2n * 8n * 32n * 4n * 34n;
    expect(json.kv_cache.per_token).toBe(perToken.toString());
    const spare = 24n * 10n ** 9n - 2n * PARAMETERS;
    const context = spare / (64n * perToken);
    expect(json.largest_context).toMatchObject({ batch: 64, context: Number(context), limited_by: 'memory' });
  });

  it('prints the summary as a table, CSV and Markdown, and every matmul of the last step at depth 3', async () => {
    const args = ['infer', 'tiny', '--prompt', '10', '--generate', '20'];
    const table = await cli(...args);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    // tiny at context 30: 294,912 + 512 x 30 (test/inference.test.ts works it by hand).
    expect(table.stdout).toContain('decode FLOPs per token, last step (context 30)');
    expect(table.stdout).toContain((294_912 + 512 * 30).toLocaleString('en-US'));
    const csv = await cli(...args, '--format', 'csv', '--depth', '0');
    expect(csv.stdout.split('\r\n')[0]).toBe('quantity,exact,approx'); // RFC 4180 line ends
    expect(csv.stdout).toContain(`"decode FLOPs per token, last step (context 30)",${294_912 + 512 * 30},`);
    const markdown = await cli(...args, '--format', 'markdown');
    expect(markdown.stdout).toContain('| quantity | exact | approx |');
    const json = await inferJson('tiny', '--prompt', '10', '--generate', '20', '--depth', '3');
    const scores = json.last_step_matmuls.find((row: { path: string }) => row.path === 'layers.0.attn.scores');
    expect(scores).toMatchObject({ batch: [1, 4], m: 1, k: 16, n: 30 });
  });

  it("prints the README tour's table as the README shows it", async () => {
    const readme = readFileSync(`${ROOT}/README.md`, 'utf8');
    const block = /\$ flopledger (infer [^\n]+)\n([\s\S]*?)\n```/.exec(readme);
    expect(block).not.toBeNull();
    const [, command, table] = block!;
    const { code, stdout } = await cli(...command!.split(' '));
    expect(code).toBe(0);
    expect(stdout).toContain(table!);
  });

  it('raises the context of a RoPE model for a generation past it, and says so', async () => {
    const { code, stdout, stderr } = await cli(
      'infer',
      'tiny',
      '--prompt',
      '60',
      '--generate',
      '10',
      '--format',
      'json',
    );
    expect(code).toBe(0);
    expect(stderr).toBe(
      "flopledger: note: --prompt 60 --generate 10 needs 70 positions, past tiny's context_length 64; counted with the context raised to 70 (as --ctx 70)\n",
    );
    expect(JSON.parse(stdout).decode.last.context).toBe(70);
  });

  const badCalls: [string[], string][] = [
    [
      ['gpt2-original-small', '--prompt', '1000', '--generate', '100'],
      'flopledger: --prompt 1000 --generate 100 needs 1100 positions, past the context length of gpt2-original-small (1024), and its learned position table has one row per position; add --ctx 1100 to count the larger table, or use a prompt and generation of at most 1024 tokens together\n',
    ],
    [
      ['tiny', '--prompt', '0', '--generate', '4'],
      'flopledger: --prompt: "0" is not a positive integer; use e.g. --prompt 4096\n',
    ],
    [
      ['tiny', '--generate', '4'],
      'flopledger: --prompt is required: the prompt length in tokens; use e.g. --prompt 4096\n',
    ],
    [
      ['tiny', '--prompt', '4'],
      'flopledger: --generate is required: the tokens to generate; use e.g. --generate 512\n',
    ],
    [
      ['tiny', '--prompt', '4', '--generate', '4', '--kv-dtype', 'fp4'],
      'flopledger: --kv-dtype: "fp4" is not a storage dtype; did you mean --kv-dtype fp8? Or use --kv-dtype fp32 (4 bytes), ' +
        '--kv-dtype fp16 (2 bytes), --kv-dtype bf16 (2 bytes), --kv-dtype fp8 (1 byte and an fp32 scale per tensor), ' +
        '--kv-dtype int8 (1 byte and an fp16 scale per 32 values) or --kv-dtype int4 (half a byte and an fp16 scale per 32 values)\n',
    ],
    [['tiny', '--prompt', '4', '--generate', '4', '--weight-dtype', 'q4_0'], ''],
    [
      ['tiny', '--prompt', '4', '--generate', '4', '--kv-group', '64'],
      'flopledger: --kv-group 64: bf16 has no group scales; use --kv-dtype int8 or --kv-dtype int4 with it, or drop --kv-group\n',
    ],
    [
      ['tiny', '--prompt', '4', '--generate', '4', '--weight-dtype', 'int4', '--weight-group', '0'],
      'flopledger: --weight-group: "0" is not a positive integer; use e.g. --weight-group 128\n',
    ],
    [['tiny', '--prompt', '4', '--generate', '4', '--memory', 'lots'], ''],
    [['tiny', '--prompt', '4', '--generate', '4', '--batch', '-1'], ''],
    [['no-such-model', '--prompt', '4', '--generate', '4'], ''],
  ];

  it.each(badCalls)('refuses infer %j with one line and exit 2', async (argv, message) => {
    const { code, stdout, stderr } = await cli('infer', ...argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr.startsWith('flopledger: ')).toBe(true);
    if (message !== '') expect(stderr).toBe(message);
  });

  it('does not fit what the memory cannot hold, and says why', async () => {
    const json = await inferJson('llama-3-8b', '--prompt', '4', '--generate', '4', '--memory', '8GB');
    expect(json.largest_batch).toMatchObject({ batch: 0 });
    expect(json.largest_batch.reason).toContain('the weights alone take 16060522496 bytes');
    expect(json.largest_context).toMatchObject({ context: 0 });
  });
});
