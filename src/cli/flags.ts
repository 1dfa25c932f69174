/**
 * Every flag value and list the CLI reads is parsed here, so one flag means one thing and one
 * bad value reads the same in every command: one line naming the flag, the value and a fix
 * written as a flag the user can type.
 *
 * Integers are read strictly: decimal digits only, optionally grouped in thousands by "_" or ","
 * ("16,384", "1_000_000"). No signs, decimals, exponents or suffixes: "1e3" or "16k" is more
 * likely a slip than a shorthand, and a clear error costs less than a silently different model.
 * In a list, commas separate items, so the items are plain digits; an empty item ("1024,,2048")
 * is refused like any other bad item, in every list flag.
 *
 * Nothing here loads TensorFlow.js: the commands that never run a model read their flags here too.
 */
import { InputError } from '../core/errors.js';
import { closestMatch } from '../config/did_you_mean.js';
import {
  DEFAULT_ATTENTION_BLOCK,
  DENSE_ATTENTION,
  type AttentionKind,
  type AttentionSchedule,
} from '../config/attention_schedule.js';
import type { FfnKind, NormKind, PositionKind } from '../config/model_config.js';
import type { BackendChoice } from '../runtime/backend.js';
export { parseByteSize } from '../runtime/memory_budget.js';
export { parseMfu, parsePeakFlops } from '../analytic/training/parse_rates.js';
import { parseExactDecimal, parsePeakFlops } from '../analytic/training/parse_rates.js';
import type { Checkpointing } from '../analytic/training/checkpointing.js';
import { rational, type Rational } from '../core/exact.js';
import type { SweepAxis, SweepRequest } from '../timing/sweep.js';

/** A typical value per flag, so an error can show a real invocation. */
const FLAG_EXAMPLES: Readonly<Record<string, number>> = {
  '--batch': 8,
  '--seq': 1024,
  '--ctx': 16384,
  '--layers': 12,
  '--d-model': 768,
  '--heads': 12,
  '--d-ff': 3072,
  '--vocab': 50257,
  '--kv-heads': 4,
  '--vocab-multiple': 64,
  '--steps': 400000,
  '--runs': 10,
  '--warmup': 2,
  '--block': 64,
  '--prompt': 4096,
  '--generate': 512,
  '--kv-group': 32,
  '--weight-group': 128,
  '--devices': 64,
  '--tp': 8,
  '--pp': 4,
  '--micro-batches': 8,
};

const GROUPED_DIGITS = /^(?:\d+|\d{1,3}(?:_\d{3})+|\d{1,3}(?:,\d{3})+)$/;
const PLAIN_DIGITS = /^\d+$/;

/** Parse one positive integer flag value; throws InputError naming the flag, the value and an example. */
export function parsePositiveInteger(raw: string, flag: string): number {
  const value = digitsToInteger(raw.trim(), GROUPED_DIGITS);
  if (value === 'too large') throw new InputError(tooLarge(flag, raw));
  if (value === undefined || value === 0) {
    throw new InputError(`${flag}: "${raw}" is not a positive integer; use e.g. ${flag} ${example(flag)}`);
  }
  return value;
}

/** A seed: a whole number from 0 to 2^53 - 1 (0 is a seed, unlike the positive-only dimensions). */
export function parseSeed(raw: string, flag = '--seed'): number {
  const value = digitsToInteger(raw.trim(), GROUPED_DIGITS);
  if (value === undefined || value === 'too large') {
    throw new InputError(`${flag}: "${raw}" is not a whole number from 0 to 2^53 - 1; use e.g. ${flag} 0`);
  }
  return value;
}

/**
 * The items of a comma-separated list, each read by `item` (undefined for a bad one). Every bad
 * item is named at once, and the fix is a whole valid flag: `fix` receives example items and
 * writes them in the flag's own syntax ("--seq 1024,2048" or "--sweep seq=64,128").
 */
function parseList<T>(
  raw: string,
  flag: string,
  item: (text: string) => T | undefined | 'too large',
  expected: { noun: string; plural: string; examples: readonly string[]; fix?: (items: string) => string },
): T[] {
  const items = raw.split(',').map((text) => text.trim());
  const values: T[] = [];
  const bad: string[] = [];
  for (const text of items) {
    const value = item(text);
    if (value === 'too large') throw new InputError(tooLarge(flag, text));
    if (value === undefined) bad.push(`"${text}"`);
    else values.push(value);
  }
  if (bad.length > 0) {
    const where = items.length > 1 ? ` in "${raw}"` : '';
    const verb = bad.length > 1 ? `are not ${expected.plural}` : `is not ${expected.noun}`;
    const fix = (expected.fix ?? ((list: string) => `${flag} ${list}`))(expected.examples.join(','));
    throw new InputError(`${flag}: ${bad.join(', ')}${where} ${verb}; use e.g. ${fix}`);
  }
  return values;
}

