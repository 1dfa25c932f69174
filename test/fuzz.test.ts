/**
 * Bad input that can find new faults: random mutations of valid flopledger configs, of the
 * Hugging Face config.json fixtures and of command lines, run through the CLI in-process.
 * Every case must end in one of two ways:
 *   - exit 0, and the parameter count (params) or the forward matmul FLOPs (flops) equal to a
 *     closed form written here from the definitions, for the model the command says it counted;
 *   - exit 2, with one line per problem on stderr, each starting "flopledger: ", and no stack trace.
 * Never exit 1 or 3, never an exception out of run(), never more than a few seconds per case.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, type Captured } from './helpers/cli_runner.js';

// A runaway guard, not a speed check: a case that hangs or grows without bound (as
// `--layers 10000000` once did, for over a minute) is caught; a busy machine's 5 s case is not.
const CASE_BUDGET_MS = 30_000;
const workDir = mkdtempSync(join(tmpdir(), 'flopledger-fuzz-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

let fileCounter = 0;
function writeCase(text: string | Uint8Array): string {
  const path = join(workDir, `case-${fileCounter++}.json`);
  writeFileSync(path, text);
  return path;
}

/** The model a command reports it counted, as its JSON carries it. */
interface CountedModel {
  vocab_size: number;
  context_length: number;
  num_layers: number;
  d_model: number;
  num_heads: number;
  d_ff: number;
  num_kv_heads?: number;
  head_dim?: number;
  tie_embeddings?: boolean;
  ffn?: string;
  norm?: string;
  positions?: string;
  bias?: boolean;
  qkv_bias?: boolean;
  output_bias?: boolean;
  mlp_bias?: boolean;
  qk_norm?: boolean;
  post_norms?: boolean;
  window?: number;
  vocab_multiple?: number;
  num_experts?: number;
  experts_per_token?: number;
  expert_d_ff?: number;
  shared_d_ff?: number;
  shared_expert_gate?: boolean;
  router_bias?: boolean;
  dense_layers?: number[];
}

/** How many layers route to experts: every layer not listed as dense, when the model has experts. */
function moeLayerCount(model: CountedModel): bigint {
  if (model.num_experts === undefined) return 0n;
  return BigInt(model.num_layers - (model.dense_layers ?? []).length);
}

const big = (value: number | undefined, fallback: number) => BigInt(value ?? fallback);

/** Rows of the embedding table and lm_head: the vocabulary padded up to the multiple. */
function paddedVocab(model: CountedModel): bigint {
  const vocab = BigInt(model.vocab_size);
  const multiple = big(model.vocab_multiple, 1);
  return ((vocab + multiple - 1n) / multiple) * multiple;
}

