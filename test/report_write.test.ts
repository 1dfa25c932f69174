/**
 * A report's files appear all together or not at all: every target is checked before anything
 * is written, a failure at any step leaves the directory as it was, and SIGINT or SIGTERM in the
 * middle of a write leaves neither a partial report nor a staging directory behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/core/errors.js';
import { writeFilesAtomically, type OutputFile } from '../src/render/write_report_files.js';
import { cli } from './helpers/cli_runner.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const FILES: readonly OutputFile[] = [
  { name: 'report.md', content: 'new markdown' },
  { name: 'report.html', content: 'new html' },
  { name: 'chart.svg', content: '<svg></svg>' },
];

/** Names of staging directories the writer makes inside a target and beside it. */
const isStaging = (name: string) => name.startsWith('.flopledger-tmp') || /\.tmp-\d+-[0-9a-f]{8}$/.test(name);

/** The directory's entries, staging directories included (they start with a dot). */
const entries = (dir: string) => readdirSync(dir).sort();

let workDir: string;
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'flopledger-write-test-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** A directory holding an earlier report: report.md and notes.txt with old content. */
function earlierReport(name: string): string {
  const dir = join(workDir, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'report.md'), 'old markdown');
  writeFileSync(join(dir, 'notes.txt'), 'kept');
  return dir;
}

function expectUntouched(dir: string): void {
  expect(entries(dir)).toEqual(['notes.txt', 'report.md']);
  expect(readFileSync(join(dir, 'report.md'), 'utf8')).toBe('old markdown');
}

describe('report --out refuses a bad target before writing anything', () => {
  it('keeps the old report.md when report.html is a directory', async () => {
    const out = earlierReport('html-is-a-directory');
    mkdirSync(join(out, 'report.html'));
    const result = await cli('report', '--out', out);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `flopledger: --out ${out}: ${join(out, 'report.html')} is a directory, where the report writes a file; ` +
        'move it away or choose another directory\n',
    );
    expect(entries(out)).toEqual(['notes.txt', 'report.html', 'report.md']);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe('old markdown');
  }, 60_000);
});

describe('writeFilesAtomically', () => {
  it('replaces the files it writes and keeps the others', async () => {
    const out = earlierReport('replace');
    const written = await writeFilesAtomically(out, FILES, '--out');
    expect(written).toEqual(FILES.map((file) => join(out, file.name)));
    expect(entries(out)).toEqual(['chart.svg', 'notes.txt', 'report.html', 'report.md']);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe('new markdown');
  });

  it('creates a new directory, parents included, in one rename', async () => {
    const out = join(workDir, 'fresh', 'nested', 'report');
    await writeFilesAtomically(out, FILES, '--out');
    expect(entries(out)).toEqual(['chart.svg', 'report.html', 'report.md']);
    expect(entries(dirname(out))).toEqual(['report']);
  });

  it('leaves nothing behind when staging fails, not even the parents it created', async () => {
    const out = join(workDir, 'full-disk', 'report');
    const noSpace = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const attempt = writeFilesAtomically(out, FILES, '--out', {
      afterStaging: (name) => (name === 'report.html' ? Promise.reject(noSpace) : Promise.resolve()),
    });
    await expect(attempt).rejects.toThrow(
      new InputError(`--out ${out}: cannot write the report there (ENOSPC); choose a writable directory`),
    );
    expect(existsSync(join(workDir, 'full-disk'))).toBe(false);

    const existing = earlierReport('full-disk-existing');
    await expect(
      writeFilesAtomically(existing, FILES, '--out', { afterStaging: () => Promise.reject(noSpace) }),
    ).rejects.toThrow(InputError);
    expectUntouched(existing);
  });

  it('puts every old file back when a rename fails after others succeeded', async () => {
    const out = earlierReport('rollback');
    // Once everything is staged and the targets checked, a directory appears where report.html
    // goes: report.md is already in place when report.html's rename is refused, and is put back.
    const attempt = writeFilesAtomically(out, FILES, '--out', {
      afterStaging: (name) => {
        if (name === 'chart.svg') mkdirSync(join(out, 'report.html', 'in-the-way'), { recursive: true });
        return Promise.resolve();
      },
    });
    await expect(attempt).rejects.toThrow(/^--out .*rollback: cannot write the report there \(EISDIR\)/);
    expect(entries(out)).toEqual(['notes.txt', 'report.html', 'report.md']);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe('old markdown');
    expect(existsSync(join(out, 'chart.svg'))).toBe(false);
  });

  it('removes a staging directory whose process is gone', async () => {
    const out = earlierReport('abandoned');
    const { pid: dead } = spawnSync(process.execPath, ['-e', '0']);
    const abandoned = join(out, `.flopledger-tmp-${dead}-0123abcd`);
    mkdirSync(abandoned);
    writeFileSync(join(abandoned, 'report.md'), 'half');
    await writeFilesAtomically(out, FILES, '--out');
    expect(entries(out)).toEqual(['chart.svg', 'notes.txt', 'report.html', 'report.md']);
  });
});

