/**
 * Everything the page counts for one model, as the CLI's commands count it: the same analytic
 * functions and the same views (params, memory, flops, train, infer), with the CLI's defaults,
 * and the report's two charts for this model. Pure: no tfjs.
 */
import { sixNComparison } from '../analytic/conventions/index.js';
import { forwardFlopBreakdown } from '../analytic/flop_breakdown.js';
import { inferenceEstimate } from '../analytic/inference/index.js';
import { parameterMemory } from '../analytic/memory.js';
import { summarizeParameters } from '../analytic/parameters.js';
import { sweepModels, sweepSequenceLengths } from '../analytic/sweeps.js';
import {
  adamwUpdateFlops,
  backwardFlopBreakdown,
  backwardToForwardRatio,
  largestBatch,
  parseMfu,
  parsePeakFlops,
  runTime,
  tracedStepPeaks,
  trainingMemory,
  trainingMemoryPolynomial,
  trainingStepFlops,
} from '../analytic/training/index.js';
import type { ModelConfig, RunShape } from '../config/model_config.js';
import { applyOverrides } from '../config/load_model_config.js';
import { resolveRunShape } from '../config/run_shape.js';
import type { Figure } from '../render/document.js';
import type { Block } from '../render/table.js';
import { sharesByContextSpec, sharesBySizeSpec } from '../views/charts.js';
import { flopsReport } from '../views/flops_report.js';
import { inferReport } from '../views/infer_report.js';
import { memoryReport } from '../views/memory_report.js';
import { paramsReport } from '../views/params_report.js';
import { trainReport } from '../views/train_report.js';
import { modelOf } from './model_of.js';
import type { PageState } from './state.js';

/** The CLI's defaults for `train` (an A100's fp32 peak, 50% MFU, 400K steps, 80 GB) and `infer` (80 GB, bf16). */
const TRAIN_DEFAULTS = { memory: 80n * 10n ** 9n, steps: 400_000n, peakFlops: '19.5T', mfu: '0.5' } as const;
const INFER_MEMORY = 80n * 10n ** 9n;

export interface Section {
  readonly id: string;
  readonly title: string;
  readonly blocks: readonly Block[];
}

export interface Counted {
  readonly config: ModelConfig;
  readonly run: RunShape;
  readonly parameters: bigint;
  readonly forwardFlops: bigint;
  readonly stepFlops: bigint;
  readonly sections: readonly Section[];
  readonly figures: readonly Figure[];
}

/** Powers of two from 128 up to the context length, and the context length itself. */
function contextSeries(contextLength: number): number[] {
  const seqs: number[] = [];
  for (let seq = 128; seq < contextLength; seq *= 2) seqs.push(seq);
  return [...seqs, contextLength];
}

/** A prompt and generation that fit the context unless the visitor chose otherwise: at most 4096 + 512. */
function generationOf(config: ModelConfig, state: PageState): { prompt: number; generate: number } {
  const half = Math.max(1, Math.floor(config.context_length / 2));
  const prompt = state.prompt ?? Math.min(4096, half);
  const generate = state.generate ?? Math.max(1, Math.min(512, config.context_length - prompt));
  return { prompt, generate };
}

export function countModel(state: PageState): Counted {
  const config = modelOf(state);
  const run = resolveRunShape(config, { batch: state.batch, seq: state.seq });
  const summary = summarizeParameters(config);
  const memory = parameterMemory(config);
  const step = trainingStepFlops(config, run);
  const breakdown = forwardFlopBreakdown(config, run);
  const peakFlopsPerSecond = parsePeakFlops(TRAIN_DEFAULTS.peakFlops, 'peak FLOP/s');
  const mfu = parseMfu(TRAIN_DEFAULTS.mfu, 'MFU');
  const train = trainReport({
    config,
    run,
    depth: state.depth,
    backward: backwardFlopBreakdown(config, run),
    ratios: backwardToForwardRatio(config, run),
    sixN: sixNComparison(config, run),
    adamw: adamwUpdateFlops(summary.total),
    step,
    memory: trainingMemory(config, run),
    stepPeaks: tracedStepPeaks(config, run),
    polynomial: trainingMemoryPolynomial(config, run.seq),
    memoryBudget: { value: TRAIN_DEFAULTS.memory, isDefault: true },
    largest: largestBatch(config, run.seq, TRAIN_DEFAULTS.memory),
    steps: { value: TRAIN_DEFAULTS.steps, isDefault: true },
    peakFlopsPerSecond: { value: peakFlopsPerSecond, isDefault: true },
    mfu: { value: mfu, isDefault: true },
    time: runTime({ stepFlops: step.total, steps: TRAIN_DEFAULTS.steps, peakFlopsPerSecond, mfu }),
  });

  const { prompt, generate } = generationOf(config, state);
  // As `infer` does: a RoPE model is counted with its context raised to fit P + G; a learned
  // position table is refused by validation below, with the numbers.
  const needed = prompt + generate;
  const inferConfig = needed <= config.context_length ? config : applyOverrides(config, { context_length: needed });
  const infer = inferReport({
    estimate: inferenceEstimate(inferConfig, {
      batch: state.batch,
      prompt,
      generate,
      kvDtype: 'bf16',
      weightDtype: 'bf16',
      memoryBytes: INFER_MEMORY,
    }),
    depth: state.depth,
    memoryBudget: { value: INFER_MEMORY, isDefault: true },
  });

  const sections: Section[] = [
    {
      id: 'params',
      title: 'Parameters',
      blocks: paramsReport({ config, summary, memory, depth: state.depth }).blocks,
    },
    {
      id: 'memory',
      title: 'Memory of the weights by dtype',
      blocks: memoryReport({ config, parameters: summary.total, memory }).blocks,
    },
    {
      id: 'flops',
      title: 'Forward FLOPs by component',
      blocks: flopsReport({ config, breakdown, depth: state.depth, showMacs: false }).blocks,
    },
    { id: 'train', title: 'Training step', blocks: train.blocks },
    { id: 'infer', title: `Inference: prompt ${prompt}, generate ${generate}`, blocks: infer.blocks },
  ];
  const figures: Figure[] = [
    {
      kind: 'figure',
      id: 'flop-shares-by-size',
      file: 'flop-shares-by-size.svg',
      title: 'Forward FLOP shares by component',
      caption: `${config.name} at batch ${run.batch}, T = ${run.seq}.`,
      spec: sharesBySizeSpec(sweepModels([config], () => run)),
    },
    {
      kind: 'figure',
      id: 'flop-shares-by-context',
      file: 'flop-shares-by-context.svg',
      title: 'Forward FLOP shares against context length',
      caption: `${config.name}, batch 1, from T = 128 to its context length.`,
      spec: sharesByContextSpec(sweepSequenceLengths(config, contextSeries(config.context_length))),
    },
  ];
  return {
    config,
    run,
    parameters: summary.total,
    forwardFlops: breakdown.total,
    stepFlops: step.total,
    sections,
    figures,
  };
}
