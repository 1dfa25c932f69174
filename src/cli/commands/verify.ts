import type { BackendChoice } from '../../runtime/backend.js';
import { loadModelConfig, resolveRunShape } from '../../config/index.js';
import type { ModelConfig, RunShape } from '../../config/model_config.js';
import { runLabel } from '../../views/labels.js';
import { modelLabel } from '../../config/model_config.js';
import type { TimedVerification } from '../../views/verify_report.js';
import { refuseBeforeStart } from '../../runtime/memory_guard.js';
import { exampleHelp, type CommandContext, type RegisterCommand } from '../command_context.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  addModelRunOptions,
  addAttentionOptions,
  addRunShapeOptions,
  depthOf,
  loadModel,
  loadModelRun,
  MODEL_ARGUMENT_HELP,
  modelRunOptionsOf,
  writeReport,
  type FormatOptions,
  type ModelReportOptions,
  type ModelRunFlags,
} from '../options.js';
import { seedAnswers } from '../../views/report_data.js';
import { InputError } from '../../core/errors.js';
import { CHECKPOINT_CHOICES, describeChoices, parseChoice, parsePositiveInteger } from '../flags.js';
import { fitPositions, requiredCount } from './infer.js';

type VerifyOptions = ModelReportOptions &
  ModelRunFlags & { train?: boolean; checkpoint?: string; decode?: boolean; prompt?: string; generate?: string };

/** The decode check and its report; imported when a model is to run, as they load TensorFlow.js. */
async function decodeVerification() {
  const [verify, report, verdict] = await Promise.all([
    import('../../verify/verify_decode.js'),
    import('../../views/verify_decode_report.js'),
    import('../../verify/verdict.js'),
  ]);
  return { ...verify, ...report, ...verdict };
}

/** Flags that belong to a forward pass or a training step, refused beside --decode rather than ignored. */
const NOT_WITH_DECODE = [
  ['seq', '--seq', 'give the prompt with --prompt'],
  ['train', '--train', 'verify the training step in a run of its own'],
  ['checkpoint', '--checkpoint', 'checkpointing belongs to a training step (--train)'],
  ['attention', '--attention', 'decode steps are counted as the dense kernel computes them'],
  ['block', '--block', 'decode steps are counted as the dense kernel computes them'],
] as const;

/** `verify --decode`: a prefill of --prompt tokens and --generate steps of one token, traced and checked. */
async function verifyDecodeAction(model: string | undefined, options: VerifyOptions, context: CommandContext) {
  for (const [key, flag, fix] of NOT_WITH_DECODE) {
    if (options[key] !== undefined) throw new InputError(`${flag} does not go with --decode: ${fix}`);
  }
  const prompt = requiredCount(options.prompt, '--prompt', 'the prompt length in tokens', 4096);
  const generate = requiredCount(options.generate, '--generate', 'the decode steps to trace', 16);
  const batch = options.batch === undefined ? 1 : parsePositiveInteger(options.batch, '--batch');
  const config = fitPositions(loadModel(model, options, context), prompt, generate, context);
  const runOptions = modelRunOptionsOf(options, context);
  // A real run that cannot fit is refused before TensorFlow.js loads.
  refuseBeforeStart(runOptions, 'decode', [{ config, run: { batch, seq: prompt + generate } }]);
  const lib = await decodeVerification();
  const verified = await lib.verifyDecode({ config, request: { batch, prompt, generate }, ...runOptions });
  writeReport(context, lib.decodeVerificationReport(verified, depthOf(options)), options.format);
  context.setExitCode(lib.verificationExitCode(verified));
}

/** The tracer, the checks and their reports; imported when a model is to run, as they load TensorFlow.js. */
async function verification() {
  const [verify, training, report, trainingReport] = await Promise.all([
    import('../../verify/index.js'),
    import('../../verify/verify_training.js'),
    import('../../views/verify_report.js'),
    import('../../views/verify_training_report.js'),
  ]);
  return { ...verify, ...training, ...report, ...trainingReport };
}