/** Parameters from the definitions: embeddings, per-layer attention, FFN and norms, final norm, lm_head. */
function parametersClosedForm(model: CountedModel): bigint {
  const d = BigInt(model.d_model);
  const heads = BigInt(model.num_heads);
  const kvHeads = big(model.num_kv_heads, model.num_heads);
  const headDim = model.head_dim === undefined ? d / heads : BigInt(model.head_dim);
  const f = BigInt(model.d_ff);
  const vocab = paddedVocab(model);
  // `bias` stands for all three bias groups; each one given overrides it.
  const qkvBias = model.qkv_bias ?? model.bias ?? false;
  const outputBias = model.output_bias ?? model.bias ?? false;
  const mlpBias = model.mlp_bias ?? model.bias ?? false;
  // SwiGLU and GeGLU both multiply an activated W1 x by W3 x: three matrices; the GELU MLP has two.
  const gated = (model.ffn ?? 'swiglu') !== 'gelu';
  // A norm has a gain per feature, and LayerNorm a bias as well.
  const normParams = (width: bigint) => ((model.norm ?? 'rmsnorm') === 'rmsnorm' ? width : 2n * width);

  const qWidth = heads * headDim;
  const kvWidth = kvHeads * headDim;
  const attention =
    d * qWidth +
    2n * d * kvWidth +
    qWidth * d +
    (qkvBias ? qWidth + 2n * kvWidth : 0n) +
    (outputBias ? d : 0n) +
    // One norm over head_dim for the queries and one for the keys, shared by every head.
    (model.qk_norm === true ? 2n * normParams(headDim) : 0n);
  const ffnOf = (width: bigint) => (gated ? 3n : 2n) * d * width + (mlpBias ? (gated ? 2n * width : width) + d : 0n);
  const ffn = ffnOf(f);
  // The two pre-norms, and two more on each sub-block's output with post_norms.
  const layer = attention + ffn + (model.post_norms === true ? 4n : 2n) * normParams(d);
  const normWidth = normParams(d);
  const embeddings = vocab * d + ((model.positions ?? 'rope') === 'learned' ? BigInt(model.context_length) * d : 0n);
  const lmHead = model.tie_embeddings === true ? 0n : vocab * d;
  // A MoE layer has, in place of the FFN, a router [d, E] (+ bias), E experts and the shared one with its gate [d, 1].
  const experts = big(model.num_experts, 0);
  const moeFfn =
    experts * d +
    (model.router_bias === true ? experts : 0n) +
    experts * ffnOf(big(model.expert_d_ff, model.d_ff)) +
    (model.shared_d_ff === undefined ? 0n : ffnOf(BigInt(model.shared_d_ff))) +
    (model.shared_expert_gate === true ? d : 0n);
  return embeddings + BigInt(model.num_layers) * layer + moeLayerCount(model) * (moeFfn - ffn) + normWidth + lmHead;
}

/** Forward matmul FLOPs for B sequences of T tokens, 2mkn per matmul, every T x T score computed. */
function forwardFlopsClosedForm(model: CountedModel, batch: number, seq: number): bigint {
  const tokens = BigInt(batch) * BigInt(seq);
  const d = BigInt(model.d_model);
  const heads = BigInt(model.num_heads);
  const kvHeads = big(model.num_kv_heads, model.num_heads);
  const headDim = model.head_dim === undefined ? d / heads : BigInt(model.head_dim);
  const gated = (model.ffn ?? 'swiglu') !== 'gelu';
  const projections = 2n * tokens * (2n * d * heads * headDim + 2n * d * kvHeads * headDim);
  const core = 2n * 2n * BigInt(batch) * heads * BigInt(seq) * BigInt(seq) * headDim;
  const ffnOf = (width: bigint) => 2n * tokens * d * width * (gated ? 3n : 2n);
  const ffn = ffnOf(BigInt(model.d_ff));
  const lmHead = 2n * tokens * d * paddedVocab(model);
  // A MoE layer: the router on every token, k routed experts per token, the shared expert and its gate on every token.
  const experts = big(model.num_experts, 0);
  const moeFfn =
    2n * tokens * d * experts +
    big(model.experts_per_token, 0) * ffnOf(big(model.expert_d_ff, model.d_ff)) +
    (model.shared_d_ff === undefined ? 0n : ffnOf(BigInt(model.shared_d_ff))) +
    (model.shared_expert_gate === true ? 2n * tokens * d : 0n);
  return BigInt(model.num_layers) * (projections + core + ffn) + moeLayerCount(model) * (moeFfn - ffn) + lmHead;
}

/** Each problem on one line of its own, prefixed, with no raw control bytes echoed from the input. */
function expectProblemLines(stderr: string, context: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines.length, context).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line, context).toMatch(/^flopledger: \S/);
    // eslint-disable-next-line no-control-regex
    expect(line, context).not.toMatch(/[\u0000-\u0008\u000e-\u001f\u007f]/);
  }
}

