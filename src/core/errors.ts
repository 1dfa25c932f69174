/**
 * Errors a user can act on. The CLI maps each class to an exit code (design.md section 4):
 * 0 ok, 1 verification mismatch, 2 usage or input error, 3 internal error.
 */

/** Bad input: a malformed config, an unknown model, a bad flag value, a run that would not fit. Exit 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** Every problem found, one line each; `message` joins them. */
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}

/** A backend or kernel that is not available here (tfjs-node not installed, a kernel meta lacks). Exit 2. */
export class UnavailableError extends InputError {}

export const ExitCode = {
  ok: 0,
  mismatch: 1,
  usage: 2,
  internal: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
