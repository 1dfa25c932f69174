/**
 * The CLI as a function: run(argv, io) parses, dispatches and returns the exit code instead of
 * exiting, so tests drive it in-process and capture both streams.
 *
 * Exit codes (design.md section 4): 0 ok, 1 verification mismatch, 2 usage or input error,
 * 3 internal error. Bad input never shows a stack trace: one line per problem on stderr, each
 * starting "flopledger: ".
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, InputError } from '../core/errors.js';
import { exampleHelp, type CommandContext } from './command_context.js';
import { COMMANDS, DEFAULT_ARGV, type CommandEntry } from './commands/index.js';
import { ERROR_PREFIX, processIo, type CliIo } from './io.js';
import { packageVersion } from './version.js';

export async function run(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode: ExitCode = ExitCode.ok;
  const context: CommandContext = {
    io,
    setExitCode(code) {
      exitCode = code;
    },
  };
  const args = argv.length === 0 ? [...DEFAULT_ARGV] : withoutUnknownHelpTopic(argv);
  // A fresh program per call: commander keeps parsed state on the instance.
  const program = programFor(context);
  try {
    for (const entry of commandsNamedBy(args)) (await entry.load())(program, context);
    refuseContradictingFlags(program);
    await program.parseAsync(args, { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportFailure(error, io, helpInvocation(program, args));
  }
}

/**
 * The commands to register: the one the command line names (directly or as `help <command>`),
 * none for --version, else all of them, for the full help or commander's "did you mean" on an
 * unknown command.
 */
function commandsNamedBy(args: readonly string[]): readonly CommandEntry[] {
  if (args[0] === '-V' || args[0] === '--version') return [];
  const name = args[0] === 'help' ? args[1] : args[0];
  const named = COMMANDS.find((entry) => entry.name === name);
  return named === undefined ? COMMANDS : [named];
}

function programFor(context: CommandContext): Command {
  const program = new Command('flopledger')
    .description(
      'What a transformer LM costs - parameters, bytes, FLOPs - counted exactly.\n' +
        'With no command, verifies the GPT-2 presets against a trace, then prints the answers to the accounting problem.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.io.stdout(text),
      writeErr: (text) => context.io.stderr(text),
      outputError: () => {
        // Usage errors are printed by reportFailure, in the same one-line form as every other error.
      },
    })
    .showSuggestionAfterError(true)
    .addHelpText('after', exampleHelp('flopledger flops gpt2-xl --depth 1', 'flopledger answers > answers.md'));
  return program;
}

/**
 * `help nosuch` would print the whole help (commander falls back to it); asking for help on a
 * command that does not exist is the same mistake as running it, so it gets the same one line,
 * exit 2 and suggestion as `flopledger nosuch`. `help help X` is `help X`.
 */
function withoutUnknownHelpTopic(argv: readonly string[]): string[] {
  let args = [...argv];
  while (args[0] === 'help' && args[1] === 'help' && args.length > 2) args = args.slice(1);
  const [first, topic] = args;
  const known = (name: string) => name === 'help' || COMMANDS.some((entry) => entry.name === name);
  if (first === 'help' && topic !== undefined && !topic.startsWith('-') && !known(topic)) return [topic];
  return args;
}

/**
 * Commander keeps the last of a repeated flag and drops the others silently, so `--seq 128 ...
 * --seq 256` would run a shape the user may not have meant. A flag given twice with different
 * values (or a switch with its --no- form) is refused, naming both; the same value twice is harmless.
 */
function refuseContradictingFlags(command: Command): void {
  const given = new Map<string, { typed: string; value: string | boolean }>();
  for (const option of command.options) {
    const flag = option.long ?? option.name();
    command.on(`option:${option.name()}`, (raw: string | null | undefined) => {
      const value = raw ?? !option.negate;
      const typed = typeof value === 'boolean' ? flag : `${flag} ${value}`;
      const key = option.attributeName();
      const earlier = given.get(key);
      if (earlier !== undefined && earlier.value !== value) {
        throw new InputError(
          typeof value === 'boolean'
            ? `${earlier.typed} and ${typed} contradict each other; give only one`
            : `${flag} is given twice, as ${String(earlier.value)} and ${value}; give it once`,
        );
      }
      given.set(key, { typed, value });
    });
  }
  for (const subcommand of command.commands) refuseContradictingFlags(subcommand);
}

/** Where the user should look after a usage error: the command's own help when one was named. */
function helpInvocation(program: Command, args: readonly string[]): string {
  const first = args.find((arg) => !arg.startsWith('-'));
  const named = program.commands.find((command) => command.name() === first && first !== 'help');
  return named === undefined ? 'flopledger --help' : `flopledger ${named.name()} --help`;
}

function reportFailure(error: unknown, io: CliIo, helpHint: string): number {
  const say = (line: string) => io.stderr(`${ERROR_PREFIX}${line}\n`);
  if (error instanceof CommanderError) {
    // --help and --version end parsing by "exiting" 0.
    if (error.exitCode === 0) return ExitCode.ok;
    // Help shown because of a usage problem has already been written to stderr.
    if (error.code !== 'commander.help') say(`${commanderMessage(error)} (see ${helpHint})`);
    return ExitCode.usage;
  }
  if (error instanceof InputError) {
    for (const problem of error.problems) say(problem);
    return ExitCode.usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  say(`internal error: ${message}`);
  if (process.env['FLOPLEDGER_DEBUG'] === '1' && error instanceof Error && error.stack !== undefined) {
    io.stderr(`${error.stack}\n`);
  } else {
    say('this is a bug in flopledger; please report it with the command you ran (FLOPLEDGER_DEBUG=1 shows the stack)');
  }
  return ExitCode.internal;
}

/** "error: unknown command 'flop'\n(Did you mean flops?)" -> "unknown command 'flop' (did you mean flops?)". */
function commanderMessage(error: CommanderError): string {
  return error.message
    .replace(/^error: /, '')
    .replace(/\s*\n\s*\(Did you mean/, ' (did you mean')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
