import { afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './helpers/cli_runner.js';

// A bug inside the library (not bad input) must surface as exit 3 with a report-it hint.
vi.mock('../src/analytic/parameters.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/analytic/parameters.js')>();
  return {
    ...original,
    summarizeParameters: () => {
      throw new TypeError('rows is not iterable');
    },
  };
});

describe('internal errors', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('exit 3 with the message and a hint, and no stack by default', async () => {
    vi.stubEnv('FLOPLEDGER_DEBUG', '');
    const { code, stdout, stderr } = await cli('params', 'gpt2-xl');
    expect(code).toBe(3);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('flopledger: internal error: rows is not iterable');
    expect(lines[1]).toMatch(/^flopledger: this is a bug in flopledger; please report it .*FLOPLEDGER_DEBUG=1/);
    expect(lines).toHaveLength(2);
    expect(stderr).not.toContain('    at ');
  });

  it('shows the stack with FLOPLEDGER_DEBUG=1', async () => {
    vi.stubEnv('FLOPLEDGER_DEBUG', '1');
    const { code, stderr } = await cli('params', 'gpt2-xl');
    expect(code).toBe(3);
    expect(stderr.split('\n')[0]).toBe('flopledger: internal error: rows is not iterable');
    expect(stderr).toContain('TypeError: rows is not iterable');
    expect(stderr).toContain('    at ');
  });

  it('still treats bad input as exit 2 before reaching the broken code', async () => {
    const { code, stderr } = await cli('params', 'gpt5');
    expect(code).toBe(2);
    expect(stderr).toMatch(/^flopledger: unknown model "gpt5"/);
  });
});
