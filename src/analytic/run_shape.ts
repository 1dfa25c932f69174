import { InputError } from '../errors.js';
import { headDim, type ModelConfig, type RunShape } from '../config/model_config.js';

/**
 * The checks the formulas themselves depend on: whole, positive batch and seq, seq within the
 * context, and a whole head width. The config loader validates files; these guard the library
 * when it is called with hand-built values.
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
    problems.push(
      `${config.source}: d_model (${config.d_model}) must be divisible by num_heads (${config.num_heads})`,
    );
  }
  if (problems.length > 0) throw new InputError(problems);
}
