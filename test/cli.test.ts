import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.js';
import { builtCli } from './helpers/built_cli.js';
import { cli, cliJson } from './helpers/cli_runner.js';

/**
 * Forward matmul FLOPs of one sequence, worked by hand from the architecture (independently of
 * src/analytic): per layer q, k, v, o are 4 * 2*T*d*d, w1, w3, w2 are 3 * 2*T*d*F, and the two
 * attention matmuls are 2 * 2*T*T*d (H heads of dk = d/H); lm_head is 2*T*d*V once.
 */
function forwardFlops(L: bigint, d: bigint, F: bigint, V: bigint, T: bigint): bigint {
  return L * (2n * T * (4n * d * d + 3n * d * F) + 4n * T * T * d) + 2n * T * d * V;
}

/** Parameters with F = 4d-style shapes: per layer 4 d^2 + 3 d F + 2 d (two gains), plus E, ln_final, lm_head. */
function parameterCount(L: bigint, d: bigint, F: bigint, V: bigint): bigint {
  return L * (4n * d * d + 3n * d * F + 2n * d) + V * d + d + d * V;
}

const XL = { L: 48n, d: 1600n, F: 6400n, V: 50257n };

describe('params and memory', () => {
  it('gives the seed anchor for gpt2-xl: 2,127,057,600 parameters, 8,508,230,400 fp32 bytes', async () => {
    const json = await cliJson('params', 'gpt2-xl');
    expect(json.total).toBe('2127057600');
    expect(json.fp32_bytes).toBe('8508230400');
    expect(json.total).toBe(parameterCount(XL.L, XL.d, XL.F, XL.V).toString());
    expect(json.model.num_layers).toBe(48);
  });

  it('breaks components down so they sum to the total, with shares', async () => {
    const json = await cliJson('params', 'gpt2-xl', '--depth', '1');
    const components = json.components as { component: string; parameters: string; share: number }[];
    expect(components.map((c) => c.component)).toEqual(['token_embeddings', 'attention', 'ffn', 'norms', 'lm_head']);
    expect(components.find((c) => c.component === 'attention')!.parameters).toBe((48n * 4n * 1600n * 1600n).toString());
    expect(components.reduce((total, c) => total + BigInt(c.parameters), 0n)).toBe(2127057600n);
    expect(components.reduce((total, c) => total + c.share, 0)).toBeCloseTo(1, 12);
  });

  it('lists every weight with its shape at depth 3 (csv)', async () => {
    const { code, stdout } = await cli('params', 'tiny', '--depth', '3', '--format', 'csv');
    expect(code).toBe(0);
    const tables = stdout.split('\r\n\r\n');
    const weights = tables.at(-1)!.trim().split('\r\n');
    // tiny: L=2, d=64, V=256. Weights: embeddings, 9 per layer, ln_final, lm_head; then header and total.
    expect(weights[0]).toBe('path,weight,shape,parameters,share');
    expect(weights).toHaveLength(1 + (1 + 9 * 2 + 2) + 1);
    // Total 164,160 (per layer 4*64^2 + 3*64*256 + 2*64 = 65,664; twice, plus 2*256*64 + 64), so 16,384 is 10.0%.
    expect(weights[1]).toBe('token_embeddings,weight,"[256, 64]",16384,10.0%');
    expect(weights).toContain('layers.1.ffn.w2,weight,"[256, 64]",16384,10.0%');
    expect(weights).toContain('layers.0.ln1,gain,[64],64,0.0%');
    expect(parameterCount(2n, 64n, 256n, 256n)).toBe(164160n);
    expect(weights.at(-1)).toBe('total,,,164160,100.0%');
  });

  it('gives weight bytes per dtype', async () => {
    const json = await cliJson('memory', 'gpt2-xl');
    const bytes = Object.fromEntries(
      (json.dtypes as { dtype: string; bytes: string }[]).map((row) => [row.dtype, row.bytes]),
    );
    expect(bytes).toEqual({ fp32: '8508230400', fp16: '4254115200', bf16: '4254115200', int8: '2127057600' });
    const table = await cli('memory', 'gpt2-xl');
    expect(table.stdout).toMatch(/fp32 .*8,508,230,400 .* 8\.508 .* 7\.92 /);
  });

  it('applies override flags: --d-ff-rule swiglu gives d_ff = 8/3 d rounded up to 64', async () => {
    const json = await cliJson('params', 'gpt2-small', '--d-ff-rule', 'swiglu');
    // 8/3 * 768 = 2048 exactly, already a multiple of 64.
    expect(json.model.d_ff).toBe(2048);
    expect(json.total).toBe(parameterCount(12n, 768n, 2048n, 50257n).toString());
  });
});