/** The outcome every case must have; returns the parsed JSON on success. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, checked field by field
function expectCleanOutcome(result: Captured, elapsedMs: number, label: string): any {
  const context = `${label}\nexit ${result.code}\nstderr: ${result.stderr}\nstdout: ${result.stdout.slice(0, 400)}`;
  expect(elapsedMs, context).toBeLessThan(CASE_BUDGET_MS);
  expect([0, 2], context).toContain(result.code);
  expect(result.stderr, context).not.toMatch(/\n\s+at .+:\d+:\d+/);
  if (result.code === 2) {
    expectProblemLines(result.stderr, context);
    expect(result.stdout, context).toBe('');
    return undefined;
  }
  return JSON.parse(result.stdout);
}

async function timed(argv: string[]): Promise<[Captured, number]> {
  const started = performance.now();
  const result = await cli(...argv);
  return [result, performance.now() - started];
}

/** Checks exit 0 results against the closed forms; returns whether the case was accepted. */
async function runParamsAndFlops(source: string[], label: string): Promise<boolean> {
  const [paramsResult, paramsMs] = await timed(['params', ...source, '--format', 'json']);
  const params = expectCleanOutcome(paramsResult, paramsMs, `params ${label}`);
  if (params === undefined) return false;
  const model = params.model as CountedModel;
  expect(BigInt(params.total), `params ${label}: ${JSON.stringify(model)}`).toBe(parametersClosedForm(model));

  const seq = Math.min(model.context_length, 64);
  const [flopsResult, flopsMs] = await timed(['flops', ...source, '--seq', String(seq), '--format', 'json']);
  const flops = expectCleanOutcome(flopsResult, flopsMs, `flops ${label}`);
  expect(flops, `flops ${label} refused what params accepted: ${flopsResult.stderr}`).toBeDefined();
  expect(BigInt(flops.total), `flops ${label}: ${JSON.stringify(model)}`).toBe(
    forwardFlopsClosedForm(flops.model as CountedModel, 1, seq),
  );
  return true;
}

// ---------------------------------------------------------------------------------------------
// Mutations of JSON documents.

const oddValues: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 3, 7, 64, 1.5, -0, 1e308, 2 ** 53, 2 ** 31, 1e-9, '', 'x', 'null', true, false, null),
  fc.constantFrom('64', '1e3', ' 64', 'rope', 'gelu', 'layernorm', 'relu', 'swiglu', 'silu', 'learned'),
  fc.constantFrom([], {}, [64], { value: 64 }),
  fc.integer({ min: -5, max: 100_000 }),
  fc.string({ maxLength: 12 }),
);

type Mutation =
  | { kind: 'delete'; index: number }
  | { kind: 'set'; index: number; value: unknown }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'scale'; index: number; factor: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), index: fc.nat(), value: oddValues }),
  fc.record({
    kind: fc.constant('add' as const),
    key: fc.oneof(
      fc.constantFrom(
        'num_local_experts',
        'num_experts',
        'n_routed_experts',
        'sliding_window',
        'head_dim',
        'attention_bias',
        'mlp_bias',
        'tie_word_embeddings',
        'n_inner',
        'n_ctx',
        'rope_scaling',
        'torch_dtype',
        'bias',
        'vocab_multiple',
        'num_kv_heads',
        'positions',
        'ffn',
        'norm',
        'is_encoder_decoder',
        'add_cross_attention',
      ),
      fc.string({ minLength: 1, maxLength: 10 }),
    ),
    value: oddValues,
  }),
  fc.record({ kind: fc.constant('scale' as const), index: fc.nat(), factor: fc.constantFrom(0, 2, 3, 1000, 1e6, -1) }),
);

function applyMutations(document: Record<string, unknown>, mutations: readonly Mutation[]): Record<string, unknown> {
  const result = { ...document };
  for (const change of mutations) {
    const keys = Object.keys(result);
    const key = keys.length === 0 ? undefined : keys[('index' in change ? change.index : 0) % keys.length];
    if (change.kind === 'delete' && key !== undefined) delete result[key];
    if (change.kind === 'set' && key !== undefined) result[key] = change.value;
    if (change.kind === 'add') result[change.key] = change.value;
    if (change.kind === 'scale' && key !== undefined && typeof result[key] === 'number') {
      result[key] = result[key] * change.factor;
    }
  }
  return result;
}

type TextDamage = 'none' | 'truncate' | 'duplicate-key' | 'binary' | 'bom' | 'trailing-comma' | 'big-integer';

