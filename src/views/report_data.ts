/**
 * The models and runs the report is about: the seed's GPT-2 XL at its context, the four GPT-2
 * sizes, GPT-2 XL at 16,384 tokens and GPT-2 XL from 1K to 64K tokens. Everything is counted
 * here from the presets; nothing is read from the seed's notebook.
 */
import {
  forwardFlopBreakdown,
  parameterMemory,
  summarizeParameters,
  sweepModels,
  sweepSequenceLengths,
  type SweepPoint,
} from '../analytic/index.js';
import { loadModelConfig, resolveRunShape } from '../config/index.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { countingConventions, type CountingConventions } from '../analytic/conventions/index.js';
import type { AnswersInput } from './answers_report.js';
import { renderChartSvg, sharesByContextSpec, sharesBySizeSpec } from './charts.js';

export const REPORT_MODEL = 'gpt2-xl';
export const SIZE_SERIES = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] as const;
export const LONG_CONTEXT = 16_384;
/** 1K to 64K tokens, doubling. */
export const CONTEXT_SERIES = [1024, 2048, 4096, 8192, 16_384, 32_768, 65_536] as const;

export interface ReportData {
  readonly answers: AnswersInput;
  readonly contextSweep: readonly SweepPoint[];
  readonly conventions: CountingConventions;
}

export function collectReportData(): ReportData {
  const config = loadModelConfig(REPORT_MODEL);
  const run = resolveRunShape(config);
  const [atContext, atLongContext] = sweepSequenceLengths(config, [config.context_length, LONG_CONTEXT]);
  return {
    answers: {
      model: {
        config,
        summary: summarizeParameters(config),
        memory: parameterMemory(config),
        breakdown: forwardFlopBreakdown(config, run),
      },
      sizes: sweepModels(SIZE_SERIES.map((name) => loadModelConfig(name))),
      longContext: [atContext!, atLongContext!],
    },
    contextSweep: sweepSequenceLengths(config, [...CONTEXT_SERIES]),
    conventions: countingConventions(config, run),
  };
}

/** Every distinct model and run whose counts the report shows, in the order the report first uses them. */
export function reportRuns(data: ReportData): { config: ModelConfig; run: RunShape }[] {
  const candidates = [
    { config: data.answers.model.config, run: data.answers.model.breakdown.run },
    ...data.answers.sizes,
    ...data.answers.longContext,
    ...data.contextSweep,
  ].map((point) => ({ config: point.config, run: point.run }));
  const seen = new Set<string>();
  return candidates.filter(({ config, run }) => {
    const key = `${config.name}|${config.num_layers}|${config.d_model}|${config.num_heads}|${config.d_ff}|${config.vocab_size}|${run.batch}|${run.seq}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The two share charts, as in the report and in docs/. */
export async function renderShareCharts(data: ReportData): Promise<{ sharesBySize: string; sharesByContext: string }> {
  return {
    sharesBySize: await renderChartSvg(sharesBySizeSpec(data.answers.sizes), 'size-'),
    sharesByContext: await renderChartSvg(sharesByContextSpec(data.contextSweep), 'context-'),
  };
}
