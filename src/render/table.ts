/**
 * The report model every command hands to one renderer: a sequence of blocks (headings,
 * paragraphs, lists, tables) plus the JSON payload for `--format json`. Commands build data;
 * renderers decide how it looks.
 */

export type Alignment = 'left' | 'right' | 'center';

/** A bigint cell is a count: exact digits, grouped in text views and plain in CSV. */
export type Cell = string | number | bigint;

export interface Column {
  readonly header: string;
  readonly align?: Alignment;
}

export interface Table {
  readonly title?: string;
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly Cell[])[];
  /** Summary rows (totals) shown after the body, set apart where the format allows. */
  readonly totals?: readonly (readonly Cell[])[];
  /** Sentences shown under the table: conventions, caveats. */
  readonly notes?: readonly string[];
}

export type Block =
  | { readonly kind: 'heading'; readonly text: string; readonly level: 1 | 2 | 3 }
  | { readonly kind: 'paragraph'; readonly text: string }
  | { readonly kind: 'list'; readonly items: readonly string[] }
  | { readonly kind: 'table'; readonly table: Table };

export interface Report {
  readonly blocks: readonly Block[];
  /** What `--format json` prints; bigints become decimal strings. */
  readonly json: unknown;
}

export const heading = (text: string, level: 1 | 2 | 3 = 2): Block => ({ kind: 'heading', text, level });
export const paragraph = (text: string): Block => ({ kind: 'paragraph', text });
export const list = (items: readonly string[]): Block => ({ kind: 'list', items });
export const tableBlock = (table: Table): Block => ({ kind: 'table', table });

/** How far a breakdown goes: 0 the total, 1 components, 2 per layer, 3 every row. */
export const DEPTHS = [0, 1, 2, 3] as const;
export type Depth = (typeof DEPTHS)[number];