function damageText(text: string, damage: TextDamage, at: number): string | Uint8Array {
  switch (damage) {
    case 'none':
      return text;
    case 'truncate':
      return text.slice(0, at % Math.max(1, text.length));
    case 'duplicate-key': {
      const match = /"([^"]+)":\s*([^,\n}]+)/.exec(text);
      return match === null ? text : text.replace('{', `{"${match[1]}": ${match[2]}, `);
    }
    case 'binary':
      return new Uint8Array([0x00, 0xff, 0x1b, 0x5b, 0x32, 0x4a, 0x07, ...Buffer.from(text).subarray(0, at % 40)]);
    case 'bom':
      return '\ufeff' + text;
    case 'trailing-comma':
      return text.replace(/\n}\s*$/, ',\n}');
    case 'big-integer':
      return text.replace(/:\s*(\d+)/, ': 9007199254740993');
  }
}

const textDamage = fc.constantFrom<TextDamage>(
  'none',
  'none',
  'none',
  'truncate',
  'duplicate-key',
  'binary',
  'bom',
  'trailing-comma',
  'big-integer',
);

const validFlopledgerConfig = fc.record(
  {
    vocab_size: fc.integer({ min: 1, max: 5000 }),
    context_length: fc.integer({ min: 1, max: 4096 }),
    num_layers: fc.integer({ min: 1, max: 12 }),
    d_model: fc.constantFrom(8, 16, 32, 48, 64, 96, 128),
    num_heads: fc.constantFrom(1, 2, 4, 8),
    d_ff: fc.integer({ min: 1, max: 512 }),
    num_kv_heads: fc.constantFrom(1, 2, 4),
    tie_embeddings: fc.boolean(),
    ffn: fc.constantFrom('swiglu', 'gelu'),
    norm: fc.constantFrom('rmsnorm', 'layernorm'),
    positions: fc.constantFrom('rope', 'learned'),
    bias: fc.boolean(),
    vocab_multiple: fc.constantFrom(1, 8, 64),
  },
  { requiredKeys: ['vocab_size', 'context_length', 'num_layers', 'd_model', 'num_heads', 'd_ff'] },
);

const HF_FIXTURES_DIR = join(import.meta.dirname, 'fixtures', 'hf');
// The closed form here has no latent attention; the DeepSeek files are checked in mla_config.test.ts.
const hfFixtures = readdirSync(HF_FIXTURES_DIR)
  .filter((name) => name.endsWith('.json') && !name.startsWith('DeepSeek-'))
  .map((name) => ({ name, document: JSON.parse(readFileSync(join(HF_FIXTURES_DIR, name), 'utf8')) as object }));

