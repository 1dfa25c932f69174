import type { Command } from 'commander';
import type { ExitCode } from '../core/errors.js';
import type { CliIo } from './io.js';

/** What a command needs from the runner besides its parsed arguments. */
export interface CommandContext {
  readonly io: CliIo;
  /** A verdict other than success that is not an error, e.g. 1 for a verification mismatch. */
  setExitCode(code: ExitCode): void;
}

/** Adds one command to the program (via `program.command(...)`, so it inherits output and exit settings). */
export type RegisterCommand = (program: Command, context: CommandContext) => void;

/** The standard closing section of a command's --help: real invocations to copy. */
export function exampleHelp(...invocations: string[]): string {
  return `\nExample:\n${invocations.map((invocation) => `  $ ${invocation}`).join('\n')}\n`;
}