describe('flops', () => {
  it('matches the closed form for gpt2-xl at T = 1,024 (4,513,336,524,800 by hand)', async () => {
    const json = await cliJson('flops', 'gpt2-xl');
    const expected = forwardFlops(XL.L, XL.d, XL.F, XL.V, 1024n);
    expect(expected).toBe(4_513_336_524_800n);
    expect(json.total).toBe(expected.toString());
    expect(json.run).toEqual({ batch: 1, seq: 1024 });
    expect(json.total_macs).toBe((expected / 2n).toString());
  });

  it('counts 16,384 tokens once the context is raised with --ctx', async () => {
    const json = await cliJson('flops', 'gpt2-xl', '--ctx', '16384', '--seq', '16384');
    expect(json.total).toBe(forwardFlops(XL.L, XL.d, XL.F, XL.V, 16384n).toString());
    expect(json.total).toBe('149522795724800');
    expect(json.model.context_length).toBe(16384);
  });

  it('counts --seq beyond the context with the context raised, and says so on stderr', async () => {
    const { code, stdout, stderr } = await cli('flops', 'gpt2-xl', '--seq', '16384', '--format', 'json');
    expect(code).toBe(0);
    expect(stderr).toBe(
      "flopledger: note: --seq 16384 is past gpt2-xl's context_length 1024; counted with the context raised to 16384 (as --ctx 16384)\n",
    );
    const json = JSON.parse(stdout) as { total: string; model: { context_length: number } };
    expect(json.total).toBe(forwardFlops(XL.L, XL.d, XL.F, XL.V, 16384n).toString());
    expect(json.model.context_length).toBe(16384);
  });

  it('scales linearly with batch', async () => {
    const json = await cliJson('flops', 'gpt2-small', '--batch', '4', '--seq', '256');
    expect(json.total).toBe((4n * forwardFlops(12n, 768n, 3072n, 50257n, 256n)).toString());
  });

  it('lists every matmul at depth 3, summing to the total', async () => {
    const json = await cliJson('flops', 'gpt2-xl', '--depth', '3');
    const matmuls = json.matmuls as { path: string; flops: string; macs: string }[];
    expect(matmuls).toHaveLength(9 * 48 + 1);
    expect(matmuls.reduce((total, row) => total + BigInt(row.flops), 0n)).toBe(BigInt(json.total));
    const scores = matmuls.find((row) => row.path === 'layers.0.attn.scores')!;
    // q @ k^T: 25 heads of [1024, 64] x [64, 1024].
    expect(scores.flops).toBe((2n * 25n * 1024n * 64n * 1024n).toString());
    expect(scores.macs).toBe((25n * 1024n * 64n * 1024n).toString());
    expect(matmuls.at(-1)!.path).toBe('lm_head');
  });

  it('shows exact and SI totals, component shares and MACs in the table view', async () => {
    const { code, stdout } = await cli('flops', 'gpt2-xl', '--depth', '1', '--macs');
    expect(code).toBe(0);
    expect(stdout).toContain('4,513,336,524,800');
    expect(stdout).toContain('4.513 TFLOP');
    expect(stdout).toContain('2,256,668,262,400');
    // FFN: 48 * 3 * 2*T*d*F of the total.
    const ffn = 48n * 3n * 2n * 1024n * 1600n * 6400n;
    expect(stdout).toMatch(new RegExp(`FFN \\(w1, w3, w2\\) .*${groupForRegExp(ffn)}.*66\\.9%`));
  });

  it('renders the per-layer table in markdown', async () => {
    const { stdout } = await cli('flops', 'tiny', '--depth', '2', '--format', 'markdown');
    const perLayer = forwardFlops(1n, 64n, 256n, 256n, 64n) - 2n * 64n * 64n * 256n;
    expect(stdout).toContain(`| layers.1 |`);
    expect(stdout).toMatch(new RegExp(`\\| layers\\.0 \\|.*\\| ${groupForRegExp(perLayer)} \\|`));
  });
});

