/**
 * The report model every command hands to one renderer: a sequence of blocks (headings,
 * paragraphs, lists, tables) plus the report's typed data, which `--format json` writes. Views
 * build both; renderers decide how they look.
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

export interface Report<Data = unknown> {
  readonly blocks: readonly Block[];
  /**
   * The report's data: exact bigints and TypeScript field names, with no JSON mapping of its
   * own. `--format json` writes it through the one serializer, toJsonText (json_text.ts), which
   * fixes the key case and writes bigints as decimal strings.
   */
  readonly json: Data;
}

export const heading = (text: string, level: 1 | 2 | 3 = 2): Block => ({ kind: 'heading', text, level });
export const paragraph = (text: string): Block => ({ kind: 'paragraph', text });
export const list = (items: readonly string[]): Block => ({ kind: 'list', items });
export const tableBlock = (table: Table): Block => ({ kind: 'table', table });

/** How far a breakdown goes: 0 the total, 1 components, 2 per layer, 3 every row. */
export const DEPTHS = [0, 1, 2, 3] as const;
export type Depth = (typeof DEPTHS)[number];
