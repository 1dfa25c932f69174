/**
 * The one place that knows the config file's schema. A config is six positive integers with the
 * seed's key names, plus optional architecture keys (config_fields.ts lists them); on top of the
 * per-field schema (zod), the head rules hold across fields (head_rules.ts). Every problem is
 * collected and reported together, one line each, naming the source, the field, the value and a fix.
 * The result carries only the keys the source gave: defaults live in architectureOf alone.
 */
import { InputError } from '../core/errors.js';
import {
  CONFIG_FILE_KEYS,
  OWN_KEY_NAMES,
  fieldIssue,
  isConfigKey,
  isCountField,
  showValue,
  unknownKeyProblem,
  type ConfigKey,
  type KeyNames,
} from './config_fields.js';
import { headDimProblem, headSplitProblem, kvHeadsProblem } from './head_rules.js';
import { isWholeNumberText, writtenNumber } from './json_document.js';
import { latentAttentionProblems } from './latent_attention.js';
import { moeProblems } from './moe.js';
import { windowProblems } from './windows.js';
import { zod } from './zod.js';
import {
  ARCHITECTURE_KEYS,
  EXPERT_GROUP_SCORES,
  FFN_KINDS,
  MODEL_CONFIG_KEYS,
  NORM_KINDS,
  POSITION_KINDS,
  ROUTER_SCORINGS,
  architectureOf,
  type ModelConfig,
} from './model_config.js';

/** The per-field schema, built the first time a config is checked (zod loads then: zod.ts). */
function configFileSchema() {
  schema ??= buildSchema();
  return schema;
}
let schema: ReturnType<typeof buildSchema> | undefined;

function buildSchema() {
  const z = zod();
  // z.int() accepts only safe integers, so 1.5, 1e300 and NaN fail here too.
  const count = z.int().positive();

  return z.strictObject({
    vocab_size: count,
    context_length: count,
    num_layers: count,
    d_model: count,
    num_heads: count,
    d_ff: count,
    num_kv_heads: count.optional(),
    head_dim: count.optional(),
    tie_embeddings: z.boolean().optional(),
    ffn: z.enum(FFN_KINDS).optional(),
    norm: z.enum(NORM_KINDS).optional(),
    positions: z.enum(POSITION_KINDS).optional(),
    bias: z.boolean().optional(),
    qkv_bias: z.boolean().optional(),
    output_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
    qk_norm: z.boolean().optional(),
    fused_qkv: z.boolean().optional(),
    fused_gate_up: z.boolean().optional(),
    scale_embeddings: z.boolean().optional(),
    zero_centered_gain: z.boolean().optional(),
    post_norms: z.boolean().optional(),
    // z.number() refuses Infinity and NaN.
    attn_softcap: z.number().positive().optional(),
    final_softcap: z.number().positive().optional(),
    window: count.optional(),
    // A pattern of L and G, or the sliding layers' indices; windows.ts checks either against the model.
    window_layers: z.union([z.string(), z.array(z.int().nonnegative())]).optional(),
    vocab_multiple: count.optional(),
    // z.number() refuses Infinity and NaN.
    rope_theta: z.number().positive().optional(),
    num_experts: count.optional(),
    experts_per_token: count.optional(),
    expert_d_ff: count.optional(),
    shared_d_ff: count.optional(),
    shared_expert_gate: z.boolean().optional(),
    router_bias: z.boolean().optional(),
    normalize_top_k: z.boolean().optional(),
    dense_layers: z.array(z.int().nonnegative()).optional(),
    router_score_bias: z.boolean().optional(),
    router_scoring: z.enum(ROUTER_SCORINGS).optional(),
    expert_groups: count.optional(),
    expert_groups_kept: count.optional(),
    expert_group_score: z.enum(EXPERT_GROUP_SCORES).optional(),
    // z.number() refuses Infinity and NaN.
    routed_scaling_factor: z.number().positive().optional(),
    q_lora_rank: count.optional(),
    kv_lora_rank: count.optional(),
    qk_rope_head_dim: count.optional(),
    qk_nope_head_dim: count.optional(),
    v_head_dim: count.optional(),
  });
}