function groupForRegExp(value: bigint): string {
  return value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

describe('compare, sweep, models', () => {
  it('compares models side by side', async () => {
    const json = await cliJson('compare', 'gpt2-small', 'gpt2-xl');
    const [small, xl] = json.models;
    expect(small.parameters).toBe(parameterCount(12n, 768n, 3072n, 50257n).toString());
    expect(xl.total).toBe('4513336524800');
    expect(small.total).toBe(forwardFlops(12n, 768n, 3072n, 50257n, 1024n).toString());
    const table = await cli('compare', 'gpt2-small', 'gpt2-xl');
    expect(table.stdout).toMatch(/gpt2-small .*gpt2-xl/);
  });

  it('sweeps sequence lengths past the context, with ratios to the first point', async () => {
    const json = await cliJson('sweep', 'tiny', '--seq', '64,128');
    const [first, second] = json.points;
    const f64 = forwardFlops(2n, 64n, 256n, 256n, 64n);
    const f128 = forwardFlops(2n, 64n, 256n, 256n, 128n);
    expect(first.total).toBe(f64.toString());
    expect(second.total).toBe(f128.toString());
    expect(second.context_length).toBe(128);
    expect(second.ratio_to_first).toBeCloseTo(Number(f128) / Number(f64), 10);
    const core = json.shifts.find((shift: { component: string }) => shift.component === 'attention_core');
    expect(core.change).toBe('grows');
    expect(core.factor).toBe(4);
  });

  it('lists the presets with their parameter counts', async () => {
    const json = await cliJson('models');
    const names = json.models.map((model: { name: string }) => model.name);
    expect(names).toEqual(expect.arrayContaining(['tiny', 'gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl']));
    expect(json.models.find((model: { name: string }) => model.name === 'gpt2-xl').parameters).toBe('2127057600');
  });
});

describe('answers', () => {
  it('writes the five deliverables with computed numbers', async () => {
    const { code, stdout, stderr } = await cli('answers');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    for (const part of ['(a)', '(b)', '(c)', '(d)', '(e)']) expect(stdout).toContain(`## ${part}`);
    expect(stdout).toContain('2,127,057,600 trainable parameters');
    expect(stdout).toContain('7.92 GiB');
    expect(stdout).toContain('4,513,336,524,800 FLOPs');
  });

  it('states the ratio between 16,384 and 1,024 tokens, computed here independently', async () => {
    const { stdout } = await cli('answers');
    const short = forwardFlops(XL.L, XL.d, XL.F, XL.V, 1024n);
    const long = forwardFlops(XL.L, XL.d, XL.F, XL.V, 16384n);
    const hundredths = (200n * long + short) / (2n * short); // rounded to 2 decimals
    const ratio = `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, '0')}x`;
    expect(ratio).toBe('33.13x');
    expect(stdout).toContain(`${ratio} the FLOPs for 16.00x the tokens`);
    expect(stdout).toContain('149,522,795,724,800 FLOPs');
  });

  it('says which components grow with model size from the computed shares', async () => {
    const json = await cliJson('answers');
    // small vs xl at T=1024: lm_head's share falls (2TdV grows with d only), ffn's rises.
    const share = (L: bigint, d: bigint, part: bigint) =>
      Number(part) / Number(forwardFlops(L, d, 4n * d, 50257n, 1024n));
    const lmSmall = share(12n, 768n, 2n * 1024n * 768n * 50257n);
    const lmXl = share(48n, 1600n, 2n * 1024n * 1600n * 50257n);
    expect(lmXl).toBeLessThan(lmSmall);
    const lmShift = json.d.shifts.find((shift: { component: string }) => shift.component === 'lm_head');
    expect(lmShift.change).toBe('shrinks');
    expect(lmShift.from_share).toBeCloseTo(lmSmall, 10);
    expect(lmShift.to_share).toBeCloseTo(lmXl, 10);
    expect(json.e.to.total).toBe('149522795724800');
  });

  it('closes what a bare invocation prints: verification of the presets first, then these answers', async () => {
    const bare = await cli();
    const answers = await cli('answers');
    expect(bare.code).toBe(0);
    expect(bare.stdout.startsWith('**Verification')).toBe(true);
    expect(bare.stdout.endsWith(answers.stdout)).toBe(true);
  });
});

describe('help and version', () => {
  it('prints the version from package.json and exits 0', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const { code, stdout } = await cli('--version');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(manifest.version);
  });

  it.each(['models', 'params', 'memory', 'flops', 'compare', 'sweep', 'answers'])(
    '%s --help exits 0 and ends with a real example',
    async (command) => {
      const { code, stdout, stderr } = await cli(command, '--help');
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(new RegExp(`Example:\\n  \\$ flopledger ${command}( |\\n)`));
    },
  );

  it('loads each command from the module its catalogue entry names', async () => {
    for (const entry of COMMANDS) {
      const program = new Command();
      (await entry.load())(program, {
        io: { stdout: () => undefined, stderr: () => undefined },
        setExitCode: () => undefined,
      });
      expect(program.commands.map((command) => command.name())).toEqual([entry.name]);
    }
  });

  it('--help lists every command', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    for (const command of ['models', 'params', 'memory', 'flops', 'compare', 'sweep', 'answers']) {
      expect(stdout).toMatch(new RegExp(`\\n  ${command} `));
    }
  });
});

