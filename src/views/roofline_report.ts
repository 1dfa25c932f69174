/**
 * A roofline prediction on a named device (src/analytic/roofline.ts): per module the bound, the
 * predicted time and its share, then the totals, tokens per second and MFU, with every figure
 * the prediction assumed and where it came from. Formatted here from exact values.
 */
import {
  rationalToNumber,
  splitTotal,
  type ByteSplit,
  type Device,
  type ModulePrediction,
  type RooflinePrediction,
} from '../analytic/index.js';
import { modelLabel, type ModelConfig } from '../config/model_config.js';
import type { Rational } from '../core/exact.js';
import { groupDigits } from '../core/format.js';
import { cellText, fixed, heading, list, paragraph, tableBlock, type Cell, type Report } from '../render/table.js';
import { configJson } from './labels.js';
import { peakUnit } from './devices_report.js';

export type RooflineMode = 'forward' | 'train' | 'prefill' | 'decode';

/** A flag's value and whether the user gave it or the device's default stands. */
export interface Stated<T> {
  readonly value: T;
  readonly isDefault: boolean;
}

export interface RooflineReportInput {
  readonly config: ModelConfig;
  readonly device: Device;
  readonly mode: RooflineMode;
  /** The run in words: "1 x 1,024 tokens", "prompt 512, 10 generated, batch 1". */
  readonly run: string;
  readonly runJson: Record<string, unknown>;
  readonly prediction: RooflinePrediction;
  /** Decode: the steps the prediction covers; its time per step is the total over them. */
  readonly steps?: number;
  /** 0 totals only, 1 modules by kind across layers, 2 per layer, 3 every module path. */
  readonly depth: number;
  readonly computeEfficiency: Stated<Rational>;
  readonly memoryEfficiency: Stated<Rational>;
  readonly launchSeconds: Stated<Rational>;
}

const GIGA = 10n ** 9n;

const milliseconds = (value: Rational): Cell => fixed(value.numerator * 1000n, value.denominator, 3);
const percentCell = (value: Rational): Cell => cellText`${fixed(value.numerator * 100n, value.denominator, 1)}%`;
const intensityCell = (value: Rational | undefined): Cell =>
  value === undefined ? 'n/a' : fixed(value.numerator, value.denominator, 2);
const fraction = (value: Rational) => `${(rationalToNumber(value) * 100).toFixed(1)}%`;
const stated = (text: string, value: Stated<unknown>) => `${text} (${value.isDefault ? 'device default' : 'given'})`;
/** A rate for people: grouped whole numbers from 100 up, two decimals below. */
const rate = (value: Rational) => {
  const number = rationalToNumber(value);
  return number >= 100 ? groupDigits(value.numerator / value.denominator) : number.toFixed(2);
};
const perStep = (value: Rational, steps: number): Rational => ({
  numerator: value.numerator,
  denominator: value.denominator * BigInt(steps),
});

function bytesText(split: ByteSplit): string {
  const gb = (bytes: bigint) => `${(rationalToNumber({ numerator: bytes, denominator: GIGA }) || 0).toFixed(3)} GB`;
  return `weights ${gb(split.weights)}, activations ${gb(split.activations)}, KV cache ${gb(split.kvCache)}`;
}

const MODE_WORDS: Readonly<Record<RooflineMode, string>> = {
  forward: 'one forward pass',
  train: 'one training step (forward, backward matmuls, AdamW)',
  prefill: 'a prefill (the forward pass over the prompt, then the KV cache writes)',
  decode: 'the decode steps of a generation',
};

function moduleRow(module: ModulePrediction): Cell[] {
  return [
    module.module === '' ? '(whole model)' : module.module === 'layers.*' ? 'layers.* (residual adds)' : module.module,
    BigInt(module.kernels),
    module.flops,
    module.bytes,
    intensityCell(module.intensity),
    module.bound,
    milliseconds(module.seconds),
    percentCell(module.share),
    percentCell(module.mfu),
  ];
}

