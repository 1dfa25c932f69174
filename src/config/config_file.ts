/**
 * Reading one JSON config file, a flopledger config or a Hugging Face config.json: every way it
 * can fail becomes one InputError line that names the file as the user wrote it.
 *
 * Nothing is read before the path is known to be a regular file of at most MAX_CONFIG_BYTES: a
 * FIFO would block, /dev/zero would never end, and a config is a few kilobytes (the largest
 * hub config.json files, with id2label tables, stay under 100 KB). The bytes must be UTF-8 text
 * without NUL; any excerpt of them in a message is printable (printable.ts). Keys written twice
 * in one object are refused, naming both places, and containers may nest MAX_CONFIG_DEPTH deep.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { InputError } from '../core/errors.js';
import { isHuggingFaceConfig, parseHuggingFaceConfig } from './hf_config.js';
import { JsonSyntaxAt, JsonTooDeep, parseJsonDocument, type DuplicateKey } from './json_document.js';
import { describeJsonSyntaxError, lineAndColumn } from './json_syntax_error.js';
import type { ModelConfig } from './model_config.js';
import { listed, parseBundledPreset, parseModelConfig } from './parse_model_config.js';
import { printable } from './printable.js';

/** The largest config file read: 1 MiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** The deepest nesting of objects and arrays a config may have (hub configs nest 3 deep). */
const MAX_CONFIG_DEPTH = 32;

/**
 * Load the config at `filePath`; `source` is how messages cite it, `name` becomes the config's name.
 * `notFoundHint` completes the "file not found" message (e.g. the presets one could use instead);
 * it runs only when the file is missing. `bundled` marks one of the package's own presets, read
 * without the per-field schema (parse_model_config.ts, parseBundledPreset).
 */
export function readConfigFile(
  filePath: string,
  source: string,
  name: string,
  options: { readonly notFoundHint?: () => string; readonly bundled?: boolean } = {},
): ModelConfig {
  return configFromText(readConfigText(filePath, source, options.notFoundHint), source, name, options.bundled);
}

/**
 * The config a JSON text describes, a flopledger config or a Hugging Face config.json, refused as
 * a file would be (syntax, duplicate keys, nesting): what a file holds once read, or a pasted text.
 */
export function configFromText(text: string, source: string, name: string, bundled = false): ModelConfig {
  const value = parseConfigText(text, source);
  // A Hugging Face config.json names its model_type; a flopledger config never has that key.
  if (isHuggingFaceConfig(value)) return parseHuggingFaceConfig(value, source, name);
  return bundled ? parseBundledPreset(value, source, name) : parseModelConfig(value, source, name);
}