describe('bad input: one line, exit 2, no stack', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'flopledger-cli-'));
    writeFileSync(join(dir, 'broken.json'), '{"vocab_size": 10,');
    writeFileSync(
      join(dir, 'extra.json'),
      JSON.stringify({
        vocab_size: 256,
        context_length: 64,
        num_layers: 2,
        d_model: 64,
        num_heads: 4,
        d_ff: 256,
        n_embd: 64,
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, () => string[], RegExp][] = [
    ['unknown model', () => ['params', 'gpt5'], /unknown model "gpt5".*Available presets: .*gpt2-xl/],
    ['unknown command', () => ['flop', 'gpt2-xl'], /unknown command 'flop' \(did you mean flops\?\)/],
    ['--seq 0', () => ['flops', 'gpt2-xl', '--seq', '0'], /--seq: "0" is not a positive integer; use e\.g\. --seq \d+/],
    ['--seq abc', () => ['flops', 'gpt2-xl', '--seq', 'abc'], /--seq: "abc" is not a positive integer/],
    ['--batch -1', () => ['flops', 'gpt2-xl', '--batch', '-1'], /--batch: "-1" is not a positive integer/],
    [
      '--heads 7 with d 768',
      () => ['params', 'gpt2-small', '--heads', '7'],
      /--heads 7: d_model \(768\) must be divisible by num_heads \(7\)/,
    ],
    [
      '--depth 9',
      () => ['flops', 'gpt2-xl', '--depth', '9'],
      /'--depth <depth>' argument '9' is invalid\. Allowed choices are 0, 1, 2, 3\./,
    ],
    [
      '--format xml',
      () => ['params', 'gpt2-xl', '--format', 'xml'],
      /argument 'xml' is invalid\. Allowed choices are table, json, csv, markdown\./,
    ],
    ['missing argument', () => ['params'], /missing required argument 'model' \(see flopledger params --help\)/],
    ['bad JSON file', () => ['params', join(dir, 'broken.json')], /broken\.json: invalid JSON at line 1/],
    [
      'unknown key in a file',
      () => ['flops', join(dir, 'extra.json')],
      /extra\.json: unknown key "n_embd": did you mean "d_model"\?/,
    ],
    [
      '--d-ff-rule foo',
      () => ['params', 'gpt2-xl', '--d-ff-rule', 'foo'],
      /--d-ff-rule: "foo" is not a d_ff rule; use --d-ff-rule given .* or --d-ff-rule swiglu/,
    ],
    ['missing file', () => ['memory', join(dir, 'absent.json')], /absent\.json: file not found/],
    [
      '--seq past the context of a model to run',
      () => ['trace', 'gpt2-original-xl', '--backend', 'meta', '--seq', '16384'],
      /learned position table .*; add --ctx 16384/,
    ],
    ['sweep without --seq', () => ['sweep', 'gpt2-xl'], /required option '--seq <list>' not specified/],
    [
      'bad sweep list',
      () => ['sweep', 'gpt2-xl', '--seq', '1024,x'],
      /--seq: "x" in "1024,x" is not a positive integer/,
    ],
    ['unknown option', () => ['params', 'gpt2-xl', '--bogus'], /unknown option '--bogus'/],
    ['too many arguments', () => ['params', 'gpt2-xl', 'gpt2-small'], /too many arguments for 'params'/],
    ['compare with no models', () => ['compare'], /missing required argument 'models'/],
    [
      'answers as csv',
      () => ['answers', '--format', 'csv'],
      /argument 'csv' is invalid\. Allowed choices are markdown, json\./,
    ],
    ['--ctx 0', () => ['flops', 'gpt2-xl', '--ctx', '0'], /--ctx: "0" is not a positive integer/],
  ];

  it.each(cases)('%s', async (_name, argv, message) => {
    const { code, stdout, stderr } = await cli(...argv());
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('flopledger: ')).toBe(true);
    expect(lines[0]).toMatch(message);
    expect(stderr).not.toContain('    at ');
  });
});

describe('the built CLI in a real process', () => {
  let main: string;
  beforeAll(() => {
    main = builtCli();
  }, 120_000);

  it('prints one line and exits 2 for bad input, with no stack trace', () => {
    const result = spawnSync(process.execPath, [main, 'flops', 'gpt2-xl', '--seq', 'abc'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('flopledger: --seq: "abc" is not a positive integer; use e.g. --seq 1024\n');
  });

  it('exits 0 with the seed anchor for a good call', () => {
    const result = spawnSync(process.execPath, [main, 'params', 'gpt2-xl', '--format', 'json'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).total).toBe('2127057600');
  });
});
