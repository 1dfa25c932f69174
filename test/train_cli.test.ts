import { describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli_runner.js';

/** The train command's JSON; each test reads the fields it checks. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed report, read field by field
async function trainJson(...argv: string[]): Promise<any> {
  return cliJson('train', ...argv);
}

/** GPT-2 XL by hand: P from the seed, forward matmul FLOPs of one 1024-token sequence L (2T(4d^2 + 3dF) + 4T^2 d) + 2TdV. */
const XL_PARAMETERS = 2_127_057_600n;
const XL_FORWARD_PER_SEQUENCE =
  48n * (2n * 1024n * (4n * 1600n ** 2n + 3n * 1600n * 6400n) + 4n * 1024n ** 2n * 1600n) + 2n * 1024n * 1600n * 50257n;

describe('train command', () => {
  it('answers the course question for GPT-2 XL at batch 1024 with the default assumptions', async () => {
    const json = await trainJson('gpt2-xl', '--batch', '1024');
    expect(json.run).toEqual({ batch: 1024, seq: 1024 });
    const stepFlops = 3n * 1024n * XL_FORWARD_PER_SEQUENCE + 14n * XL_PARAMETERS;
    expect(json.step_flops).toEqual({
      forward: (1024n * XL_FORWARD_PER_SEQUENCE).toString(),
      backward: (2n * 1024n * XL_FORWARD_PER_SEQUENCE).toString(),
      optimizer: (14n * XL_PARAMETERS).toString(),
      total: stepFlops.toString(),
    });
    expect(json.adamw.total).toBe('29778806400'); // 14 FLOPs per parameter x 2,127,057,600
    // Peak memory = 16 P + B * 4 * (L (8Td + 4TF + 2HT^2) + Td + 2TV) at T = 1024.
    const perSequenceBytes =
      4n *
      (48n * (8n * 1024n * 1600n + 4n * 1024n * 6400n + 2n * 25n * 1024n ** 2n) + 1024n * 1600n + 2n * 1024n * 50257n);
    expect(json.memory_polynomial).toMatchObject({
      constant: (16n * XL_PARAMETERS).toString(),
      per_batch: perSequenceBytes.toString(),
    });
    expect(json.memory.total).toBe((16n * XL_PARAMETERS + 1024n * perSequenceBytes).toString());
    expect(json.largest_batch).toMatchObject({ memory_bytes: '80000000000', batch: 2 });
    // days = 400e3 * stepFlops / (0.5 * 19.5e12) / 86400, exactly: numerator / denominator.
    const days = json.run_time.days;
    expect(BigInt(days.numerator) * 86_400n * 39n * 10n ** 12n).toBe(
      BigInt(days.denominator) * 400_000n * stepFlops * 4n,
    );
    expect(days.value).toBeCloseTo((400e3 * Number(stepFlops)) / (0.5 * 19.5e12) / 86_400, 6);
    expect(json.assumptions.steps).toEqual({ value: '400000', default: true });
    expect(json.assumptions.mfu).toMatchObject({ numerator: '1', denominator: '2', default: true });
  });

  it('shows the backward/forward ratio per component and the 6N comparison', async () => {
    const json = await trainJson('gpt2-xl', '--depth', '1');
    for (const component of json.backward.components) {
      expect(component.ratio).toMatchObject({ numerator: '2', denominator: '1' });
      expect(BigInt(component.backward)).toBe(2n * BigInt(component.forward));
    }
    const [withEmbeddings, withoutEmbeddings] = json.six_n;
    expect(withEmbeddings).toMatchObject({ parameters: XL_PARAMETERS.toString(), tokens: '1024' });
    expect(withEmbeddings.estimate).toBe((6n * XL_PARAMETERS * 1024n).toString());
    expect(withEmbeddings.exact).toBe((3n * XL_FORWARD_PER_SEQUENCE).toString());
    // Without the V*d embedding table.
    expect(withoutEmbeddings.parameters).toBe((XL_PARAMETERS - 50257n * 1600n).toString());
  });

  it('takes the flags as given and marks them so', async () => {
    const json = await trainJson(
      'tiny',
      '--batch',
      '2',
      '--seq',
      '4',
      '--memory',
      '4MiB',
      '--steps',
      '1,000',
      '--peak-flops',
      '2.5G',
      '--mfu',
      '40%',
    );
    expect(json.assumptions).toMatchObject({
      memory_bytes: { value: String(4 * 2 ** 20), default: false },
      steps: { value: '1000', default: false },
      peak_flops_per_second: { numerator: '2500000000', denominator: '1', default: false },
      mfu: { numerator: '2', denominator: '5', default: false },
    });
    // tiny (L=2, d=64, H=4, F=256, V=256): P = 2 (4*64^2 + 3*64*256 + 2*64) + 2*256*64 + 64 = 164,160.
    // Per sequence of 4 tokens: 4 * (2 (8*4*64 + 4*4*256 + 2*4*16) + 4*64 + 2*4*256) = 4 * 14,848 = 59,392 bytes.
    expect(json.memory_polynomial).toMatchObject({ constant: (16n * 164_160n).toString(), per_batch: '59392' });
    // floor((4,194,304 - 2,626,560) / 59,392) = floor(26.39) = 26.
    expect(json.largest_batch).toMatchObject({ batch: 26, bytes_at_batch: (2_626_560n + 26n * 59_392n).toString() });
    const stepFlops = BigInt(json.step_flops.total);
    expect(BigInt(json.run_time.seconds.numerator) * 2_500_000_000n * 2n).toBe(
      BigInt(json.run_time.seconds.denominator) * 1000n * stepFlops * 5n,
    );
  });

  it('lists every backward matmul and every saved activation at depth 3', async () => {
    const json = await trainJson('tiny', '--seq', '8', '--depth', '3');
    expect(json.backward.matmuls).toHaveLength(2 * (9 * 2 + 1));
    expect(json.backward.matmuls[1]).toMatchObject({
      path: 'layers.0.attn.q_proj',
      gradient: 'weight',
      operand: 'W',
      m: 64,
      k: 8,
      n: 64,
      flops: String(2 * 64 * 8 * 64),
    });
    expect(json.memory.per_layer.map((row: { name: string }) => row.name)).toEqual([
      'ln1',
      'q',
      'k',
      'v',
      'scores',
      'softmax',
      'weighted sum',
      'output projection',
      'ln2',
      'w1',
      'w3',
      'SiLU',
      'product',
      'w2',
    ]);
    expect(
      json.memory.final.map((row: { name: string; numeric_shape: number[] }) => [row.name, row.numeric_shape]),
    ).toEqual([
      ['final norm', [1, 8, 64]],
      ['logits', [1, 8, 256]],
      ['cross-entropy', [1, 8, 256]],
    ]);
    const { stdout } = await cli('train', 'tiny', '--depth', '3');
    expect(stdout).toContain('Activations saved per block (x 2 blocks)');
    expect(stdout).toContain('dWq = x^T @ dy');
  });

  it("states the traced step's exact moments: GPT-2 XL at 1 x 1,024 peaks in the loss's gradient", async () => {
    const json = await trainJson('gpt2-xl', '--batch', '1', '--depth', '1');
    const peaks = json.traced_step_peaks;
    // Held before: weights, m and v at 12 bytes per parameter, and the ids and targets (2 x 1,024 int32).
    const held = 12n * XL_PARAMETERS + 8n * 1024n;
    expect(peaks.held_before).toBe(held.toString());
    // The loss's gradient: three [1, 1,024, 50,257] fp32 buffers.
    expect(peaks.loss_gradient_scratch).toBe((3n * 4n * 1024n * 50_257n).toString());
    // The update: every gradient, the loss and three copies of the 50,257 x 1,600 table.
    expect(peaks.update).toBe((held + 4n * XL_PARAMETERS + 4n + 3n * 4n * 50_257n * 1_600n).toString());
    // The storage peak a traced step measures on meta (test/verify_train.test.ts), from the formulas alone.
    expect(peaks.loss_gradient).toBe('38945050884');
    // Between blocks, the largest is before ln_final's backward pass: every block's kept tensors (the
    // kept total less what the final norm, lm_head and the loss keep: their inputs 2 x 4 x 1,024 x
    // 1,600, rstd 4 x 1,024, the softmax 4 x 1,024 x 50,257 and the loss 4), ln_final's input and
    // rstd, lm_head's gradient 4 x 1,600 x 50,257, dy and the loss.
    const blocks = BigInt(peaks.kept) - (2n * 4n * 1_024n * 1_600n + 4n * 1_024n + 4n * 1_024n * 50_257n + 4n);
    const lnFinal = 4n * 1_024n * 1_600n + 4n * 1_024n;
    const boundary = held + blocks + lnFinal + 4n * 1_600n * 50_257n + 4n * 1_024n * 1_600n + 4n;
    expect(peaks.largest_boundary.module).toBe('ln_final');
    expect(peaks.largest_boundary.bytes).toBe(boundary.toString());
    expect(boundary).toBe(38_443_284_996n);
    const { stdout } = await cli('train', 'gpt2-xl', '--batch', '1', '--depth', '1');
    expect(stdout).toContain("Storage of this tool's traced step at 1 x 1,024 tokens: exact moments");
    expect(stdout).toMatch(/the loss's gradient .* 38,945,050,884 /);
    expect(stdout).toMatch(/between blocks, the largest: before ln_final's backward pass .* 38,443,284,996 /);
  });

  it('prints the memory expression, the largest batch and the run time in the table view', async () => {
    const { code, stdout, stderr } = await cli('train', 'gpt2-xl');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain('16 P + 4 B (L (8 T d + 4 T F + 2 H T^2) + T d + 2 T V)');
    expect(stdout).toContain('34,032,921,600 + 18,034,335,744 B');
    expect(stdout).toContain('Largest batch in 80.00 GB (80,000,000,000 bytes, 74.51 GiB) at 1,024 tokens: 2');
    expect(stdout).toContain('steps 400,000: assumed (default)');
  });

  it('says why no batch fits', async () => {
    const json = await trainJson('gpt2-xl', '--memory', '40GB');
    expect(json.largest_batch.batch).toBe(0);
    expect(json.largest_batch.reason).toBe(
      "one sequence of 1024 tokens needs 52067257344 bytes (34032921600 for the weights' state and 18034335744 of activations), " +
        'more than the 40000000000 bytes available',
    );
  });

  it('ends its help with an example', async () => {
    const { code, stdout } = await cli('train', '--help');
    expect(code).toBe(0);
    expect(stdout.trimEnd()).toMatch(/Example:\n( {2}\$ flopledger train .*\n?)+$/);
    expect(stdout).toContain('--peak-flops <rate>');
  });

  const badCalls: [string[], string][] = [
    [['gpt2-xl', '--batch', '0'], 'flopledger: --batch: "0" is not a positive integer; use e.g. --batch 8\n'],
    [
      // A learned position table has one row per position, so a longer seq would be another model.
      ['gpt2-original-xl', '--seq', '2048'],
      'flopledger: --seq 2048 is longer than the context length of gpt2-original-xl (1024), and its learned position ' +
        'table has one row per position; add --ctx 2048 to count the larger table, or use --seq 1024 or less\n',
    ],
    [
      ['gpt2-xl', '--memory', '80'],
      'flopledger: --memory: "80" is not a size; use a number with a unit, e.g. --memory 8GB or --memory 512MiB\n',
    ],
    [['gpt2-xl', '--steps', '4e5'], 'flopledger: --steps: "4e5" is not a positive integer; use e.g. --steps 400000\n'],
    [
      ['gpt2-xl', '--peak-flops', 'fast'],
      'flopledger: --peak-flops: "fast" is not a FLOP rate; use a number with an optional SI prefix, e.g. --peak-flops 19.5T (= 19.5e12 = 19500000000000 FLOP/s)\n',
    ],
    [
      ['gpt2-xl', '--mfu', '50'],
      'flopledger: --mfu: "50" is more than 100% of peak; use a fraction in (0, 1] (for a percentage add %: --mfu 50%), e.g. --mfu 0.5 or --mfu 50%\n',
    ],
    [
      ['gpt2-xl', '--mfu', '0'],
      'flopledger: --mfu: "0" is zero; a run needs some utilization, use e.g. --mfu 0.5 or --mfu 50%\n',
    ],
    [
      ['gpt2-xl', '--depth', '4'],
      "flopledger: option '--depth <depth>' argument '4' is invalid. Allowed choices are 0, 1, 2, 3. (see flopledger train --help)\n",
    ],
    [['no-such-model'], ''],
    [[], "flopledger: missing required argument 'model' (see flopledger train --help)\n"],
  ];

  it.each(badCalls)('refuses train %j with one line and exit 2', async (argv, message) => {
    const { code, stdout, stderr } = await cli('train', ...argv);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr.startsWith('flopledger: ')).toBe(true);
    if (message !== '') expect(stderr).toBe(message);
  });
});
