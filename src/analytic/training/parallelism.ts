import { InputError } from '../../core/errors.js';
import { product, sum } from '../../core/counting.js';
import { layerIndexOf, withinLayer } from '../../core/module_paths.js';
import { architectureOf, type ModelConfig } from '../../config/model_config.js';
import { parameterInventory, summarizeParameters } from '../parameters.js';

/**
 * How the devices of a training run are arranged: devices = data x tensor x pipeline parallel.
 *
 * Tensor parallelism follows Megatron-LM (Shoeybi et al. 2019, "Megatron-LM: Training
 * Multi-Billion Parameter Language Models Using Model Parallelism", section 3):
 * - column-parallel (output features split over tp): q_proj, k_proj, v_proj, ffn.w1, ffn.w3,
 *   with their biases split alike; heads are split whole, so tp must divide num_heads and
 *   num_kv_heads (Megatron-Core asserts num_query_groups % tp == 0) and d_ff. A fused qkv_proj
 *   [d, dq + 2 dkv] is split as Megatron-Core's linear_qkv is, each rank holding the q, k and v
 *   columns of its own heads: (dq + 2 dkv) / tp; a fused gate_up_proj [d, 2F] holds F / tp gate
 *   and F / tp up columns per rank (Megatron's gated linear_fc1): 2F / tp. A head_dim of its own
 *   changes only dq and dkv;
 * - row-parallel (input features split): output_proj and ffn.w2; their biases (output_bias,
 *   mlp_bias) are added after the all-reduce and are replicated on every tensor-parallel rank;
 * - replicated: every norm's gain and bias (ln1, ln2, the post-norms, ln_final), the q/k norms
 *   (one vector over head_dim that every head shares, so every rank needs it whole), and the
 *   learned position table (Megatron keeps position embeddings whole on each rank);
 * - vocab-parallel: token_embeddings and lm_head split their vocabulary rows. Megatron pads the
 *   vocabulary to a multiple of make_vocab_size_divisible_by * tp
 *   (megatron/training/tokenizer/tokenizer.py, _vocab_size_with_padding); the config's
 *   vocab_multiple plays make_vocab_size_divisible_by here, so tp = 1 keeps the config's padding.
 *
 * Pipeline parallelism (Narayanan et al. 2021, "Efficient Large-Scale Language Model Training
 * on GPU Clusters Using Megatron-LM"): num_layers / pp consecutive blocks per stage (pp must
 * divide num_layers); the embeddings sit on the first stage, ln_final and lm_head on the last. A
 * tied lm_head on a pipeline of several stages reads a copy of the embedding table that the last
 * stage keeps (Megatron's word embeddings for the head), kept equal by an all-reduce of its
 * gradient between the first and last stage: one more table shard per last-stage device.
 *
 * Sequence parallelism (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
 * Transformer Models", section 4.2.2) splits no parameter; it changes activations and collectives.
 */
export interface ParallelLayout {
  readonly devices: number;
  readonly dataParallel: number;
  readonly tensorParallel: number;
  readonly pipelineParallel: number;
  readonly sequenceParallel: boolean;
}

export interface ParallelismOptions {
  readonly devices: number;
  readonly tensorParallel?: number;
  readonly pipelineParallel?: number;
  readonly sequenceParallel?: boolean;
  /**
   * How a refusal names the numbers it refuses: 'options' as this API spells them ("tp (3)"),
   * 'flags' as the command line does ("--tp 3"), so a message's fix can be typed as it reads.
   */
  readonly syntax?: OptionSyntax;
}

export type OptionSyntax = 'options' | 'flags';

/** The layout's numbers a refusal can name. */
export type LayoutOption = 'devices' | 'tp' | 'pp' | 'seq' | 'micro-batches';

/** Names a layout option in a refusal: its subject ("tp (3)" or "--tp 3:") and a fix ("a tp of 1 or 2" or "--tp 1 or 2"). */
export interface OptionNaming {
  readonly subject: (option: LayoutOption, value: number) => string;
  readonly fix: (option: LayoutOption, values: string) => string;
  /** How to ask for no sequence parallelism. */
  readonly noSequenceParallel: string;
}

const NAMINGS: Readonly<Record<OptionSyntax, OptionNaming>> = {
  options: {
    subject: (option, value) => `${option} (${value})`,
    fix: (option, values) => (option === 'devices' ? `${values} devices` : `a ${option} of ${values}`),
    noSequenceParallel: 'turn sequence parallelism off',
  },
  flags: {
    subject: (option, value) => `--${option} ${value}:`,
    fix: (option, values) => `--${option} ${values}`,
    noSequenceParallel: 'leave out --sp',
  },
};