export const registerVerify: RegisterCommand = (program, context) => {
  const command = program
    .command('verify')
    .description(
      'trace a real forward pass and check every matmul against the formulas, exactly (exit 1 on any difference)',
    )
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger verify gpt2-small --seq 128',
        'flopledger verify gpt2-xl --backend meta',
        'flopledger verify gpt2-xl --backend meta --ctx 16384 --seq 16384 --depth 3',
        'flopledger verify gpt2-xl --backend meta --train',
        'flopledger verify gpt2-xl --backend meta --train --checkpoint selective',
        'flopledger verify llama-3-8b --backend meta --decode --prompt 4096 --generate 16',
      ),
    );
  addRunShapeOptions(command);
  addAttentionOptions(command);
  addModelRunOptions(command);
  command
    .option(
      '--train',
      'also trace one training step (loss, backward pass, AdamW) and check every backward matmul against the formulas, exactly',
    )
    .option(
      '--checkpoint <policy>',
      `with --train: activation checkpointing of the traced step, its recompute checked: ${describeChoices(CHECKPOINT_CHOICES)} (default none)`,
    );
  command
    .option(
      '--decode',
      'trace a prefill and decode steps with a KV cache instead, and check every step and the cache against the formulas, exactly',
    )
    .option('--prompt <n>', 'with --decode: prompt tokens per sequence, prefilled at once (required)')
    .option('--generate <n>', 'with --decode: decode steps of one token per sequence (required)');
  addDepthOption(command, '0 verdict, 1 components (with --decode: passes), 2 per layer, 3 every matmul');
  addModelOverrideOptions(command);
  addFormatOption(command).action(async (model: string | undefined, options: VerifyOptions) => {
    if (options.decode === true) return verifyDecodeAction(model, options, context);
    for (const flag of ['prompt', 'generate'] as const) {
      if (options[flag] !== undefined)
        throw new InputError(`--${flag} needs --decode; add --decode to trace generation`);
    }
    if (options.checkpoint !== undefined && options.train !== true) {
      throw new InputError('--checkpoint needs --train; add --train to trace a training step');
    }
    const checkpoint =
      options.checkpoint === undefined ? 'none' : parseChoice(options.checkpoint, '--checkpoint', CHECKPOINT_CHOICES);
    const { config, run } = loadModelRun(model, options, context);
    const runOptions = modelRunOptionsOf(options, context);
    // A real run that cannot fit is refused before TensorFlow.js loads, the training step first.
    if (options.train === true) refuseBeforeStart(runOptions, 'training step', [{ config, run }]);
    refuseBeforeStart(runOptions, 'forward', [{ config, run }]);
    const lib = await verification();
    // The training step first: one that cannot fit is refused before the forward pass spends its time.
    const training =
      options.train === true ? await lib.verifyTraining({ config, run, checkpoint, ...runOptions }) : undefined;
    const verified = await lib.verifyModel({ config, run, ...runOptions });
    const report = lib.verificationReport(verified, depthOf(options));
    if (training === undefined) {
      writeReport(context, report, options.format);
      context.setExitCode(lib.verificationExitCode(verified));
      return;
    }
    const trainingReport = lib.trainingVerificationReport(training, depthOf(options));
    writeReport(
      context,
      {
        blocks: [...report.blocks, ...trainingReport.blocks],
        json: { ...(report.json as Record<string, unknown>), training: trainingReport.json },
      },
      options.format,
    );
    context.setExitCode(lib.verificationExitCode({ ok: verified.ok && training.ok }));
  });
};

/** The presets `npm start` verifies on meta at their full context. */
const START_META_PRESETS = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'];
/** The real-compute check of `npm start`: short enough to run in seconds on one wasm thread. */
const START_REAL_RUN = { preset: 'gpt2-small', backend: 'wasm', seq: 32 } as const;

async function timedVerification(
  context: CommandContext,
  config: ModelConfig,
  run: RunShape,
  backend: BackendChoice,
): Promise<TimedVerification> {
  const { verifyModel } = await verification();
  // Progress goes to stderr, so the report on stdout stays clean for a pipe or a file.
  context.io.stderr(`verifying ${modelLabel(config)}, ${runLabel(run)}, on ${backend}\n`);
  const start = performance.now();
  const verified = await verifyModel({ config, run, backend });
  return { verification: verified, seconds: (performance.now() - start) / 1000 };
}

/** What a bare `flopledger` (and `npm start`) runs: verify the GPT-2 presets, then answer the seed problem. */
export const registerStart: RegisterCommand = (program, context) => {
  const command = program
    .command('start', { hidden: true })
    .description(
      'verify the GPT-2 presets (meta at full context, gpt2-small on wasm with real compute), then the answers',
    );
  addFormatOption(command, ['markdown', 'json'], 'markdown').action(async (options: FormatOptions) => {
    const entries: TimedVerification[] = [];
    for (const name of START_META_PRESETS) {
      const config = loadModelConfig(name);
      entries.push(await timedVerification(context, config, resolveRunShape(config), 'meta'));
    }
    const realConfig = loadModelConfig(START_REAL_RUN.preset);
    entries.push(
      await timedVerification(
        context,
        realConfig,
        resolveRunShape(realConfig, { seq: START_REAL_RUN.seq }),
        START_REAL_RUN.backend,
      ),
    );
    const { verificationExitCode, verificationSummaryReport } = await verification();
    const summary = verificationSummaryReport(entries);
    const answers = seedAnswers();
    writeReport(
      context,
      { blocks: [...summary.blocks, ...answers.blocks], json: { verifications: summary.json, answers: answers.json } },
      options.format,
    );
    context.setExitCode(verificationExitCode({ ok: entries.every((entry) => entry.verification.ok) }));
  });
};