/** A comma-separated list of positive integers such as "1024,2048,4096", in the order given. */
export function parseIntegerList(raw: string, flag: string): number[] {
  const base = example(flag);
  return parseList(raw, flag, positiveItem, {
    noun: 'a positive integer',
    plural: 'positive integers',
    examples: [base, 2 * base, 4 * base].map(String),
  });
}

function positiveItem(text: string): number | undefined | 'too large' {
  const value = digitsToInteger(text, PLAIN_DIGITS);
  return value === 0 ? undefined : value;
}

/** The axes `time --sweep` can vary, with an example of each written as the flag is typed. */
const SWEEP_EXAMPLES = {
  seq: 'seq=64,128,256',
  batch: 'batch=1,2,4',
  model: 'model=tiny,gpt2-small',
} as const satisfies Readonly<Record<SweepAxis, string>>;
const SWEEP_AXES = Object.keys(SWEEP_EXAMPLES) as SweepAxis[];

/**
 * `--sweep AXIS=V1,V2,...`: the axis, and its values read by the same list parser as every
 * other list flag (integers for seq and batch, model names or config paths for model).
 */
export function parseSweep(raw: string, flag = '--sweep'): SweepRequest {
  const equals = raw.indexOf('=');
  const axis = SWEEP_AXES.find((name) => name === raw.slice(0, equals).trim());
  if (equals < 0 || axis === undefined) {
    throw new InputError(
      `${flag}: "${raw}" must be AXIS=V1,V2,... with AXIS one of ${SWEEP_AXES.join(', ')}; ` +
        `use e.g. ${flag} ${SWEEP_EXAMPLES.seq} or ${flag} ${SWEEP_EXAMPLES.model}`,
    );
  }
  const list = raw.slice(equals + 1);
  const examples = SWEEP_EXAMPLES[axis].slice(axis.length + 1).split(',');
  const fix = (items: string) => `${flag} ${axis}=${items}`;
  if (list.trim() === '') throw new InputError(`${flag}: "${raw}" has no values; use e.g. ${fix(examples.join(','))}`);
  const values =
    axis === 'model'
      ? parseList(list, flag, (text) => (text === '' ? undefined : text), {
          noun: 'a model name',
          plural: 'model names',
          examples,
          fix,
        })
      : parseList(list, flag, positiveItem, { noun: 'a positive integer', plural: 'positive integers', examples, fix });
  return { axis, values: values.map(String) };
}

/** A choice flag's values, each with what it means; the option's help and its error both list them. */
export interface Choices<T extends string> {
  /** What the flag names, for "is not <noun>": "an FFN kind". */
  readonly noun: string;
  readonly meanings: Readonly<Record<T, string>>;
}

/** Activation checkpointing, for `train` (the formulas) and `verify --train` (the traced step). */
export const CHECKPOINT_CHOICES: Choices<Checkpointing> = {
  noun: 'a checkpointing policy',
  meanings: {
    none: 'every activation kept',
    selective: 'the attention core recomputed',
    full: 'each block recomputed from its input',
  },
};

export const FFN_CHOICES: Choices<FfnKind> = {
  noun: 'an FFN kind',
  meanings: {
    swiglu: 'W2(SiLU(W1 x) * W3 x)',
    gelu: 'W2 GELU(W1 x), two matrices',
    geglu: 'W2(GELU(W1 x) * W3 x)',
  },
};
export const NORM_CHOICES: Choices<NormKind> = {
  noun: 'a norm',
  meanings: { rmsnorm: 'gain only', layernorm: 'gain and bias' },
};
export const POSITION_CHOICES: Choices<PositionKind> = {
  noun: 'a position scheme',
  meanings: { rope: 'rotary, no parameters', learned: 'a context_length x d_model table' },
};
export const ATTENTION_CHOICES: Choices<AttentionKind> = {
  noun: 'a way to compute attention',
  meanings: {
    dense: 'every T x T score, then the mask',
    blocked: 'query and key blocks of --block positions; blocks the mask empties are skipped',
  },
};

/**
 * --attention and --block as a run's attention schedule: undefined (dense, the default) when
 * neither is given; --block alone is refused, as it would change nothing in a dense run.
 */
export function parseAttention(kind: string | undefined, block: string | undefined): AttentionSchedule | undefined {
  const chosen = kind === undefined ? undefined : parseChoice(kind, '--attention', ATTENTION_CHOICES);
  const size = block === undefined ? undefined : parsePositiveInteger(block, '--block');
  if (chosen !== 'blocked') {
    if (size !== undefined) {
      throw new InputError(
        `--block ${block}: the block size applies to blocked attention only; add --attention blocked, or leave out --block`,
      );
    }
    return chosen === undefined ? undefined : DENSE_ATTENTION;
  }
  return { kind: 'blocked', block: size ?? DEFAULT_ATTENTION_BLOCK };
}

