/**
 * The seed problem's deliverables (a)-(e) as a report, computed from its models: the `answers`
 * command prints them, and the bare command prints them after its verifications.
 */
import {
  forwardFlopBreakdown,
  parameterMemory,
  summarizeParameters,
  sweepModels,
  sweepSequenceLengths,
} from '../analytic/index.js';
import { loadModelConfig, resolveRunShape } from '../config/index.js';
import { answersReport } from '../views/answers_report.js';
import type { Report } from '../render/table.js';

/** (a)-(c) and (e) use the largest model; (d) compares all four. */
const ANSWER_MODEL = 'gpt2-xl';
const SIZE_SERIES = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
const LONG_CONTEXT = 16_384;

export function seedAnswers(): Report {
  const config = loadModelConfig(ANSWER_MODEL);
  const [atContext, atLongContext] = sweepSequenceLengths(config, [config.context_length, LONG_CONTEXT]);
  return answersReport({
    model: {
      config,
      summary: summarizeParameters(config),
      memory: parameterMemory(config),
      breakdown: forwardFlopBreakdown(config, resolveRunShape(config)),
    },
    sizes: sweepModels(SIZE_SERIES.map((name) => loadModelConfig(name))),
    longContext: [atContext!, atLongContext!],
  });
}
