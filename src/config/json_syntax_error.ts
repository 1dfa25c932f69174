/**
 * Where a JSON config file is broken, as a line and column a user can jump to. V8's JSON.parse
 * names an offset for most errors ("... in JSON at position 42") but not all: "Unexpected token
 * 'a', "..." is not valid JSON" carries none. For those, the RFC 8259 parser of json_document.ts
 * finds the first offset where the text stops being JSON.
 */
import { JsonSyntaxAt, parseJsonDocument } from './json_document.js';
import { printable } from './printable.js';

export interface JsonSyntaxProblem {
  /** 1-based line of the offending character. */
  readonly line: number;
  /** 1-based column (in UTF-16 code units, like most editors' "Ln, Col"). */
  readonly column: number;
  /** The parser's reason without its position or echo of the text, e.g. "Expected ',' or '}' after property value". */
  readonly reason: string;
}

/** Locate the error `error` (thrown by JSON.parse(text)) in `text`. */
export function describeJsonSyntaxError(text: string, error: unknown): JsonSyntaxProblem {
  const message = error instanceof Error ? error.message : String(error);
  const reported = /at position (\d+)/.exec(message);
  const offset = reported?.[1] !== undefined ? Number(reported[1]) : (jsonErrorOffset(text) ?? text.length);
  const reason = message
    .replace(/,\s*".*" is not valid JSON$/s, '')
    .replace(/\s*in JSON at position \d+.*$/s, '')
    .trim();
  // V8 quotes the offending character ("Unexpected token '\u0001'"), which may be a control byte.
  return { ...lineAndColumn(text, offset), reason: reason === '' ? 'not valid JSON' : printable(reason, 120) };
}

/** 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.min(offset, text.length));
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: before.length - lineStart + 1 };
}

/** Offset of the first character where `text` stops being one JSON value, or undefined if it is valid JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  try {
    parseJsonDocument(text);
    return undefined;
  } catch (error) {
    if (error instanceof JsonSyntaxAt) return error.offset;
    throw error;
  }
}