describe('fuzz: every mutated input ends in a count equal to the closed form, or exit 2 and a line per problem', () => {
  it('flopledger configs: 250 mutated files through params and flops', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        validFlopledgerConfig,
        fc.array(mutation, { maxLength: 3 }),
        textDamage,
        fc.nat(),
        async (config, mutations, damage, at) => {
          const text = JSON.stringify(applyMutations(config, mutations), null, 2);
          const file = writeCase(damageText(text, damage, at));
          if (await runParamsAndFlops([file], `${file}: ${readFileSync(file, 'utf8').slice(0, 300)}`)) accepted++;
        },
      ),
      { numRuns: 250, seed: 20_261_206 },
    );
    // The mutations are mostly small: a suite where everything is refused would prove nothing. An
    // unlucky seed accepted 15 of 250; 8 is a floor no working suite comes near.
    expect(accepted).toBeGreaterThan(8);
  });

  it('Hugging Face config.json files: 150 mutated fixtures through params and flops', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...hfFixtures),
        fc.array(mutation, { maxLength: 2 }),
        textDamage,
        fc.nat(),
        async (fixture, mutations, damage, at) => {
          const text = JSON.stringify(applyMutations(fixture.document as Record<string, unknown>, mutations), null, 2);
          const file = writeCase(damageText(text, damage, at));
          const label = `${fixture.name} mutated by ${JSON.stringify(mutations)} and ${damage}`;
          if (await runParamsAndFlops(['--config', file], label)) accepted++;
        },
      ),
      { numRuns: 150, seed: 20_261_206 },
    );
    expect(accepted).toBeGreaterThan(8);
  });

  it('refuses a depth it would take minutes to list, and counts the deepest it accepts', async () => {
    // Found by this suite: params tiny --layers 10000000 ran for over a minute and grew past 1.5 GB.
    const [refused, refusedMs] = await timed(['params', 'tiny', '--layers', '10000000', '--format', 'json']);
    expectCleanOutcome(refused, refusedMs, 'params tiny --layers 10000000');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('fix: use at most 10000');
    const [deepest, deepestMs] = await timed(['params', 'tiny', '--layers', '10000', '--format', 'json']);
    const report = expectCleanOutcome(deepest, deepestMs, 'params tiny --layers 10000');
    expect(BigInt(report.total)).toBe(parametersClosedForm(report.model as CountedModel));
  });

  it('refuses more experts than it lists in seconds, and counts the most it accepts', async () => {
    // Found by this suite: Mixtral's config.json with num_local_experts 38727 (1,239,264 experts
    // over 32 layers) never finished; params deepseek-v3 --layers 10000 ran past a minute and 4 GB.
    const mixtral = hfFixtures.find((fixture) => fixture.name === 'Mixtral-8x7B-v0.1.json');
    expect(mixtral).toBeDefined();
    const wide = writeCase(JSON.stringify({ ...mixtral?.document, num_local_experts: 38727 }, null, 2));
    const [refusedFile, refusedFileMs] = await timed(['params', '--config', wide, '--format', 'json']);
    expectCleanOutcome(refusedFile, refusedFileMs, `params --config ${wide}`);
    expect(refusedFile.code).toBe(2);
    expect(refusedFile.stderr.split('\n').filter((line) => !line.startsWith('flopledger: note: '))).toEqual([
      `flopledger: ${wide}: num_local_experts (38727) over 32 MoE layers makes 1,239,264 experts, more than the ` +
        '25,000 flopledger lists one by one; fix: use num_local_experts at most 781',
      '',
    ]);

    // DeepSeek-V3 keeps its first 3 layers dense: 9,997 MoE layers of 256 experts.
    const [refusedDepth, refusedDepthMs] = await timed([
      'params',
      'deepseek-v3',
      '--layers',
      '10000',
      '--format',
      'json',
    ]);
    expectCleanOutcome(refusedDepth, refusedDepthMs, 'params deepseek-v3 --layers 10000');
    expect(refusedDepth.code).toBe(2);
    expect(refusedDepth.stderr).toBe(
      'flopledger: deepseek-v3 with --layers 10000: num_experts (256) over 9,997 MoE layers makes 2,559,232 ' +
        'experts, more than the 25,000 flopledger lists one by one; fix: use num_layers at most 100, or num_experts at most 2\n',
    );

    // 8 experts a layer: 3,125 layers make exactly 25,000; one more layer is refused.
    const [overBound, overBoundMs] = await timed(['params', 'mixtral-8x7b', '--layers', '3126', '--format', 'json']);
    expectCleanOutcome(overBound, overBoundMs, 'params mixtral-8x7b --layers 3126');
    expect(overBound.code).toBe(2);
    expect(overBound.stderr).toContain('makes 25,008 experts');
    const [deepest, deepestMs] = await timed(['params', 'mixtral-8x7b', '--layers', '3125', '--format', 'json']);
    const deep = expectCleanOutcome(deepest, deepestMs, 'params mixtral-8x7b --layers 3125');
    expect(deep.model.num_layers * deep.model.num_experts).toBe(25_000);
    expect(BigInt(deep.total)).toBe(parametersClosedForm(deep.model as CountedModel));

    // All 25,000 in one layer, with every bias: 150,000 expert rows, once past the stack as arguments.
    const oneLayer = writeCase(
      JSON.stringify({
        vocab_size: 100,
        context_length: 64,
        num_layers: 1,
        d_model: 16,
        num_heads: 2,
        d_ff: 32,
        num_experts: 25_000,
        experts_per_token: 2,
        bias: true,
        router_bias: true,
        shared_d_ff: 16,
        shared_expert_gate: true,
      }),
    );
    expect(await runParamsAndFlops([oneLayer], `${oneLayer}: one layer of 25,000 experts`)).toBe(true);

    // Group-limited routing over 2^53 - 1 experts: the group rule's divisor search once threw on it.
    const unsplittable = writeCase(
      JSON.stringify({
        vocab_size: 100,
        context_length: 64,
        num_layers: 1,
        d_model: 16,
        num_heads: 2,
        d_ff: 32,
        num_experts: Number.MAX_SAFE_INTEGER,
        experts_per_token: 2,
        expert_groups: 2,
        expert_groups_kept: 1,
      }),
    );
    const [huge, hugeMs] = await timed(['params', unsplittable, '--format', 'json']);
    expectCleanOutcome(huge, hugeMs, `params ${unsplittable}`);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toBe(
      `flopledger: ${unsplittable}: num_experts (9007199254740991) over 1 MoE layer makes 9,007,199,254,740,991 ` +
        'experts, more than the 25,000 flopledger lists one by one; fix: use num_experts at most 25000\n',
    );
  });

  const COMMANDS = ['params', 'flops', 'memory', 'train', 'sweep', 'compare', 'models', 'verify', 'trace'] as const;
  const MODELS = ['tiny', 'gpt2-small', 'llama-3-8b', 'mistral-7b', 'gpt2-original-small', 'nosuch', ''];
  const FLAG_VALUES = [
    '0',
    '1',
    '2',
    '3',
    '8',
    '64',
    '1,024',
    '1_000',
    '-1',
    '1e3',
    '16k',
    '',
    'x',
    '99999999999999999999',
  ];
  const FLAGS = [
    '--batch',
    '--seq',
    '--ctx',
    '--layers',
    '--d-model',
    '--heads',
    '--kv-heads',
    '--d-ff',
    '--vocab',
    '--vocab-multiple',
    '--depth',
    '--format',
    '--ffn',
    '--norm',
    '--positions',
    '--d-ff-rule',
    '--memory',
    '--steps',
    '--mfu',
    '--backend',
    '--models',
    '--tie-embeddings',
    '--bias',
    '--no-bias',
    '--macs',
    '--conventions',
    '--nosuch',
  ];
  const flagWithValue = fc.tuple(
    fc.constantFrom(...FLAGS),
    fc.oneof(fc.constantFrom(...FLAG_VALUES), fc.constantFrom('json', 'csv', 'meta', 'gelu', 'layernorm', 'learned')),
  );

  it('command lines: 200 random invocations exit 0, or 2 with a line per problem', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...COMMANDS),
        fc.constantFrom(...MODELS),
        fc.array(flagWithValue, { maxLength: 4 }),
        async (command, model, flags) => {
          const argv: string[] = [command];
          if (model !== '') argv.push(model);
          for (const [flag, value] of flags) argv.push(flag, value);
          // Real compute is bounded by the memory guard, not by this test: keep real runs to the meta backend.
          if (command === 'verify' || command === 'trace') {
            if (!argv.includes('--backend')) argv.push('--backend', 'meta');
            const backendIndex = argv.indexOf('--backend');
            argv[backendIndex + 1] = 'meta';
          }
          if (!argv.includes('--format')) argv.push('--format', 'json');
          const [result, elapsed] = await timed(argv);
          const label = `flopledger ${argv.join(' ')}`;
          const context = `${label}\nexit ${result.code}\nstderr: ${result.stderr}`;
          expect(elapsed, context).toBeLessThan(CASE_BUDGET_MS);
          expect([0, 2], context).toContain(result.code);
          expect(result.stderr, context).not.toMatch(/\n\s+at .+:\d+:\d+/);
          if (result.code === 2) expectProblemLines(result.stderr, context);
          if (result.code === 0 && command === 'params' && argv[argv.indexOf('--format') + 1] === 'json') {
            const report = JSON.parse(result.stdout);
            expect(BigInt(report.total), context).toBe(parametersClosedForm(report.model as CountedModel));
          }
        },
      ),
      { numRuns: 200, seed: 20_261_206 },
    );
  });
});
