/**
 * The compiled CLI (dist/src/cli/main.js), as a user runs it. Built with tsc when a source file
 * is newer than its output, so a test of the real process never runs stale code. Other parts of
 * the tree may fail to typecheck while in progress; tsc still emits, so only the output is checked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Whether some src/*.ts has no output yet, or changed after its output was written. */
function isStale(): boolean {
  return sourceFiles(join(ROOT, 'src')).some((source) => {
    const output = join(ROOT, 'dist', relative(ROOT, source)).replace(/\.ts$/, '.js');
    return !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs;
  });
}

/** The path of the compiled CLI's entry point, building it first when the sources are newer. */
export function builtCli(): string {
  if (isStale()) {
    spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
  }
  if (!existsSync(BUILT_MAIN)) throw new Error(`the build wrote no ${BUILT_MAIN}`);
  return BUILT_MAIN;
}
