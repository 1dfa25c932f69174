/**
 * Writing a set of files into one directory so that a failure leaves no partial file: every
 * file is written into a fresh temporary directory beside the target, then moved into place
 * by rename (atomic within one file system). A bad target is refused before anything is done.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../core/errors.js';

export interface OutputFile {
  /** A plain file name, no directories. */
  readonly name: string;
  readonly content: string;
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

/** Writes `files` into `dir` (created if absent); returns the paths written. */
export function writeFilesAtomically(dir: string, files: readonly OutputFile[], flag: string): string[] {
  checkOutputDirectory(dir, flag);
  const target = resolve(dir);
  const existed = existsSync(target);
  let staging: string | undefined;
  try {
    if (existed) {
      staging = makeStagingDirectory(target, '.flopledger-tmp');
    } else {
      mkdirSync(dirname(target), { recursive: true });
      staging = makeStagingDirectory(dirname(target), `.${basename(target)}.tmp`);
    }
    for (const file of files) writeFileSync(join(staging, file.name), file.content);
    if (existed) {
      for (const file of files) renameSync(join(staging, file.name), join(target, file.name));
      rmdirSync(staging);
    } else {
      renameSync(staging, target);
    }
    staging = undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new InputError(`${flag} ${dir}: cannot write the report there (${code}); choose a writable directory`);
  } finally {
    if (staging !== undefined) rmSync(staging, { recursive: true, force: true });
  }
  return files.map((file) => join(dir, file.name));
}

/**
 * A fresh directory under `parent`. mkdtemp would make it 0700, and when it is renamed into place
 * the report directory would keep that mode; mkdir honours the user's umask like any new directory.
 */
function makeStagingDirectory(parent: string, prefix: string): string {
  for (;;) {
    const candidate = join(parent, `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(candidate);
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