export function optionNaming(syntax: OptionSyntax = 'options'): OptionNaming {
  return NAMINGS[syntax];
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** "1, 2, 3, 4 or 6", or "1, 2, 3, 4, 6, 8, 12, 16, ..." past `limit`: the divisors of n, smallest first. */
function divisorList(n: number, limit = 8): string {
  const divisors: number[] = [];
  for (let i = 1; i <= n; i++) if (n % i === 0) divisors.push(i);
  if (divisors.length > limit) return `${divisors.slice(0, limit).join(', ')}, ...`;
  return divisors.length === 1 ? '1' : `${divisors.slice(0, -1).join(', ')} or ${divisors.at(-1)}`;
}

function positiveInteger(naming: OptionNaming, option: LayoutOption, value: number): string | undefined {
  return Number.isSafeInteger(value) && value >= 1
    ? undefined
    : `${naming.subject(option, value)} must be a positive integer`;
}

/** devices = dp * tp * pp, checked against the model: tp splits heads, kv heads and d_ff whole, pp splits the layers. */
export function parallelLayout(config: ModelConfig, options: ParallelismOptions): ParallelLayout {
  const { devices, tensorParallel: tp = 1, pipelineParallel: pp = 1, sequenceParallel = false } = options;
  const naming = optionNaming(options.syntax);
  const flags = options.syntax === 'flags';
  const problems = [
    positiveInteger(naming, 'devices', devices),
    positiveInteger(naming, 'tp', tp),
    positiveInteger(naming, 'pp', pp),
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length > 0) throw new InputError(problems);
  // The model is named where the message starts with the option (flags) or before it (options).
  const [prefix, model] = flags ? ['', ` of ${config.name}`] : [`${config.source}: `, ''];
  const { num_kv_heads } = architectureOf(config);
  const tpDivides = gcd(gcd(config.num_heads, num_kv_heads), config.d_ff);
  if (tpDivides % tp !== 0) {
    problems.push(
      `${prefix}${naming.subject('tp', tp)} must divide num_heads (${config.num_heads}), num_kv_heads (${num_kv_heads}) ` +
        `and d_ff (${config.d_ff})${model}, since tensor parallelism splits whole heads and FFN columns; ` +
        `use ${naming.fix('tp', divisorList(tpDivides))}`,
    );
  }
  if (config.num_layers % pp !== 0) {
    problems.push(
      `${prefix}${naming.subject('pp', pp)} must divide num_layers (${config.num_layers})${model}, one equal group of blocks per stage; ` +
        `use ${naming.fix('pp', divisorList(config.num_layers))}`,
    );
  }
  if (sequenceParallel && config.d_model % tp !== 0) {
    // Exact bytes are B (T / tp) d, whole when tp divides T; but the saved-activation tables are
    // polynomials with whole coefficients per B T^j, which d / tp would not be.
    problems.push(
      `${prefix}sequence parallelism over tp (${tp}) with d_model (${config.d_model})${model} not a multiple of tp is not modelled; ` +
        `use ${naming.fix('tp', divisorList(gcd(tpDivides, config.d_model)))}, or ${naming.noSequenceParallel}`,
    );
  }
  if (devices % (tp * pp) !== 0) {
    const suggestion = Math.max(1, Math.round(devices / (tp * pp))) * tp * pp;
    const split = flags ? 'a --tp and --pp' : 'a tp and pp';
    problems.push(
      `${naming.subject('devices', devices)} must be a multiple of tp x pp (${tp} x ${pp} = ${tp * pp}), the data-parallel copies being whole; ` +
        `use ${naming.fix('devices', String(suggestion))} or ${split} whose product divides ${devices}`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
  return { devices, dataParallel: devices / (tp * pp), tensorParallel: tp, pipelineParallel: pp, sequenceParallel };
}

/** Megatron's vocabulary for tensor parallelism: vocab_size rounded up to a multiple of vocab_multiple * tp. */
function tensorParallelVocab(config: ModelConfig, tensorParallel: number): number {
  const multiple = architectureOf(config).vocab_multiple * tensorParallel;
  return Math.ceil(config.vocab_size / multiple) * multiple;
}

export type ShardRule = 'column' | 'row' | 'vocab' | 'replicated';

/** One parameter tensor as one tensor-parallel rank holds it. */
export interface ShardedParameterRow {
  readonly path: string;
  readonly name: string;
  /** The whole tensor, vocabulary padded for tensor parallelism. */
  readonly shape: readonly number[];
  /** This rank's part. */
  readonly shardShape: readonly number[];
  readonly rule: ShardRule;
  readonly count: bigint;
}

export interface PipelineStage {
  readonly stage: number;
  readonly firstLayer: number;
  readonly layerCount: number;
  readonly hasEmbeddings: boolean;
  readonly hasHead: boolean;
  /** What each tensor-parallel rank of this stage holds, one row per tensor. */
  readonly rows: readonly ShardedParameterRow[];
  /** Parameters on each device of this stage. */
  readonly parameters: bigint;
  /** Parameters of one of this stage's blocks on each device (every block has the same). */
  readonly perLayer: bigint;
}

/** Parameters a model-parallel group holds beyond the model's own count, each with why. */
export interface ParameterReplica {
  readonly what: string;
  readonly parameters: bigint;
}

export interface ShardedParameters {
  readonly layout: ParallelLayout;
  /** The vocabulary rows after Megatron's tensor-parallel padding. */
  readonly vocab: number;
  readonly stages: readonly PipelineStage[];
  /** The model's own count (summarizeParameters). */
  readonly total: bigint;
  /**
   * The copies and padding a group of tp x pp devices holds: sum over stages of
   * tp * stage.parameters = total + sum of these. Each is computed from its definition.
   */
  readonly replicas: readonly ParameterReplica[];
}

/** Output features split over tp: whole heads (fused q/k/v keep each rank's heads together), whole FFN columns. */
const COLUMN_PARALLEL = new Set([
  'attn.q_proj',
  'attn.k_proj',
  'attn.v_proj',
  'attn.qkv_proj',
  'ffn.w1',
  'ffn.w3',
  'ffn.gate_up_proj',
]);
/** Input features split over tp; their biases are added after the all-reduce, whole on every rank. */
const ROW_PARALLEL = new Set(['attn.output_proj', 'ffn.w2']);
/**
 * Whole on every rank: the norms over d, and the q/k norms, one vector over head_dim shared by
 * every head (each rank applies it to its own heads), and the learned position table.
 */
const REPLICATED = new Set([
  'ln1',
  'ln2',
  'post_attn_norm',
  'post_ffn_norm',
  'attn.q_norm',
  'attn.k_norm',
  'ln_final',
  'position_embeddings',
]);

/** The tensor-parallel rule of one parameter tensor, from its module path and name. */
function shardRule(modulePath: string, name: string): ShardRule {
  const local = withinLayer(modulePath);
  if (modulePath === 'token_embeddings' || modulePath === 'lm_head') return 'vocab';
  if (COLUMN_PARALLEL.has(local)) return 'column';
  if (ROW_PARALLEL.has(local)) return name === 'weight' ? 'row' : 'replicated';
  if (REPLICATED.has(local)) return 'replicated';
  throw new Error(`parallelism: no tensor-parallel rule for ${modulePath} ${name}`);
}

/**
 * A parameter's shard on one rank. Weights are [d_in, d_out] (parameters.ts): column-parallel
 * splits d_out (a bias [d_out] alike), row-parallel d_in. The embedding table [V, d] and lm_head
 * [d, V] split their vocabulary axis.
 */
function shardShape(modulePath: string, rule: ShardRule, shape: readonly number[], tp: number): number[] {
  const split = (axis: number) => shape.map((dim, i) => (i === axis ? dim / tp : dim));
  switch (rule) {
    case 'replicated':
      return [...shape];
    case 'column':
      return split(shape.length - 1); // [d_in, d_out / tp] or a bias [d_out / tp]
    case 'row':
      return split(0); // [d_in / tp, d_out]
    case 'vocab':
      return split(modulePath === 'token_embeddings' ? 0 : 1); // [V / tp, d] or [d, V / tp]
  }
}

/**
 * The parameters on each device of a tensor- and pipeline-parallel layout (data parallelism and
 * ZeRO replicate or partition whatever a tp x pp group holds, see zero.ts).
 */
export function shardedParameters(config: ModelConfig, layout: ParallelLayout): ShardedParameters {
  const { tensorParallel: tp, pipelineParallel: pp } = layout;
  const architecture = architectureOf(config);
  const { padded_vocab_size: Vp } = architecture;
  const d = config.d_model;
  const vocab = tensorParallelVocab(config, tp);
  const layersPerStage = config.num_layers / pp;
  const inventory = parameterInventory(config);
  const rowFor = (modulePath: string, name: string, shape: readonly number[]): ShardedParameterRow => {
    const rule = shardRule(modulePath, name);
    // The vocabulary axis grows from Vp to the tensor-parallel padding: token_embeddings [V, d], lm_head [d, V].
    const padded = modulePath === 'token_embeddings' ? [vocab, d] : modulePath === 'lm_head' ? [d, vocab] : [...shape];
    const shard = shardShape(modulePath, rule, padded, tp);
    return { path: modulePath, name, shape: padded, shardShape: shard, rule, count: product(shard) };
  };
  const stageOf = (modulePath: string): number => {
    const layer = layerIndexOf(modulePath);
    if (layer !== undefined) return Math.floor(layer / layersPerStage);
    return modulePath === 'token_embeddings' || modulePath === 'position_embeddings' ? 0 : pp - 1;
  };
  const stageRows: ShardedParameterRow[][] = Array.from({ length: pp }, () => []);
  for (const row of inventory) stageRows[stageOf(row.path)]?.push(rowFor(row.path, row.name, row.shape));
  const tiedCopy = architecture.tie_embeddings && pp > 1;
  if (tiedCopy) {
    // The last stage's copy of the table its lm_head multiplies by (E^T).
    stageRows[pp - 1]?.push({
      ...rowFor('token_embeddings', 'weight', [Vp, d]),
      path: 'lm_head',
      name: 'tied copy of token_embeddings',
    });
  }
  const stages: PipelineStage[] = stageRows.map((rows, stage) => {
    const firstLayer = stage * layersPerStage;
    return {
      stage,
      firstLayer,
      layerCount: layersPerStage,
      hasEmbeddings: stage === 0,
      hasHead: stage === pp - 1,
      rows,
      parameters: sum(rows.map((row) => row.count)),
      perLayer: sum(rows.filter((row) => layerIndexOf(row.path) === firstLayer).map((row) => row.count)),
    };
  });
  return {
    layout,
    vocab,
    stages,
    total: summarizeParameters(config).total,
    replicas: parameterReplicas(config, tp, pp, vocab),
  };
}

/** The replicas and padding of a tp x pp group, each from its definition rather than by difference. */
function parameterReplicas(config: ModelConfig, tp: number, pp: number, vocab: number): ParameterReplica[] {
  const architecture = architectureOf(config);
  const { num_layers: L, d_model: d } = config;
  const copies = BigInt(tp - 1);
  const normWeights = architecture.norm === 'layernorm' ? 2n : 1n; // gain (+ bias)
  const normsPerBlock = architecture.post_norms ? 4n : 2n; // ln1, ln2 (+ post_attn_norm, post_ffn_norm)
  const normNames = architecture.post_norms ? 'ln1, ln2, post_attn_norm, post_ffn_norm' : 'ln1, ln2';
  const replicas: ParameterReplica[] = [
    {
      what: `norm weights (${normNames} per block and ln_final) on each of the ${tp} tensor-parallel ranks`,
      parameters: copies * normWeights * BigInt(d) * (normsPerBlock * BigInt(L) + 1n),
    },
  ];
  if (architecture.qk_norm) {
    replicas.push({
      what: `q_norm and k_norm weights (over head_dim ${architecture.head_dim}) on each of the ${tp} tensor-parallel ranks`,
      parameters: copies * normWeights * 2n * BigInt(architecture.head_dim) * BigInt(L),
    });
  }
  const rowBiases = [architecture.output_bias ? 'output_proj' : '', architecture.mlp_bias ? 'w2' : ''].filter(
    (name) => name !== '',
  );
  if (rowBiases.length > 0) {
    replicas.push({
      what: `row-parallel biases (${rowBiases.join(', ')}) on each of the ${tp} tensor-parallel ranks`,
      parameters: copies * BigInt(rowBiases.length) * BigInt(d) * BigInt(L),
    });
  }
  if (architecture.positions === 'learned') {
    replicas.push({
      what: `position_embeddings on each of the ${tp} tensor-parallel ranks`,
      parameters: copies * BigInt(config.context_length) * BigInt(d),
    });
  }
  const tables = architecture.tie_embeddings ? 1n : 2n;
  const extraRows = BigInt(vocab - architecture.padded_vocab_size);
  if (extraRows > 0n) {
    replicas.push({
      what: `vocabulary padded from ${architecture.padded_vocab_size} to ${vocab} rows (a multiple of ${architecture.vocab_multiple} x tp)`,
      parameters: tables * extraRows * BigInt(d),
    });
  }
  if (architecture.tie_embeddings && pp > 1) {
    replicas.push({
      what: "the last stage's copy of the tied embedding table for lm_head",
      parameters: BigInt(vocab) * BigInt(d),
    });
  }
  return replicas;
}
