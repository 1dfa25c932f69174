/**
 * The compiled CLI (dist/src/cli/main.js), as a user runs it. Built with tsc when a source file
 * is newer than its output, so a test of the real process never runs stale code. Other parts of
 * the tree may fail to typecheck while in progress; tsc still emits, so only the output is checked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

const BUILD_CONFIG = join(ROOT, 'tsconfig.build.json');

/**
 * The sources the build compiles, as tsc reads them from tsconfig.build.json (its include and
 * exclude), so a file the build leaves out (src/web) never counts as unbuilt and forces a rebuild
 * on every call.
 */
function builtSources(): string[] {
  const { config, error } = ts.readConfigFile(BUILD_CONFIG, (path) => ts.sys.readFile(path));
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, BUILD_CONFIG);
  return parsed.fileNames.filter((path) => !path.endsWith('.d.ts'));
}

/** Whether some compiled source has no output yet, or changed after its output was written. */
function isStale(): boolean {
  return builtSources().some((source) => {
    const output = join(ROOT, 'dist', relative(ROOT, source)).replace(/\.ts$/, '.js');
    return !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs;
  });
}

/** Held while one test process builds, so test files running side by side never build at once. */
const BUILD_LOCK = join(ROOT, 'dist', '.build-lock');
const ABANDONED_LOCK_MS = 5 * 60_000;

function waitMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The path of the compiled CLI's entry point, building it first when the sources are newer. */
export function builtCli(): string {
  if (isStale()) {
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    // mkdir is atomic: whoever creates the lock builds; the others wait, then see a fresh build.
    for (;;) {
      try {
        mkdirSync(BUILD_LOCK);
        break;
      } catch {
        // A lock older than any build was left by a process killed mid-build.
        if (existsSync(BUILD_LOCK) && Date.now() - statSync(BUILD_LOCK).mtimeMs > ABANDONED_LOCK_MS) {
          rmSync(BUILD_LOCK, { recursive: true, force: true });
        }
        waitMs(200);
      }
    }
    try {
      if (isStale()) {
        spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', BUILD_CONFIG], {
          cwd: ROOT,
          encoding: 'utf8',
        });
      }
    } finally {
      rmSync(BUILD_LOCK, { recursive: true, force: true });
    }
  }
  if (!existsSync(BUILT_MAIN)) throw new Error(`the build wrote no ${BUILT_MAIN}`);
  return BUILT_MAIN;
}
