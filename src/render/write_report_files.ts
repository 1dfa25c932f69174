/**
 * Writing a set of files into one directory all together or not at all.
 *
 * 1. Check every target first: the directory can be one, and no file to write is a directory
 *    there. A bad target is refused before anything is written.
 * 2. Stage: every file is written into a fresh staging directory (inside the target directory
 *    when it exists, beside it when it does not), so renames stay on one file system.
 * 3. Rename last, in one synchronous step: a new directory is the staging directory renamed into
 *    place; into an existing one, each old file is moved aside into the staging directory and the
 *    new one renamed over it, and a failure moves every old file back.
 *
 * SIGINT, SIGTERM and SIGHUP are held while this runs. One that arrives while files are staged
 * stops the write: the staging directory is removed, nothing in the target has changed, and the
 * signal is raised again so the process ends as it would have. One that arrives during step 3
 * takes effect once every file is in place. A staging directory left by a process killed
 * outright (SIGKILL, a power cut) is removed by the next write into the same place.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../core/errors.js';

export interface OutputFile {
  /** A plain file name, no directories. */
  readonly name: string;
  readonly content: string;
}

export interface WriteOptions {
  /** Called after each file is staged and before the next; tests pause here to signal a write in progress. */
  readonly afterStaging?: (name: string) => Promise<void>;
}

const HELD_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type HeldSignal = (typeof HELD_SIGNALS)[number];

/** Staging directories are named `<prefix>-<pid>-<random>`, so a later write can tell a dead process's apart. */
const STAGING_PREFIX_INSIDE = '.flopledger-tmp';
const stagingPrefixBeside = (target: string) => `.${basename(target)}.tmp`;

/** Thrown inside the write when a held signal arrives; leaves it as an InputError if the process survives the signal. */
class Interrupted extends Error {
  constructor(readonly signal: HeldSignal) {
    super(`interrupted by ${signal}`);
  }
}

/**
 * Throws InputError when `dir` cannot become a directory: it is a file, or an ancestor is.
 * `flag` names the option in the message ("--out").
 */
export function checkOutputDirectory(dir: string, flag: string): void {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) {
      throw new InputError(`${flag} ${dir}: is a file, not a directory; give a directory to write the report into`);
    }
    return;
  }
  for (let ancestor = dirname(target); ; ancestor = dirname(ancestor)) {
    if (existsSync(ancestor)) {
      if (!statSync(ancestor).isDirectory()) {
        throw new InputError(
          `${flag} ${dir}: cannot create it because ${ancestor} is a file, not a directory; choose another directory`,
        );
      }
      return;
    }
    if (dirname(ancestor) === ancestor) return;
  }
}

/**
 * Writes `files` into `dir` (created if absent) all together or not at all; returns the paths
 * written. `flag` names the option in messages ("--out"). Throws InputError when a target is
 * bad or the file system refuses, with nothing changed in `dir`.
 */
