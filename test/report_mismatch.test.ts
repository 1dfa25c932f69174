import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { forwardMatmulInventory } from '../src/analytic/index.js';
import { run } from '../src/cli/run.js';
import { InputError } from '../src/core/errors.js';

/**
 * The report's verification through a verifier that meets a wrong inventory: gpt2-small's first
 * q_proj row is planted one column too wide, so the real trace disagrees with it; gpt2-medium is
 * refused as a real backend refuses a run that cannot fit. Everything else is traced as usual.
 */
vi.mock('../src/verify/verify_model.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/verify/verify_model.js')>();
  return {
    ...original,
    verifyModel: async (options: Parameters<typeof original.verifyModel>[0]) => {
      if (options.config.name === 'gpt2-medium') {
        throw new InputError('gpt2-medium, 1 x 1,024 tokens needs more memory than the budget allows');
      }
      if (options.config.name !== 'gpt2-small') return original.verifyModel(options);
      const [first, ...rest] = forwardMatmulInventory(options.config, options.run);
      const planted = { ...first!, n: first!.n + 1 };
      return original.verifyModel({ ...options, inventory: [planted, ...rest] });
    },
  };
});

let workDir: string;
let code: number;
let stderr = '';
let markdown: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flopledger-report-mismatch-'));
  code = await run(['report', '--out', join(workDir, 'report')], {
    // The list of files written is not what this test reads.
    stdout: () => undefined,
    stderr: (text) => (stderr += text),
  });
  markdown = readFileSync(join(workDir, 'report', 'report.md'), 'utf8');
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('report when a trace disagrees', () => {
  it('still writes the report, and exits 1', () => {
    expect(stderr).toBe('');
    expect(code).toBe(1);
  });

  it('marks the mismatching run and names its first difference', () => {
    const row = markdown.split('\n').find((line) => line.startsWith('| gpt2-small, 1 x 1,024 tokens |'));
    expect(row).toContain('| ✗ trace mismatch (meta) |');
    // q_proj of layer 0: [1024,768] x [768,768] traced, the planted row [1024,768] x [768,769].
    expect(row).toContain('1 of 109 matmuls differ, first layers.0.attn.q_proj: shape:');
    expect(row).toContain('[1024,768] x [768,769]');
    expect(markdown).toContain('gpt2-small, 1 x 1,024 tokens: ✗ trace mismatch (meta)');
  });

  it('marks a run the backend refused as formula only, with the reason', () => {
    expect(markdown).toContain(
      '| gpt2-medium, 1 x 1,024 tokens | formula only | not traced: gpt2-medium, 1 x 1,024 tokens needs more memory than the budget allows |',
    );
  });

  it('keeps the other runs traced', () => {
    expect(markdown).toContain('| gpt2-large, 1 x 1,024 tokens | ✓ trace (meta) | 325 of 325 matmuls match exactly,');
  });
});
