/**
 * The run shape of one forward pass: batch defaults to 1 and seq to the model's full context,
 * the seed's "assume the input has context_length tokens". A longer seq is refused rather than
 * quietly extending the model: the context length is a model dimension (context_length), raised
 * as one. Messages name the fields; the CLI reads --batch and --seq itself (src/cli/options.ts).
 */
import { InputError } from '../core/errors.js';
import type { ModelConfig, RunShape } from './model_config.js';

export function resolveRunShape(config: ModelConfig, options: { batch?: number; seq?: number } = {}): RunShape {
  const batch = options.batch ?? 1;
  const seq = options.seq ?? config.context_length;
  const problems: string[] = [];
  if (!isPositiveInteger(batch)) problems.push(`batch: ${batch} is not a positive integer; use e.g. batch=8`);
  if (!isPositiveInteger(seq)) {
    problems.push(`seq: ${seq} is not a positive integer; use e.g. seq=${config.context_length}`);
  } else if (seq > config.context_length) {
    const model = config.variant !== undefined ? `${config.name} with ${config.variant}` : config.name;
    problems.push(
      `seq=${seq} is longer than the context length of ${model} (${config.context_length}); ` +
        `set context_length=${seq} to raise it, or use seq=${config.context_length} or less`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
  return { batch, seq };
}

function isPositiveInteger(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}