export async function writeFilesAtomically(
  dir: string,
  files: readonly OutputFile[],
  flag: string,
  options: WriteOptions = {},
): Promise<string[]> {
  checkFileNames(files);
  checkOutputDirectory(dir, flag);
  const target = resolve(dir);
  const existed = existsSync(target);
  if (existed) checkTargets(dir, files, flag);

  let signal: HeldSignal | undefined;
  const hold = (received: HeldSignal) => {
    signal ??= received;
  };
  for (const name of HELD_SIGNALS) process.on(name, hold);
  let staging: string | undefined;
  // The first directory this write created on the way to a new target, removed again on failure.
  let created: string | undefined;
  try {
    const parent = existed ? target : dirname(target);
    const prefix = existed ? STAGING_PREFIX_INSIDE : stagingPrefixBeside(target);
    created = mkdirSync(parent, { recursive: true });
    removeAbandonedStaging(parent, prefix);
    staging = makeStagingDirectory(parent, prefix);
    for (const file of files) {
      await writeFile(join(staging, file.name), file.content);
      await options.afterStaging?.(file.name);
      if (signal !== undefined) throw new Interrupted(signal);
    }
    // From here to the end of the try block nothing awaits, so no signal handler runs in between.
    if (existed) replaceFiles(staging, target, files);
    else renameSync(staging, target);
    if (!existed) staging = undefined;
    created = undefined;
  } catch (error) {
    if (error instanceof Interrupted) {
      throw new InputError(
        `${flag} ${dir}: interrupted by ${error.signal} before the report was complete; nothing was written`,
      );
    }
    if (error instanceof InputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new InputError(`${flag} ${dir}: cannot write the report there (${code}); choose a writable directory`);
  } finally {
    if (staging !== undefined) rmSync(staging, { recursive: true, force: true });
    if (created !== undefined) rmSync(created, { recursive: true, force: true });
    for (const name of HELD_SIGNALS) process.removeListener(name, hold);
    // With the hold gone the signal's default action applies: the process ends by it, as it
    // would have without the hold, but with no half-written file left behind.
    if (signal !== undefined) process.kill(process.pid, signal);
  }
  return files.map((file) => join(dir, file.name));
}

function checkFileNames(files: readonly OutputFile[]): void {
  const names = new Set<string>();
  for (const { name } of files) {
    if (name === '' || name === '.' || name === '..' || name !== basename(name) || names.has(name)) {
      throw new Error(`writeFilesAtomically: "${name}" is not a plain file name, or is given twice`);
    }
    names.add(name);
  }
}

/** Refuses a target file that cannot be replaced by a rename: a directory of the same name. */
function checkTargets(dir: string, files: readonly OutputFile[], flag: string): void {
  for (const { name } of files) {
    const path = join(resolve(dir), name);
    let isDirectory: boolean;
    try {
      isDirectory = lstatSync(path).isDirectory();
    } catch {
      continue;
    }
    if (isDirectory) {
      throw new InputError(
        `${flag} ${dir}: ${join(dir, name)} is a directory, where the report writes a file; move it away or choose another directory`,
      );
    }
  }
}

/**
 * Moves each staged file over its target, keeping the old one in `staging/previous` until all
 * are in place; on a failure every target is put back as it was and the error rethrown.
 */
function replaceFiles(staging: string, target: string, files: readonly OutputFile[]): void {
  const previous = join(staging, 'previous');
  mkdirSync(previous);
  const done: { name: string; hadPrevious: boolean }[] = [];
  try {
    for (const { name } of files) {
      const hadPrevious = existsSync(join(target, name));
      // Checked again: a directory that appeared since checkTargets must not be moved aside and deleted with the staging.
      if (hadPrevious && lstatSync(join(target, name)).isDirectory()) {
        throw Object.assign(new Error(`${join(target, name)} is a directory`), { code: 'EISDIR' });
      }
      if (hadPrevious) renameSync(join(target, name), join(previous, name));
      done.push({ name, hadPrevious });
      renameSync(join(staging, name), join(target, name));
    }
  } catch (error) {
    for (const { name, hadPrevious } of done.reverse()) {
      if (hadPrevious) renameSync(join(previous, name), join(target, name));
      else rmSync(join(target, name), { force: true });
    }
    throw error;
  }
}

/** A fresh staging directory under `parent`, named for this process. */
function makeStagingDirectory(parent: string, prefix: string): string {
  for (;;) {
    // mkdtemp would make it 0700, and a directory renamed into place would keep that mode;
    // mkdir honours the user's umask like any new directory.
    const candidate = join(parent, `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(candidate);
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Removes staging directories under `parent` whose process no longer runs. */
function removeAbandonedStaging(parent: string, prefix: string): void {
  const pattern = new RegExp(`^${escapeRegExp(prefix)}-(\\d+)-[0-9a-f]{8}$`);
  for (const entry of readdirSync(parent)) {
    const pid = pattern.exec(entry)?.[1];
    if (pid !== undefined && !processRuns(Number(pid))) rmSync(join(parent, entry), { recursive: true, force: true });
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
