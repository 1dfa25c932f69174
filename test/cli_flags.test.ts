/**
 * One behaviour in every command: --seq past the context, list flags, --depth, repeated flags,
 * unknown help topics and the fix of a bad choice flag, each driven through run(argv).
 */
import { describe, expect, it } from 'vitest';
import { parseIntegerList, parseSweep } from '../src/cli/flags.js';
import { FFN_KINDS } from '../src/config/index.js';
import { cli } from './helpers/cli_runner.js';
import { inputError } from './helpers/input_error.js';

/** The one line a refused command printed, after checking it is one line, exit 2 and nothing on stdout. */
async function refusal(...argv: string[]): Promise<string> {
  const { code, stdout, stderr } = await cli(...argv);
  expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^flopledger: /);
  return lines[0]!;
}

/**
 * Forward matmul FLOPs of one sequence of GPT-2 XL's shape, by hand (independently of
 * src/analytic): per layer q, k, v, o are 4 * 2*T*d*d, w1, w3, w2 are 3 * 2*T*d*F, the two
 * attention matmuls 2 * 2*T*T*d; lm_head 2*T*d*V once. L 48, d 1600, F 6400, V 50257.
 */
function xlForwardFlops(T: bigint): bigint {
  const [L, d, F, V] = [48n, 1600n, 6400n, 50257n];
  return L * (2n * T * (4n * d * d + 3n * d * F) + 4n * T * T * d) + 2n * T * d * V;
}

describe('--seq past the context: one rule in every command', () => {
  // gpt2-xl uses RoPE: no parameter depends on the context, so the context is raised with a note.
  const raised =
    "flopledger: note: --seq 2048 is past gpt2-xl's context_length 1024; counted with the context raised to 2048 (as --ctx 2048)\n";

  it.each([
    ['flops', []],
    ['train', []],
    ['compare', []],
    ['verify', ['--backend', 'meta', '--depth', '0']],
    ['trace', ['--backend', 'meta', '--depth', '0']],
  ])('%s raises the context of a RoPE model, with the note', async (command, extra) => {
    const { code, stdout, stderr } = await cli(command, 'gpt2-xl', '--seq', '2048', ...extra, '--format', 'json');
    expect(stderr).toBe(raised);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    const model = command === 'compare' ? json.models[0].model : json.model;
    expect(model.context_length).toBe(2048);
  });

  it('time raises the context of a RoPE model, with the note', async () => {
    const quick = ['--runs', '1', '--warmup', '1', '--no-calibrate', '--backend', 'cpu', '--format', 'json'];
    const { code, stdout, stderr } = await cli('time', 'tiny', '--seq', '65', ...quick);
    expect(stderr).toBe(
      "flopledger: note: --seq 65 is past tiny's context_length 64; counted with the context raised to 65 (as --ctx 65)\n",
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).model.context_length).toBe(65);
  });

  it('counts the raised run as --ctx would: the closed form at T = 2,048', async () => {
    const { stdout } = await cli('flops', 'gpt2-xl', '--seq', '2048', '--format', 'json');
    const withCtx = await cli('flops', 'gpt2-xl', '--ctx', '2048', '--seq', '2048', '--format', 'json');
    expect(JSON.parse(stdout).total).toBe(xlForwardFlops(2048n).toString());
    expect(JSON.parse(stdout)).toEqual(JSON.parse(withCtx.stdout));
  });

  // gpt2-original-small has a learned position table, one row per position: raising the context
  // would count another model, so every command refuses and names --ctx.
  const refused =
    'flopledger: --seq 2048 is longer than the context length of gpt2-original-small (1024), and its learned ' +
    'position table has one row per position; add --ctx 2048 to count the larger table, or use --seq 1024 or less';

  it.each([
    ['flops', '--seq', '2048'],
    ['train', '--seq', '2048'],
    ['compare', '--seq', '2048'],
    ['verify', '--seq', '2048', '--backend', 'meta'],
    ['trace', '--seq', '2048', '--backend', 'meta'],
    ['sweep', '--seq', '1024,2048'],
    ['time', '--seq', '2048'],
    ['time', '--sweep', 'seq=512,2048'],
  ])('%s refuses a model with learned positions', async (command, ...flags) => {
    expect(await refusal(command, 'gpt2-original-small', ...flags)).toBe(refused);
  });

  it('runs the learned-position model once --ctx asks for the larger table', async () => {
    const { code, stderr, stdout } = await cli(
      'flops',
      'gpt2-original-small',
      '--ctx',
      '2048',
      '--seq',
      '2048',
      '--format',
      'json',
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout).model.context_length).toBe(2048);
  });
});

