import { inferenceEstimate, type InferenceDtype } from '../../analytic/inference/index.js';
import { architectureOf, type ModelConfig } from '../../config/index.js';
import { InputError } from '../../core/errors.js';
import { inferReport, type Given } from '../../views/infer_report.js';
import { exampleHelp, type CommandContext, type RegisterCommand } from '../command_context.js';
import { describeChoices, parseByteSize, parseChoice, parsePositiveInteger, type Choices } from '../flags.js';
import { ERROR_PREFIX } from '../io.js';
import {
  addDepthOption,
  addFormatOption,
  addModelOverrideOptions,
  depthOf,
  loadModel,
  MODEL_ARGUMENT_HELP,
  raiseContext,
  writeReport,
  type DepthOptions,
  type FormatOptions,
  type ModelOverrideOptions,
} from '../options.js';

const DEFAULT_MEMORY = '80GB';

/** The storage dtypes of the cache and the weights; formats.ts states each convention with its source. */
const DTYPE_CHOICES: Choices<InferenceDtype> = {
  noun: 'a storage dtype',
  meanings: {
    fp32: '4 bytes',
    fp16: '2 bytes',
    bf16: '2 bytes',
    fp8: '1 byte and an fp32 scale per tensor',
    int8: '1 byte and an fp16 scale per 32 values',
    int4: 'half a byte and an fp16 scale per 32 values',
  },
};

type InferOptions = ModelOverrideOptions &
  FormatOptions &
  DepthOptions & {
    prompt?: string;
    generate?: string;
    batch?: string;
    kvDtype: string;
    weightDtype: string;
    kvGroup?: string;
    weightGroup?: string;
    memory?: string;
  };

/** A required count flag; a missing one is named with an example, like a bad one. */
export function requiredCount(raw: string | undefined, flag: string, what: string, example: number): number {
  if (raw === undefined) throw new InputError(`${flag} is required: ${what}; use e.g. ${flag} ${example}`);
  return parsePositiveInteger(raw, flag);
}

/** --kv-group / --weight-group: only for the grouped dtypes, named in flag syntax when misplaced. */
function groupSize(
  raw: string | undefined,
  flag: string,
  dtypeFlag: string,
  dtype: InferenceDtype,
): number | undefined {
  if (raw === undefined) return undefined;
  const size = parsePositiveInteger(raw, flag);
  if (dtype !== 'int8' && dtype !== 'int4') {
    throw new InputError(
      `${flag} ${raw}: ${dtype} has no group scales; use ${dtypeFlag} int8 or ${dtypeFlag} int4 with it, or drop ${flag}`,
    );
  }
  return size;
}

/**
 * The model fitted to P + G positions, by the rule --seq follows everywhere: past the context a
 * RoPE model is counted with the context raised (a note says so), and a model with a learned
 * position table, one row per position, is refused with the --ctx that asks for the larger one.
 */
export function fitPositions(
  config: ModelConfig,
  prompt: number,
  generate: number,
  context: CommandContext,
): ModelConfig {
  const needed = prompt + generate;
  const ctx = config.context_length;
  if (needed <= ctx) return config;
  const typed = `--prompt ${prompt} --generate ${generate}`;
  if (architectureOf(config).positions === 'learned') {
    const model = config.variant === undefined ? config.name : `${config.name} with ${config.variant}`;
    throw new InputError(
      `${typed} needs ${needed} positions, past the context length of ${model} (${ctx}), and its learned position ` +
        `table has one row per position; add --ctx ${needed} to count the larger table, or use a prompt and ` +
        `generation of at most ${ctx} tokens together`,
    );
  }
  context.io.stderr(
    `${ERROR_PREFIX}note: ${typed} needs ${needed} positions, past ${config.name}'s context_length ${ctx}; ` +
      `counted with the context raised to ${needed} (as --ctx ${needed})\n`,
  );
  return raiseContext(config, needed);
}

export const registerInfer: RegisterCommand = (program, context) => {
  const command = program
    .command('infer')
    .description('generation: prefill and decode FLOPs, KV cache and weight bytes by dtype, bytes per token, what fits')
    .argument('[model]', MODEL_ARGUMENT_HELP)
    .addHelpText(
      'after',
      exampleHelp(
        'flopledger infer llama-3-8b --prompt 4096 --generate 512',
        'flopledger infer llama-3-8b --prompt 4096 --generate 512 --batch 16 --kv-dtype fp8 --weight-dtype int4 --memory 24GB',
      ),
    )
    .option('--prompt <n>', 'prompt tokens per sequence, prefilled at once (required)')
    .option('--generate <n>', 'tokens generated per sequence, one decode step each (required)')
    .option('--batch <n>', 'sequences decoded together (default 1)')
    .option('--kv-dtype <dtype>', `KV cache storage: ${describeChoices(DTYPE_CHOICES)}`, 'bf16')
    .option(
      '--weight-dtype <dtype>',
      'weight storage, same choices; fp8, int8 and int4 quantise the linear layers inside the blocks and keep embeddings, lm_head and norms in bf16',
      'bf16',
    )
    .option('--kv-group <n>', 'values per fp16 scale of an int8 or int4 cache (default 32, ggml Q8_0/Q4_0)')
    .option('--weight-group <n>', 'values per fp16 scale of int8 or int4 weights (default 32; AWQ and GPTQ use 128)')
    .option(
      '--memory <size>',
      `memory for the weights and the caches, e.g. 80GB (10^9 bytes) or 80GiB (default ${DEFAULT_MEMORY})`,
    );
  addDepthOption(
    command,
    '0 summary, 1 decode step, cache and weights, 2 the cache per layer, 3 every matmul of the last decode step',
  );
  addModelOverrideOptions(command);
  addFormatOption(command).action((model: string | undefined, options: InferOptions) => {
    const prompt = requiredCount(options.prompt, '--prompt', 'the prompt length in tokens', 4096);
    const generate = requiredCount(options.generate, '--generate', 'the tokens to generate', 512);
    const batch = options.batch === undefined ? 1 : parsePositiveInteger(options.batch, '--batch');
    const kvDtype = parseChoice(options.kvDtype, '--kv-dtype', DTYPE_CHOICES);
    const weightDtype = parseChoice(options.weightDtype, '--weight-dtype', DTYPE_CHOICES);
    const kvGroupSize = groupSize(options.kvGroup, '--kv-group', '--kv-dtype', kvDtype);
    const weightGroupSize = groupSize(options.weightGroup, '--weight-group', '--weight-dtype', weightDtype);
    const memoryBudget: Given<bigint> = {
      value: parseByteSize(options.memory ?? DEFAULT_MEMORY, '--memory'),
      isDefault: options.memory === undefined,
    };
    const config = fitPositions(loadModel(model, options, context), prompt, generate, context);
    const estimate = inferenceEstimate(config, {
      batch,
      prompt,
      generate,
      kvDtype,
      weightDtype,
      kvGroupSize,
      weightGroupSize,
      memoryBytes: memoryBudget.value,
    });
    writeReport(context, inferReport({ estimate, depth: depthOf(options), memoryBudget }), options.format);
  });
};