/** The file's text, once it is known to be a regular UTF-8 text file of at most MAX_CONFIG_BYTES. */
function readConfigText(filePath: string, source: string, notFoundHint?: () => string): string {
  let stats: Stats;
  try {
    stats = statSync(filePath);
  } catch (error) {
    throw new InputError(readFailure(source, error, notFoundHint));
  }
  const refusal = notARegularSmallFile(source, stats);
  if (refusal !== undefined) throw new InputError(refusal);

  let bytes: Buffer;
  try {
    bytes = readAtMost(filePath, source, MAX_CONFIG_BYTES);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(readFailure(source, error, notFoundHint));
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    throw new InputError(
      `${source}: is a binary file, not JSON text (a zero byte at offset ${nul}); pass a JSON config file`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${source}: is not UTF-8 text; a config file is JSON, which is UTF-8; save it as UTF-8`);
  }
  // Editors on Windows may save a byte-order mark, which JSON does not allow.
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** Why `stats` is not a file to read, or undefined when it is a regular file within the cap. */
function notARegularSmallFile(source: string, stats: Stats): string | undefined {
  if (stats.isDirectory()) return `${source}: is a directory; pass a JSON config file`;
  if (!stats.isFile()) return `${source}: is ${specialFileKind(stats)}, not a regular file; pass a JSON config file`;
  if (stats.size > MAX_CONFIG_BYTES) return tooLarge(source, `${stats.size} bytes`);
  return undefined;
}

function tooLarge(source: string, size: string): string {
  return (
    `${source}: is ${size}, more than a config file may be (1 MiB = ${MAX_CONFIG_BYTES} bytes); ` +
    'pass the model config (a config.json is a few KB), not weights or data'
  );
}

function specialFileKind(stats: Stats): string {
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Read at most `cap` bytes. The file is opened without blocking and checked again through its
 * descriptor, so a path swapped for a pipe or a growing file after the first check is still refused.
 */
function readAtMost(filePath: string, source: string, cap: number): Buffer {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. Windows has no such flag.
  const fd = openSync(filePath, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const refusal = notARegularSmallFile(source, fstatSync(fd));
    if (refusal !== undefined) throw new InputError(refusal);
    const buffer = Buffer.alloc(cap + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > cap) throw new InputError(tooLarge(source, 'over 1 MiB'));
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** The JSON value of a config's text; refuses bad syntax, duplicate keys and deep nesting. */
function parseConfigText(text: string, source: string): unknown {
  let document;
  try {
    document = parseJsonDocument(text, MAX_CONFIG_DEPTH);
  } catch (error) {
    if (error instanceof JsonTooDeep) {
      const { line, column } = lineAndColumn(text, error.offset);
      throw new InputError(
        `${source}: nests objects and arrays more than ${error.limit} deep (at line ${line}, column ${column}); ` +
          'a config is a flat object of numbers, strings and booleans',
      );
    }
    if (!(error instanceof JsonSyntaxAt)) throw error;
    throw new InputError(syntaxProblem(text, source, error.offset));
  }
  if (document.duplicates.length > 0) {
    throw new InputError(
      listed(
        document.duplicates,
        (duplicate) => duplicateProblem(text, source, duplicate),
        (more) => `${source}: and ${more} more keys given twice`,
      ),
    );
  }
  return document.value;
}

/** V8's reason and position where it gives one, else the parser's own offset. */
function syntaxProblem(text: string, source: string, offset: number): string {
  let where = { ...lineAndColumn(text, offset), reason: 'not valid JSON' };
  try {
    JSON.parse(text);
  } catch (error) {
    where = describeJsonSyntaxError(text, error);
  }
  return (
    `${source}: invalid JSON at line ${where.line}, column ${where.column}: ${where.reason}; ` +
    'fix the syntax (keys in double quotes, no trailing commas, no comments)'
  );
}

function duplicateProblem(text: string, source: string, duplicate: DuplicateKey): string {
  const [first, second] = [duplicate.firstOffset, duplicate.secondOffset].map((offset) => lineAndColumn(text, offset));
  const key = printable(duplicate.key);
  const where = duplicate.path === '' ? '' : ` in ${printable(duplicate.path)}`;
  const firstValue = printable(duplicate.firstText.replace(/\s+/g, ' '));
  const secondValue = printable(duplicate.secondText.replace(/\s+/g, ' '));
  return (
    `${source}: key "${key}"${where} is given twice, as ${firstValue} at line ${first?.line}, column ${first?.column} ` +
    `and as ${secondValue} at line ${second?.line}, column ${second?.column}; JSON readers keep only one of them, ` +
    'so the file is ambiguous; fix: remove one'
  );
}

function readFailure(source: string, error: unknown, notFoundHint: (() => string) | undefined): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${source}: file not found; check the path${notFoundHint !== undefined ? `, ${notFoundHint()}` : ''}`;
    case 'ENOTDIR':
      return `${source}: a part of the path is a file, not a directory; check the path`;
    case 'EISDIR':
      return `${source}: is a directory; pass a JSON config file`;
    case 'EACCES':
    case 'EPERM':
      return `${source}: cannot read the file (permission denied); check its permissions`;
    default: {
      const reason = error instanceof Error ? error.message : String(error);
      return `${source}: cannot read the file (${printable(reason, 120)})`;
    }
  }
}
