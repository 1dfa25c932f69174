/**
 * run(argv) with its output captured, as the CLI tests drive it: the exit code and everything
 * written to stdout and stderr, without a process of its own.
 */
import { expect } from 'vitest';
import { run } from '../../src/cli/run.js';

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(...argv: string[]): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

/** The command's JSON report; fails the test unless it exits 0 with nothing on stderr. */
// Untyped JSON on purpose: every field a test reads is checked by expect().
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function cliJson(...argv: string[]): Promise<any> {
  const result = await cli(...argv, '--format', 'json');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}