/**
 * Validate `value` (parsed JSON) as a model config. `source` prefixes every message and is kept
 * as the user wrote it (a relative path stays relative; a preset reads "models/gpt2-xl.json"; a
 * config with overrides reads "gpt2-xl with d_model=1000", or as the CLI spells them). `names` spells the keys in
 * messages when the object was translated from another format. Throws InputError listing every problem.
 */
export function parseModelConfig(
  value: unknown,
  source: string,
  name: string,
  names: KeyNames = OWN_KEY_NAMES,
): ModelConfig {
  const raw = configObject(value, source);
  const result = configFileSchema().safeParse(raw);
  return checkedConfig(raw, source, name, names, result.success ? [] : result.error.issues);
}

/**
 * A bundled preset (models/*.json): every check of parseModelConfig except the per-field schema,
 * so that counting a preset does not load zod (zod.ts). The presets are the package's own files:
 * test/bundled_presets.test.ts runs each through parseModelConfig, schema included, and requires the same
 * config from both. Throws InputError.
 */
export function parseBundledPreset(value: unknown, source: string, name: string): ModelConfig {
  return checkedConfig(configObject(value, source), source, name, OWN_KEY_NAMES, []);
}

function configObject(value: unknown, source: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(
      `${source}: top-level value must be a JSON object with keys ${MODEL_CONFIG_KEYS.join(', ')}; got ${typeName(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

/** What a zod issue carries that the messages use. */
interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}

/** The config `raw` describes, once the schema's issues and the checks across fields have found nothing. */
function checkedConfig(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  name: string,
  names: KeyNames,
  issues: readonly SchemaIssue[],
): ModelConfig {
  const unknownKeys: string[] = [];
  const invalidFields = new Set<ConfigKey>();
  const otherProblems: string[] = [];
  for (const issue of issues) {
    const field = issue.path[0];
    if (issue.code === 'unrecognized_keys') unknownKeys.push(...(issue.keys ?? []));
    else if (typeof field === 'string' && isConfigKey(field)) invalidFields.add(field);
    else otherProblems.push(`${source}: ${issue.message}`);
  }
  // A count written with a fraction too small for a double ("4096.00000000000000001") parses as
  // a whole number; it was not written as one, so it is refused rather than rounded.
  for (const field of CONFIG_FILE_KEYS) {
    const written = writtenNumber(raw, field);
    if (isCountField(field) && written !== undefined && !isWholeNumberText(written)) invalidFields.add(field);
  }

  const fields = CONFIG_FILE_KEYS.filter((field) => invalidFields.has(field)).map((field) =>
    fieldIssue(source, field, raw[field], raw, names),
  );
  const problems = [
    ...listed(
      unknownKeys,
      (key) => unknownKeyProblem(source, key),
      (more) => `${source}: and ${more} more unknown keys`,
    ),
    ...fields.map((issue) => issue.problem),
    ...otherProblems,
    ...crossFieldProblems(source, raw, invalidFields, names),
  ];
  if (problems.length > 0 || issues.length > 0 || invalidFields.size > 0) throw new InputError(problems, { fields });

  // The schema passed (or, for a bundled preset, its test did): every present key holds a value of its type.
  const dims = raw as Readonly<Record<(typeof MODEL_CONFIG_KEYS)[number], number>>;
  const given = Object.fromEntries(
    ARCHITECTURE_KEYS.filter((key) => raw[key] !== undefined).map((key) => {
      // A list (window_layers) is copied, so the config does not share the caller's array.
      const value = raw[key];
      return [key, Array.isArray(value) ? [...(value as unknown[])] : value];
    }),
  ) as Partial<ModelConfig>;
  return Object.freeze({
    name,
    source,
    vocab_size: dims.vocab_size,
    context_length: dims.context_length,
    num_layers: dims.num_layers,
    d_model: dims.d_model,
    num_heads: dims.num_heads,
    d_ff: dims.d_ff,
    ...given,
  });
}

/** A line per item up to MAX_LINES_PER_KIND, then one line for the rest: a file of 60,000 stray keys needs no 60,000 lines. */
export function listed<T>(items: readonly T[], line: (item: T) => string, rest: (more: number) => string): string[] {
  const lines = items.slice(0, MAX_LINES_PER_KIND).map(line);
  if (items.length > MAX_LINES_PER_KIND) lines.push(rest(items.length - MAX_LINES_PER_KIND));
  return lines;
}
const MAX_LINES_PER_KIND = 10;

/** The rules across fields, each checked whenever the fields it involves are valid on their own. */
function crossFieldProblems(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<ConfigKey>,
  names: KeyNames,
): string[] {
  const problems: string[] = [];
  const fusion = fusedGateUpProblem(source, raw, invalid, names);
  if (fusion !== undefined) problems.push(fusion);
  problems.push(...windowProblems(source, raw, invalid, names));
  problems.push(...moeProblems(source, raw, invalid, names));
  const latent = latentAttentionProblems(source, raw, invalid, names);
  problems.push(...latent);
  if (invalid.has('d_model') || invalid.has('num_heads') || invalid.has('head_dim')) return problems;
  const dModel = raw['d_model'] as number;
  const numHeads = raw['num_heads'] as number;
  const depth = depthProblem(source, raw, invalid, names);
  if (depth !== undefined) problems.push(depth);
  // Latent attention's head widths are its own keys (checked above), so d_model need not split into heads.
  if (raw['kv_lora_rank'] !== undefined || latent.length > 0) return problems;
  // Whether RoPE needs pairs depends on positions; when that field is itself wrong, only divisibility is checked.
  const positions = invalid.has('positions') ? 'learned' : architectureOf(headsOnly(raw, dModel, numHeads)).positions;
  const headDim = raw['head_dim'];
  // A head width of its own need not split d_model; with RoPE it must still be even.
  const split =
    typeof headDim === 'number'
      ? headDimProblem(source, headDim, positions === 'rope', names)
      : headSplitProblem(source, dModel, numHeads, positions === 'rope', names);
  if (split !== undefined) problems.push(split);
  const numKvHeads = raw['num_kv_heads'];
  if (!invalid.has('num_kv_heads') && typeof numKvHeads === 'number') {
    const kv = kvHeadsProblem(source, numKvHeads, numHeads, names);
    if (kv !== undefined) problems.push(kv);
  }
  return problems;
}

/** fused_gate_up joins W1 and W3, so the two-matrix GELU MLP, which has no W3, cannot have it. */
function fusedGateUpProblem(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<ConfigKey>,
  names: KeyNames,
): string | undefined {
  if (invalid.has('ffn') || invalid.has('fused_gate_up') || raw['fused_gate_up'] !== true || raw['ffn'] !== 'gelu') {
    return undefined;
  }
  const [fused, ffn] = [names('fused_gate_up'), names('ffn')];
  return (
    `${source}: ${fused} (true) joins W1 and W3, but ${ffn} "gelu" is the two-matrix MLP with no W3; ` +
    `fix: use ${ffn} "swiglu" or "geglu", or remove ${fused}`
  );
}

/** A config holding only what the head rules read, so architectureOf supplies the positions default. */
function headsOnly(raw: Readonly<Record<string, unknown>>, dModel: number, numHeads: number): ModelConfig {
  const positions = raw['positions'] as ModelConfig['positions'];
  return {
    name: '',
    source: '',
    vocab_size: 1,
    context_length: 1,
    num_layers: 1,
    d_model: dModel,
    num_heads: numHeads,
    d_ff: 1,
    ...(positions === undefined ? {} : { positions }),
  };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${showValue(value)})`;
  if (typeof value === 'number') return `a number (${value})`;
  return `a ${typeof value}`;
}

/**
 * Every count is exact at any size, but the inventories hold a row per layer: ten million layers
 * would take minutes and gigabytes to list. The deepest published models have under 200 layers.
 */
const MAX_LAYERS = 10_000;

function depthProblem(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<ConfigKey>,
  names: KeyNames,
): string | undefined {
  const layers = raw['num_layers'];
  if (invalid.has('num_layers') || typeof layers !== 'number' || layers <= MAX_LAYERS) return undefined;
  return (
    `${source}: ${names('num_layers')} (${layers}) is more than the ${MAX_LAYERS.toLocaleString('en-US')} ` +
    `layers flopledger lists one by one; fix: use at most ${MAX_LAYERS}`
  );
}
