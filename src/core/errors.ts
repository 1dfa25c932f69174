/**
 * Errors a user can act on. The CLI maps each class to an exit code (design.md section 4):
 * 0 ok, 1 verification mismatch, 2 usage or input error, 3 internal error.
 */

/**
 * One problem about one field of a model config, as data, so that whoever shows it can phrase
 * the fix in the syntax the user typed: a config file speaks of keys ("ffn": "gelu"), a command
 * line of flags (--ffn gelu). `problem` is the line of `InputError.problems` it describes.
 */
export interface FieldIssue {
  /** The line of InputError.problems this issue describes. */
  readonly problem: string;
  /** The field as flopledger names it: "ffn", "d_model", "num_kv_heads". */
  readonly field: string;
  /** The key as the source spells it: the field itself, or a Hugging Face key such as "hidden_act". */
  readonly key: string;
  /** The value given, as parsed; undefined when the field is missing. */
  readonly value: unknown;
  /** The value as the source wrote it when that differs from its parsed form (a JSON number such as 1e3 or 9007199254740993). */
  readonly written?: string;
  /** What the field takes, in words: "a positive integer", "true or false", "a positive number". */
  readonly expected: string;
  /** The values the field accepts, when they are a short list ("swiglu", "gelu"; "true", "false"). */
  readonly allowed?: readonly string[];
  /** The accepted value closest to the one given ("gelu" for "gleu"), when one is close. */
  readonly suggestion?: string;
}

/** Bad input: a malformed config, an unknown model, a bad flag value, a run that would not fit. Exit 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
  /** Every problem found, one line each; `message` joins them. */
  readonly problems: readonly string[];
  /** The problems that concern one config field, as data (empty when none does). */
  readonly fields: readonly FieldIssue[];
  constructor(problems: string | readonly string[], options: { readonly fields?: readonly FieldIssue[] } = {}) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
    this.fields = options.fields ?? [];
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
