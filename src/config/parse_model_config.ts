/**
 * The one place that knows the config file's schema. A config is six positive integers with the
 * seed's key names; on top of the per-field schema (zod), d_model must split evenly into
 * num_heads heads whose width is even, because RoPE rotates features in pairs. Every problem is
 * collected and reported together, one line each, naming the source, the field, the value and a fix.
 */
import * as z from 'zod';
import { InputError } from '../errors.js';
import { closestMatch } from './did_you_mean.js';
import { MODEL_CONFIG_KEYS, type ModelConfig, type ModelDimension } from './model_config.js';

// z.int() accepts only safe integers, so 1.5, 1e300 and NaN fail here too.
const dimension = z.int().positive();

const configFileSchema = z.strictObject({
  vocab_size: dimension,
  context_length: dimension,
  num_layers: dimension,
  d_model: dimension,
  num_heads: dimension,
  d_ff: dimension,
});

/** Example values for fixes: GPT-2 small's shape. */
const EXAMPLE_VALUES: Readonly<Record<ModelDimension, number>> = {
  vocab_size: 50257,
  context_length: 1024,
  num_layers: 12,
  d_model: 768,
  num_heads: 12,
  d_ff: 3072,
};

/** Key names other tools use for the same dimensions (Hugging Face, nanoGPT), for "did you mean". */
const KEY_ALIASES: Readonly<Record<string, ModelDimension>> = {
  n_vocab: 'vocab_size',
  n_ctx: 'context_length',
  n_positions: 'context_length',
  block_size: 'context_length',
  max_position_embeddings: 'context_length',
  max_seq_len: 'context_length',
  n_layer: 'num_layers',
  n_layers: 'num_layers',
  num_hidden_layers: 'num_layers',
  n_embd: 'd_model',
  hidden_size: 'd_model',
  dim: 'd_model',
  n_head: 'num_heads',
  n_heads: 'num_heads',
  num_attention_heads: 'num_heads',
  n_inner: 'd_ff',
  intermediate_size: 'd_ff',
  ffn_dim: 'd_ff',
  hidden_dim: 'd_ff',
};

/**
 * Validate `value` (parsed JSON) as a model config. `source` prefixes every message and is kept
 * as the user wrote it (a relative path stays relative; a preset reads "models/gpt2-xl.json"; a
 * config with overrides reads "gpt2-xl with --d-model 1000"). Throws InputError listing every problem.
 */
export function parseModelConfig(value: unknown, source: string, name: string): ModelConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(
      `${source}: top-level value must be a JSON object with keys ${MODEL_CONFIG_KEYS.join(', ')}; got ${typeName(value)}`,
    );
  }
  const raw = value as Record<string, unknown>;
  const result = configFileSchema.safeParse(raw);
  const unknownKeys: string[] = [];
  const invalidFields = new Set<ModelDimension>();
  const otherProblems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const field = issue.path[0];
      if (issue.code === 'unrecognized_keys') unknownKeys.push(...issue.keys);
      else if (typeof field === 'string' && isDimension(field)) invalidFields.add(field);
      else otherProblems.push(`${source}: ${issue.message}`);
    }
  }

  const problems = [
    ...unknownKeys.map((key) => unknownKeyProblem(source, key)),
    ...MODEL_CONFIG_KEYS.filter((field) => invalidFields.has(field)).map((field) =>
      fieldProblem(source, field, raw[field], raw),
    ),
    ...otherProblems,
  ];
  if (!invalidFields.has('d_model') && !invalidFields.has('num_heads')) {
    const headProblem = headSplitProblem(source, raw.d_model as number, raw.num_heads as number);
    if (headProblem !== undefined) problems.push(headProblem);
  }
  if (problems.length > 0 || !result.success) throw new InputError(problems);

  const dims = result.data;
  return Object.freeze({
    name,
    source,
    vocab_size: dims.vocab_size,
    context_length: dims.context_length,
    num_layers: dims.num_layers,
    d_model: dims.d_model,
    num_heads: dims.num_heads,
    d_ff: dims.d_ff,
  });
}

function isDimension(key: string): key is ModelDimension {
  return (MODEL_CONFIG_KEYS as readonly string[]).includes(key);
}

function unknownKeyProblem(source: string, key: string): string {
  const suggestion = closestMatch(key, MODEL_CONFIG_KEYS, KEY_ALIASES);
  return suggestion !== undefined
    ? `${source}: unknown key "${key}": did you mean "${suggestion}"?`
    : `${source}: unknown key "${key}"; the keys are ${MODEL_CONFIG_KEYS.join(', ')}`;
}

