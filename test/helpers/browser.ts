/**
 * The headless Chromium every browser test runs in, driven by playwright-core (which downloads
 * nothing). First choice: the Chromium that @sparticuz/chromium ships brotli-packed inside its
 * npm tarball, so `npm install && npm test` needs no system browser and no download. Only if
 * that one cannot start (another CPU than x64, the package missing, a library missing on an
 * unusual Linux) does a Chromium on the PATH take its place. If none starts, launching fails
 * with one line saying what to do: a browser test never skips.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const PATH_CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

const CHROMIUM_ARGS = [
  // Tests and CI run as root, where Chromium's sandbox cannot start.
  '--no-sandbox',
  // WebGL2 without a GPU: ANGLE over SwiftShader's Vulkan (@sparticuz/chromium ships its
  // libraries beside the binary). Recent Chromium uses SwiftShader only when told it may.
  '--use-gl=angle',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  // WebGPU without a GPU: Chromium offers SwiftShader's adapter only behind this flag (headless
  // Linux has no WebGPU otherwise).
  '--enable-unsafe-webgpu',
  // No network here: without these Chromium keeps retrying refused connections.
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A started headless Chromium; the caller closes it. Throws one line when none can start. */
export async function launchChromium(): Promise<Browser> {
  const failures: string[] = [];
  let npmChromium = '@sparticuz/chromium';
  try {
    npmChromium = await unpackNpmChromium();
    return await launch(npmChromium);
  } catch (error) {
    failures.push(`${npmChromium}: ${why(error)}`);
  }
  const found = PATH_CANDIDATES.map(onPath).filter((path): path is string => path !== undefined);
  for (const path of found) {
    try {
      return await launch(path);
    } catch (error) {
      failures.push(`${path}: ${why(error)}`);
    }
  }
  if (found.length === 0) failures.push(`no ${PATH_CANDIDATES.join(', ')} on the PATH`);
  throw new Error(
    `no headless Chromium could start (${failures.join('; ')}): run \`npm install\`, which brings ` +
      `@sparticuz/chromium (x64 Linux), or put a chromium on the PATH`,
  );
}

function launch(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/**
 * The package's binary, unpacked once per version into a folder of its own under the temp
 * folder. The package itself unpacks into os.tmpdir() directly, where /tmp/chromium may be
 * another version's, or half-written by a test file running in parallel; so it unpacks into a
 * fresh staging folder here, which is renamed into place whole once complete.
 */
async function unpackNpmChromium(): Promise<string> {
  const packageDir = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const dir = join(tmpdir(), `flopledger-chromium-${version}`);
  const executable = join(dir, 'chromium');
  if (existsSync(executable)) return executable;

  const { default: Chromium } = await import('@sparticuz/chromium');
  const staging = mkdtempSync(`${dir}-`);
  try {
    // The package reads os.tmpdir() (that is, TMPDIR) synchronously when the call starts, before
    // its first await, so TMPDIR is pointed at the staging folder for the call alone.
    const savedTmpdir = process.env['TMPDIR'];
    process.env['TMPDIR'] = staging;
    let unpacking: Promise<string>;
    try {
      unpacking = Chromium.executablePath(join(packageDir, 'bin'));
    } finally {
      if (savedTmpdir === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = savedTmpdir;
    }
    const unpacked = await unpacking;
    if (unpacked !== join(staging, 'chromium')) throw new Error(`unpacked to ${unpacked}, not to ${staging}`);
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another test file unpacked the same version first: use theirs.
      if (!existsSync(executable)) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return executable;
}

function onPath(name: string): string | undefined {
  for (const folder of (process.env['PATH'] ?? '').split(delimiter)) {
    if (folder === '') continue;
    const path = join(folder, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

/**
 * Playwright's first line, and the browser's own last word on stderr when it said one: a launch
 * that fails says only "browser has been closed" first, and why (a missing shared library, a
 * crash) further down, among the browser logs.
 */
function why(error: unknown): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n');
  const said = lines.flatMap((line) => /^\[pid=\d+\]\[err\] (.*\S)/.exec(line)?.[1] ?? []);
  return said.length === 0 ? lines[0]!.trim() : `${lines[0]!.trim()}: ${said.at(-1)}`;
}
