import { InputError } from '../core/errors.js';
import { architectureOf, headDim, type ModelConfig, type RunShape } from '../config/model_config.js';

/**
 * The checks the formulas themselves depend on: whole, positive batch and seq, seq within the
 * context, a whole head width, key/value heads that split the query heads into whole groups, and
 * a whole vocab multiple. The config loader validates files; these guard the library when it is
 * called with hand-built values.
 */
export function assertRunFits(config: ModelConfig, run: RunShape): void {
  const problems: string[] = [];
  if (!Number.isSafeInteger(run.batch) || run.batch < 1) {
    problems.push(`run: batch (${run.batch}) must be a positive integer`);
  }
  if (!Number.isSafeInteger(run.seq) || run.seq < 1) {
    problems.push(`run: seq (${run.seq}) must be a positive integer`);
  } else if (run.seq > config.context_length) {
    problems.push(
      `${config.source}: seq (${run.seq}) exceeds context_length (${config.context_length}); ` +
        `use a seq of at most ${config.context_length} or raise context_length`,
    );
  }
  if (!Number.isSafeInteger(headDim(config))) {
    problems.push(`${config.source}: d_model (${config.d_model}) must be divisible by num_heads (${config.num_heads})`);
  }
  const attention = run.attention;
  if (attention?.kind === 'blocked' && (!Number.isSafeInteger(attention.block) || attention.block < 1)) {
    problems.push(`run: the attention block (${attention.block}) must be a positive whole number of positions`);
  }
  const { num_kv_heads, vocab_multiple } = architectureOf(config);
  if (!Number.isSafeInteger(num_kv_heads) || num_kv_heads < 1 || config.num_heads % num_kv_heads !== 0) {
    problems.push(
      `${config.source}: num_kv_heads (${num_kv_heads}) must be a positive divisor of num_heads (${config.num_heads}); ` +
        `use ${config.num_heads} (multi-head), 1 (multi-query) or another divisor (grouped-query)`,
    );
  }
  if (!Number.isSafeInteger(vocab_multiple) || vocab_multiple < 1) {
    problems.push(
      `${config.source}: vocab_multiple (${vocab_multiple}) must be a positive integer; use 1 for no padding`,
    );
  }
  problems.push(...routingProblems(config, run));
  if (problems.length > 0) throw new InputError(problems);
}

/**
 * A given routing has E counts per MoE layer summing to k * batch * seq, and none for a dense
 * layer; a traced one only the E whole counts (the verifier checks its sums).
 */
function routingProblems(config: ModelConfig, run: RunShape): string[] {
  const routing = run.routing;
  const moe = architectureOf(config).moe;
  if (routing === undefined) return [];
  if (moe === undefined) return ['run: a routing was given for a model without experts'];
  const tokens = run.batch * run.seq * moe.experts_per_token;
  return moe.moe_layers.flatMap((isMoe, i) => {
    const rows = routing.rows[i] ?? [];
    const total = rows.reduce((a, b) => a + b, 0);
    if (!isMoe) return rows.length === 0 ? [] : [`run: routing of layer ${i}, a dense layer, lists experts`];
    const sumProblem = routing.traced !== true && total !== tokens;
    if (rows.length !== moe.num_experts || rows.some((n) => !Number.isSafeInteger(n) || n < 0) || sumProblem) {
      return [
        `run: routing of layer ${i} must give each of the ${moe.num_experts} experts a whole number of tokens, ` +
          `${tokens} in all (k * batch * seq); got [${rows.join(', ')}]`,
      ];
    }
    return [];
  });
}