function fieldProblem(source: string, field: ModelDimension, value: unknown, raw: Record<string, unknown>): string {
  return `${source}: ${field} (${showValue(value)}) must be a positive integer; fix: ${fieldFix(field, value, raw)}`;
}

function fieldFix(field: ModelDimension, value: unknown, raw: Record<string, unknown>): string {
  const example = exampleValue(field, raw);
  if (value === undefined) return `add it, e.g. "${field}": ${example}`;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value) && BigInt(value.trim()) > 0n) {
    return `write ${value.trim()} without quotes`;
  }
  if (typeof value !== 'number') return `use a whole number, e.g. ${example}`;
  if (!Number.isFinite(value)) return `use a whole number, e.g. ${example}`;
  if (!Number.isInteger(value)) {
    const nearby = [Math.floor(value), Math.ceil(value)].filter((n) => n >= 1);
    return `use a whole number, e.g. ${nearby.length > 0 ? nearby.join(' or ') : example}`;
  }
  if (value <= 0) return `use a value of at least 1, e.g. ${value < 0 ? -value : example}`;
  return `use at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`;
}

/** d_ff's example follows the config's own d_model (the GPT-2 rule d_ff = 4 * d_model) when that is valid. */
function exampleValue(field: ModelDimension, raw: Record<string, unknown>): string {
  const d = raw.d_model;
  if (field === 'd_ff' && typeof d === 'number' && Number.isSafeInteger(d) && d > 0) return `${4 * d} (4 * d_model)`;
  return String(EXAMPLE_VALUES[field]);
}

/** The d_model / num_heads rule: heads split d_model exactly, into an even width for RoPE. */
function headSplitProblem(source: string, dModel: number, numHeads: number): string | undefined {
  const fixes = headSplitFixes(dModel, numHeads);
  if (dModel % numHeads !== 0) {
    return `${source}: d_model (${dModel}) must be divisible by num_heads (${numHeads}); ${fixes}`;
  }
  const headWidth = dModel / numHeads;
  if (headWidth % 2 !== 0) {
    return (
      `${source}: head dim d_model / num_heads (${dModel} / ${numHeads} = ${headWidth}) must be even ` +
      `because RoPE rotates pairs of features; ${fixes}`
    );
  }
  return undefined;
}

/** Real alternatives: the nearest head counts giving an even head dim, and the nearest d_model that works with num_heads. */
function headSplitFixes(dModel: number, numHeads: number): string {
  const heads = nearestHeadCounts(dModel, numHeads);
  const multiple = 2 * numHeads;
  const below = Math.floor(dModel / multiple) * multiple;
  const models = [below, below + multiple].filter((d) => d > 0 && d !== dModel);
  const modelFix = `make d_model a multiple of 2 * num_heads = ${multiple}, e.g. ${models.join(' or ')}`;
  if (heads.length === 0) return `${modelFix} (an odd d_model has no even head dim)`;
  return `choose num_heads that divides d_model into an even head dim, e.g. ${heads.join(' or ')}, or ${modelFix}`;
}

/** The closest head count below and above `numHeads` with d_model / heads an even integer. */
function nearestHeadCounts(dModel: number, numHeads: number): number[] {
  const fits = (heads: number): boolean => dModel % heads === 0 && (dModel / heads) % 2 === 0;
  // An odd d_model has no even head dim. An even one always fits 1 head; a million steps either
  // way is plenty for any real model and keeps absurd inputs fast.
  if (dModel % 2 !== 0) return [];
  const found: number[] = [];
  const lowest = Math.max(1, numHeads - 1_000_000);
  for (let heads = Math.min(numHeads - 1, dModel / 2); heads >= lowest; heads--) {
    if (fits(heads)) {
      found.push(heads);
      break;
    }
  }
  if (found.length === 0 && numHeads > 1) found.push(1);
  const limit = Math.min(dModel / 2, numHeads + 1_000_000);
  for (let heads = numHeads + 1; heads <= limit; heads++) {
    if (fits(heads)) {
      found.push(heads);
      break;
    }
  }
  return found;
}

function showValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return shown.length > 40 ? `${shown.slice(0, 37)}...` : shown;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${showValue(value)})`;
  if (typeof value === 'number') return `a number (${value})`;
  return `a ${typeof value}`;
}