/** The roofline report: assumptions, per-module table, totals. */
export function rooflineReport(input: RooflineReportInput): Report<RooflineData> {
  const { prediction, device, mode } = input;
  const { assumptions, totals } = prediction;
  const steps = input.steps ?? 1;
  const unit = mode === 'decode' ? ' per decoded token' : '';
  const perToken = mode === 'decode' ? perStep(totals.seconds, steps) : totals.seconds;
  const assumed = [
    `device: ${device.name} (${device.id}); see \`flopledger devices\` for every figure's source`,
    `matmul peak: ${groupDigits(assumptions.matmulPeak / GIGA)} G${peakUnit(assumptions.dtype)} dense ${assumptions.dtype} (${assumptions.matmulPeakFrom})`,
    `non-matmul peak: ${groupDigits(assumptions.vectorPeak / GIGA)} GFLOP/s (${assumptions.vectorPeakFrom})`,
    `bandwidth: ${groupDigits(assumptions.bandwidth / GIGA)} GB/s (${assumptions.bandwidthFrom})`,
    stated(`compute efficiency ${fraction(assumptions.computeEfficiency)}`, input.computeEfficiency) +
      '; override with --compute-efficiency',
    stated(`memory efficiency ${fraction(assumptions.memoryEfficiency)}`, input.memoryEfficiency) +
      '; override with --memory-efficiency',
    stated(
      `launch cost ${(rationalToNumber(assumptions.launchSeconds) * 1e6).toFixed(2)} us per kernel`,
      input.launchSeconds,
    ) + '; override with --launch-us',
    `the defaults: ${assumptions.defaultsWhy}`,
  ];
  const secondsByBound = totals.secondsByBound;
  const ms = (value: Rational) =>
    `${(rationalToNumber(mode === 'decode' ? perStep(value, steps) : value) * 1000).toFixed(3)} ms`;
  const summary = [
    `predicted time: ${ms(totals.seconds)}${unit}` +
      (mode === 'decode' ? ` (${(rationalToNumber(totals.seconds) * 1000).toFixed(3)} ms for ${steps} steps)` : ''),
    `by bound${unit}: compute ${ms(secondsByBound.compute)}, memory ${ms(secondsByBound.memory)}, ` +
      `launch ${ms(secondsByBound.launch)}`,
    ...(prediction.tokensPerSecond === undefined ? [] : [`tokens per second: ${rate(prediction.tokensPerSecond)}`]),
    `MFU: ${fraction(totals.mfu)} of the dense ${assumptions.dtype} peak`,
    `FLOPs: ${groupDigits(totals.flops)} (${groupDigits(totals.matmulFlops)} in matmuls) in ${groupDigits(BigInt(totals.kernels))} kernels`,
    `bytes read: ${bytesText(totals.read)}; written: ${bytesText(totals.written)}`,
  ];
  const blocks = [
    heading(`Roofline: ${modelLabel(input.config)}, ${MODE_WORDS[mode]}, ${input.run}, on ${device.id}`),
    list(assumed),
    list(summary),
  ];
  if (input.depth > 0) {
    blocks.push(
      tableBlock({
        columns: [
          { header: 'module' },
          { header: 'kernels', align: 'right' },
          { header: 'FLOPs', align: 'right' },
          { header: 'bytes', align: 'right' },
          { header: 'FLOP/B', align: 'right' },
          { header: 'bound' },
          { header: mode === 'decode' ? `ms (${steps} steps)` : 'ms', align: 'right' },
          { header: 'share', align: 'right' },
          { header: 'MFU', align: 'right' },
        ],
        rows: prediction.modules.map(moduleRow),
        totals: [
          [
            'total',
            BigInt(totals.kernels),
            totals.flops,
            totals.bytes,
            intensityCell(totals.bytes === 0n ? undefined : { numerator: totals.flops, denominator: totals.bytes }),
            '',
            milliseconds(totals.seconds),
            '100.0%',
            percentCell(totals.mfu),
          ],
        ],
        notes: [
          'Each kernel takes max(FLOPs / (peak x compute efficiency), bytes / (bandwidth x memory efficiency)) plus ' +
            'the launch cost; it reads every input and writes every output once (no fusion, no cache reuse). A ' +
            "module's bound is the one most of its time falls under.",
        ],
      }),
    );
  }
  if (prediction.omitted.length > 0) blocks.push(paragraph(`Not in the prediction: ${prediction.omitted.join('; ')}.`));
  return { blocks, json: rooflineData(input, perToken) };
}

function rooflineData(input: RooflineReportInput, perToken: Rational) {
  const { prediction } = input;
  const { assumptions, totals } = prediction;
  return {
    model: configJson(input.config),
    device: input.device.id,
    mode: input.mode,
    run: input.runJson,
    assumptions: {
      ...assumptions,
      computeEfficiencyDefault: input.computeEfficiency.isDefault,
      memoryEfficiencyDefault: input.memoryEfficiency.isDefault,
      launchSecondsDefault: input.launchSeconds.isDefault,
    },
    totals: {
      ...totals,
      bytesRead: splitTotal(totals.read),
      bytesWritten: splitTotal(totals.written),
      milliseconds: rationalToNumber(totals.seconds) * 1000,
      millisecondsPerToken: input.mode === 'decode' ? rationalToNumber(perToken) * 1000 : undefined,
      mfuPercent: rationalToNumber(totals.mfu) * 100,
    },
    tokens: prediction.tokens,
    tokensPerSecond: prediction.tokensPerSecond,
    modules: prediction.modules.map((module) => ({
      ...module,
      milliseconds: rationalToNumber(module.seconds) * 1000,
      sharePercent: rationalToNumber(module.share) * 100,
      mfuPercent: rationalToNumber(module.mfu) * 100,
    })),
    omitted: prediction.omitted,
  };
}

export type RooflineData = ReturnType<typeof rooflineData>;