export const D_FF_RULE_CHOICES: Choices<'given' | 'swiglu'> = {
  noun: 'a d_ff rule',
  meanings: { given: 'd_ff as configured', swiglu: '8/3 * d_model rounded up to a multiple of 64' },
};

/**
 * The backends a model runs on. The list lives here rather than being read from the runtime,
 * whose module loads TensorFlow.js: the type check below keeps the two lists the same.
 */
export const BACKEND_CHOICES: Choices<BackendChoice> = {
  noun: 'a backend',
  meanings: {
    auto: 'tensorflow if installed, else native if installed, else wasm',
    cpu: 'plain JavaScript kernels, the slow reference',
    wasm: 'WebAssembly with SIMD',
    native: "wasm's kernels with the matmuls on ONNX Runtime, when onnxruntime-node is installed",
    tensorflow: 'libtensorflow, when @tensorflow/tfjs-node is installed',
    meta: 'shapes only: any size in milliseconds',
  },
};

/**
 * "swiglu (W2(SiLU(W1 x) * W3 x)) or gelu (W2 GELU(W1 x), two matrices)", each value after
 * `flag` when given, so an error's fix is a flag to type: "--ffn swiglu (...) or --ffn gelu (...)".
 */
export function describeChoices<T extends string>(choices: Choices<T>, flag?: string): string {
  const described = Object.entries<string>(choices.meanings).map(
    ([value, meaning]) => `${flag === undefined ? '' : `${flag} `}${value} (${meaning})`,
  );
  return described.length < 2 ? described.join('') : `${described.slice(0, -1).join(', ')} or ${described.at(-1)!}`;
}

/** `raw` when it is one of `choices`; else an InputError offering each choice as a flag. */
export function parseChoice<T extends string>(raw: string, flag: string, choices: Choices<T>): T {
  const values = Object.keys(choices.meanings) as T[];
  const choice = values.find((value) => value === raw);
  if (choice !== undefined) return choice;
  const suggestion = closestMatch(raw, values);
  const use = `use ${describeChoices(choices, flag)}`;
  const fix = suggestion === undefined ? use : `did you mean ${flag} ${suggestion}? Or ${use}`;
  throw new InputError(`${flag}: "${raw}" is not ${choices.noun}; ${fix}`);
}

/**
 * --backend keeps its long-standing message, which the tests and users know; it names the
 * choices without their meanings, as the option's help gives them.
 */
export function parseBackend(raw: string): BackendChoice {
  const values = Object.keys(BACKEND_CHOICES.meanings) as BackendChoice[];
  const choice = values.find((value) => value === raw);
  if (choice === undefined) throw new InputError(`--backend: "${raw}" is not one of ${values.join(', ')}`);
  return choice;
}

function digitsToInteger(text: string, pattern: RegExp): number | 'too large' | undefined {
  if (!pattern.test(text)) return undefined;
  const value = BigInt(text.replace(/[_,]/g, ''));
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return 'too large';
  return Number(value);
}

function tooLarge(flag: string, raw: string): string {
  return `${flag}: "${raw}" is too large; use at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`;
}

function example(flag: string): number {
  return FLAG_EXAMPLES[flag] ?? 16;
}

/**
 * A rate in whole units per second ("989.4T", "3.35e12"), read by the FLOP-rate parser and refused
 * unless it is a whole number: peaks and bandwidths are exact bigints.
 */
export function parseWholeRate(raw: string, flag: string, unit: 'FLOP/s' | 'bytes/s', example: string): bigint {
  const text = unit === 'bytes/s' ? raw.trim().replace(/\s*(?:B\/s|Bps|B)$/i, '') : raw;
  let value: Rational;
  try {
    value = parsePeakFlops(text, flag);
  } catch (error) {
    const zero = error instanceof InputError && error.message.includes('is zero');
    throw new InputError(
      zero
        ? `${flag}: "${raw}" is zero; give a positive rate in ${unit}, e.g. ${flag} ${example}`
        : `${flag}: "${raw}" is not a rate in ${unit}; use a number with an optional SI prefix, e.g. ${flag} ${example}`,
    );
  }
  if (value.denominator !== 1n) {
    throw new InputError(`${flag}: "${raw}" is not a whole number of ${unit}; use e.g. ${flag} ${example}`);
  }
  return value.numerator;
}

/** Microseconds, 0 or more ("5", "2.5", "0"), as exact seconds. */
export function parseMicroseconds(raw: string, flag: string): Rational {
  const value = parseExactDecimal(raw.trim().replace(/\s*us$/i, ''));
  if (value === undefined) {
    throw new InputError(`${flag}: "${raw}" is not a number of microseconds; use e.g. ${flag} 5 or ${flag} 0`);
  }
  return rational(value.numerator, value.denominator * 1_000_000n);
}
