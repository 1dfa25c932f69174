import type { RegisterCommand } from '../command_context.js';
import { registerAnswers } from './answers.js';
import { registerCompare } from './compare.js';
import { registerFlops } from './flops.js';
import { registerMemory } from './memory.js';
import { registerModels } from './models.js';
import { registerParams } from './params.js';
import { registerReport } from './report.js';
import { registerSweep } from './sweep.js';
import { registerTrace } from './trace.js';
import { registerStart, registerVerify } from './verify.js';
import { registerTrain } from './train.js';
import { registerTime } from './time.js';

/** Every command, in the order --help lists them. One line per command. */
export const COMMANDS: readonly RegisterCommand[] = [
  registerModels,
  registerParams,
  registerMemory,
  registerFlops,
  registerCompare,
  registerSweep,
  registerAnswers,
  registerReport,
  registerTrace,
  registerVerify,
  registerStart,
  registerTime,
  registerTrain,
];

/** What a bare `flopledger` runs. */
export const DEFAULT_ARGV: readonly string[] = ['start'];