describe('list flags: one parser, fixes that parse', () => {
  it('refuses an empty item in every list flag', async () => {
    expect(await refusal('sweep', 'gpt2-xl', '--seq', '1024,,2048')).toBe(
      'flopledger: --seq: "" in "1024,,2048" is not a positive integer; use e.g. --seq 1024,2048,4096',
    );
    expect(inputError(() => parseSweep('seq=16,,32')).message).toBe(
      '--sweep: "" in "16,,32" is not a positive integer; use e.g. --sweep seq=64,128,256',
    );
    expect(inputError(() => parseSweep('model=tiny,,gpt2-small')).message).toBe(
      '--sweep: "" in "tiny,,gpt2-small" is not a model name; use e.g. --sweep model=tiny,gpt2-small',
    );
  });

  it.each(['seq=a,b', 'batch=0', 'seq=16,,32', 'seq=', 'tokens=1,2', 'seq', 'model=,', 'batch=1.5,2'])(
    'offers a fix for --sweep %s that is itself a valid --sweep',
    (raw) => {
      const message = inputError(() => parseSweep(raw)).message;
      const fixes = [...message.matchAll(/--sweep (\S+)/g)].map((match) => match[1]!);
      expect(fixes.length).toBeGreaterThan(0);
      for (const fix of fixes) expect(() => parseSweep(fix)).not.toThrow();
    },
  );

  it.each(['1024,abc', '', ',', '0', '1_024,2048', '99999999999999999999'])(
    'offers a fix for --seq %s that is itself a valid list',
    (raw) => {
      const message = inputError(() => parseIntegerList(raw, '--seq')).message;
      const fix = / use (?:e\.g\. )?--seq (\S+)$/.exec(message)?.[1];
      if (message.includes('too large')) return expect(message).toMatch(/use at most 9007199254740991/);
      expect(fix).toBeDefined();
      expect(parseIntegerList(fix!, '--seq').length).toBeGreaterThan(0);
    },
  );

  it('reads a sweep the way it reads --seq', () => {
    expect(parseSweep('seq=16, 32 ,64')).toEqual({ axis: 'seq', values: ['16', '32', '64'] });
    expect(parseSweep('model=tiny,gpt2-small')).toEqual({ axis: 'model', values: ['tiny', 'gpt2-small'] });
  });
});

describe('a flag given twice', () => {
  it('refuses two different values, naming both', async () => {
    expect(await refusal('flops', 'gpt2-xl', '--seq', '128', '--seq', '256')).toBe(
      'flopledger: --seq is given twice, as 128 and 256; give it once',
    );
    expect(await refusal('params', 'gpt2-xl', '--format=json', '--format', 'csv')).toBe(
      'flopledger: --format is given twice, as json and csv; give it once',
    );
  });

  it('refuses a switch with its --no- form', async () => {
    expect(await refusal('params', 'gpt2-small', '--bias', '--no-bias')).toBe(
      'flopledger: --bias and --no-bias contradict each other; give only one',
    );
  });

  it('accepts the same value twice', async () => {
    const once = await cli('flops', 'gpt2-xl', '--seq', '128', '--format', 'json');
    const twice = await cli('flops', 'gpt2-xl', '--seq', '128', '--seq=128', '--format', 'json');
    expect(twice).toEqual(once);
    expect(once.code).toBe(0);
  });
});

describe('help on a command that does not exist', () => {
  it.each([
    [['help', 'nosuch'], "flopledger: unknown command 'nosuch' (see flopledger --help)"],
    [['help', 'flop'], "flopledger: unknown command 'flop' (did you mean flops?) (see flopledger --help)"],
    [['help', 'help', 'nosuch'], "flopledger: unknown command 'nosuch' (see flopledger --help)"],
  ])('%j prints one line and exits 2', async (argv, line) => {
    expect(await refusal(...argv)).toBe(line);
  });

  it('still prints the help of a command that exists', async () => {
    const { code, stdout } = await cli('help', 'flops');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: flopledger flops /);
  });
});

describe('a bad choice flag: the fix is a flag', () => {
  it('offers every FFN kind the config accepts, each as a flag', async () => {
    const message = await refusal('params', 'gpt2-small', '--ffn', 'relu');
    expect(message).toMatch(/^flopledger: --ffn: "relu" is not an FFN kind; (did you mean --ffn \w+\? Or )?use --ffn /);
    for (const kind of FFN_KINDS) expect(message).toContain(`--ffn ${kind} (`);
    expect(message).toContain('--ffn swiglu (W2(SiLU(W1 x) * W3 x))');
    expect(message).not.toMatch(/"ffn":/);
  });

  it.each([
    [
      ['--norm', 'rms'],
      'flopledger: --norm: "rms" is not a norm; use --norm rmsnorm (gain only) or --norm layernorm (gain and bias)',
    ],
    [
      ['--positions', 'alibi'],
      'flopledger: --positions: "alibi" is not a position scheme; use --positions rope (rotary, no parameters) or --positions learned (a context_length x d_model table)',
    ],
    [
      ['--d-ff-rule', 'foo'],
      'flopledger: --d-ff-rule: "foo" is not a d_ff rule; use --d-ff-rule given (d_ff as configured) or --d-ff-rule swiglu (8/3 * d_model rounded up to a multiple of 64)',
    ],
  ])('%j', async (flags, line) => {
    const message = await refusal('params', 'gpt2-small', ...flags);
    expect(message).toBe(line);
    expect(message).not.toMatch(/"(norm|positions|d_ff_rule)":/);
  });
});

describe('--depth: 0 to 3 in every command', () => {
  it('time refuses 4 as every command does', async () => {
    expect(await refusal('time', 'tiny', '--depth', '4')).toBe(
      "flopledger: option '--depth <depth>' argument '4' is invalid. Allowed choices are 0, 1, 2, 3. (see flopledger time --help)",
    );
  });

  it.each(['params', 'flops', 'train', 'trace', 'verify'])('%s takes 0 and refuses 4', async (command) => {
    const backend = command === 'trace' || command === 'verify' ? ['--backend', 'meta'] : [];
    const zero = await cli(command, 'tiny', '--depth', '0', ...backend);
    expect(zero.code).toBe(0);
    expect(await refusal(command, 'tiny', '--depth', '4', ...backend)).toBe(
      `flopledger: option '--depth <depth>' argument '4' is invalid. Allowed choices are 0, 1, 2, 3. (see flopledger ${command} --help)`,
    );
  });
});
