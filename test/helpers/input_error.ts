/** Catching the InputError a bad input must raise, so a test can read its message and problems. */
import { expect } from 'vitest';
import { InputError } from '../../src/core/errors.js';

/** The InputError thrown by `fn`; fails the test when `fn` throws anything else or nothing. */
export function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('expected an InputError, but nothing was thrown');
}

/** The same, and fails the test when the message carries a stack trace: a user sees that text as it is. */
export function inputErrorWithoutStack(fn: () => unknown): InputError {
  const problem = inputError(fn);
  expect(problem.message).not.toMatch(/\n\s+at /);
  return problem;
}