describe('a signal in the middle of a write', () => {
  let childDir: string;

  /**
   * The writer and the modules it imports, transpiled to JavaScript for a child process of its
   * own, with a script that pauses after staging report.md (prints "staged" and waits for a
   * signal, as a slow disk would keep it there) and prints "finished" when the write returns.
   */
  beforeAll(() => {
    childDir = join(workDir, 'child');
    const pending = [join(ROOT, 'src/render/write_report_files.ts')];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      const source = readFileSync(file, 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      });
      const target = join(childDir, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
      for (const match of source.matchAll(/from '(\.\.?\/[^']+)\.js'/g)) {
        pending.push(resolve(dirname(file), `${match[1]!}.ts`));
      }
    }
    writeFileSync(join(childDir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(childDir, 'write.js'),
      `import { writeFilesAtomically } from './src/render/write_report_files.js';
const files = ${JSON.stringify(FILES)};
await writeFilesAtomically(process.argv[2], files, '--out', {
  afterStaging: async (name) => {
    if (name !== 'report.md') return;
    process.stdout.write('staged\\n');
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 20000);
      const wake = () => { clearTimeout(timer); resolve(); };
      process.once('SIGINT', wake);
      process.once('SIGTERM', wake);
    });
  },
});
process.stdout.write('finished\\n');
`,
    );
  });

  /** Runs the writer into `out`, sends `signal` once report.md is staged, and returns how the child ended. */
  async function interruptedWrite(out: string, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, [join(childDir, 'write.js'), out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on('exit', (code, received) => done({ code, signal: received })),
    );
    let stagingDuringWrite: string[] = [];
    await new Promise<void>((staged) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout === 'staged\n') {
          const parent = existsSync(out) ? out : dirname(out);
          stagingDuringWrite = readdirSync(parent).filter(isStaging);
          child.kill(signal);
          staged();
        }
      }),
    );
    return { ...(await ended), stdout, stderr, stagingDuringWrite };
  }

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s leaves an earlier report as it was',
    async (signal) => {
      const out = earlierReport(`signalled-existing-${signal}`);
      const ended = await interruptedWrite(out, signal);
      // The write was under way, its staging directory in place, when the signal came.
      expect(ended.stagingDuringWrite).toHaveLength(1);
      expect(ended).toMatchObject({ code: null, signal, stdout: 'staged\n', stderr: '' });
      expectUntouched(out);
    },
    30_000,
  );

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s leaves no new directory and no staging beside it',
    async (signal) => {
      const parent = join(workDir, `signalled-new-${signal}`);
      mkdirSync(parent);
      const ended = await interruptedWrite(join(parent, 'report'), signal);
      expect(ended.stagingDuringWrite).toHaveLength(1);
      expect(ended).toMatchObject({ code: null, signal, stdout: 'staged\n', stderr: '' });
      expect(entries(parent)).toEqual([]);
    },
    30_000,
  );
});
