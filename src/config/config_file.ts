/**
 * Reading one JSON config file, a flopledger config or a Hugging Face config.json: every way it
 * can fail (missing, a directory, unreadable, not JSON, not a valid config) becomes one InputError
 * line that names the file as the user wrote it.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { isHuggingFaceConfig, parseHuggingFaceConfig } from './hf_config.js';
import { describeJsonSyntaxError } from './json_syntax_error.js';
import type { ModelConfig } from './model_config.js';
import { parseModelConfig } from './parse_model_config.js';

/**
 * Load the config at `filePath`; `source` is how messages cite it, `name` becomes the config's name.
 * `notFoundHint` completes the "file not found" message (e.g. the presets one could use instead);
 * it runs only when the file is missing.
 */
export function readConfigFile(
  filePath: string,
  source: string,
  name: string,
  notFoundHint?: () => string,
): ModelConfig {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new InputError(readFailure(source, error, notFoundHint));
  }
  // Editors on Windows may save a byte-order mark, which JSON.parse rejects.
  const json = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    const { line, column, reason } = describeJsonSyntaxError(json, error);
    throw new InputError(
      `${source}: invalid JSON at line ${line}, column ${column}: ${reason}; ` +
        'fix the syntax (keys in double quotes, no trailing commas, no comments)',
    );
  }
  // A Hugging Face config.json names its model_type; a flopledger config never has that key.
  return isHuggingFaceConfig(value)
    ? parseHuggingFaceConfig(value, source, name)
    : parseModelConfig(value, source, name);
}

function readFailure(source: string, error: unknown, notFoundHint: (() => string) | undefined): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${source}: file not found; check the path${notFoundHint !== undefined ? `, ${notFoundHint()}` : ''}`;
    case 'EISDIR':
      return `${source}: is a directory; pass a JSON config file`;
    case 'EACCES':
    case 'EPERM':
      return `${source}: cannot read the file (permission denied); check its permissions`;
    default: {
      const reason = error instanceof Error ? error.message : String(error);
      return `${source}: cannot read the file (${reason})`;
    }
  }
}
