import type { RegisterCommand } from '../command_context.js';

/**
 * Every command, in the order --help lists them: its name, and its module loaded on demand. A
 * command line that names one command loads that module alone, so `params` never reads the
 * modules of `time` or `report`; --help and anything unrecognised load them all.
 */
export interface CommandEntry {
  readonly name: string;
  readonly load: () => Promise<RegisterCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'models', load: async () => (await import('./models.js')).registerModels },
  { name: 'params', load: async () => (await import('./params.js')).registerParams },
  { name: 'memory', load: async () => (await import('./memory.js')).registerMemory },
  { name: 'flops', load: async () => (await import('./flops.js')).registerFlops },
  { name: 'compare', load: async () => (await import('./compare.js')).registerCompare },
  { name: 'sweep', load: async () => (await import('./sweep.js')).registerSweep },
  { name: 'answers', load: async () => (await import('./answers.js')).registerAnswers },
  { name: 'report', load: async () => (await import('./report.js')).registerReport },
  { name: 'trace', load: async () => (await import('./trace.js')).registerTrace },
  { name: 'verify', load: async () => (await import('./verify.js')).registerVerify },
  { name: 'start', load: async () => (await import('./verify.js')).registerStart },
  { name: 'time', load: async () => (await import('./time.js')).registerTime },
  { name: 'train', load: async () => (await import('./train.js')).registerTrain },
  { name: 'infer', load: async () => (await import('./infer.js')).registerInfer },
  { name: 'roofline', load: async () => (await import('./roofline.js')).registerRoofline },
  { name: 'devices', load: async () => (await import('./roofline.js')).registerDevices },
];

/** What a bare `flopledger` runs. */
export const DEFAULT_ARGV: readonly string[] = ['start'];
