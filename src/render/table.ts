/**
 * The report model every command hands to one renderer: a sequence of blocks (headings,
 * paragraphs, lists, tables) plus the report's typed data, which `--format json` writes. Views
 * build both; renderers decide how they look.
 */

export type Alignment = 'left' | 'right' | 'center';

/** An exact fraction shown to a fixed number of decimals: "556,709.3" for people, "556709.3" in CSV. */
export interface FixedCell {
  readonly kind: 'fixed';
  readonly numerator: bigint;
  readonly denominator: bigint;
  readonly decimals: number;
}

/**
 * Words with exact numbers in them ("1 x 1,024 tokens", "+1,234", "2.0000x"): the numbers are
 * grouped in text views and written as plain digits in CSV, so a spreadsheet can read them.
 */
export interface TextCell {
  readonly kind: 'text';
  readonly parts: readonly (string | bigint | FixedCell)[];
}

/**
 * A bigint cell is a count: exact digits, grouped in text views and plain in CSV. A string is
 * shown as it is everywhere, so a number inside one belongs in a FixedCell or a TextCell.
 */
export type Cell = string | number | bigint | FixedCell | TextCell;

/** numerator / denominator to `decimals` places, rounded half away from zero. */
export const fixed = (numerator: bigint, denominator: bigint, decimals: number): FixedCell => ({
  kind: 'fixed',
  numerator,
  denominator,
  decimals,
});

/**
 * A TextCell from a template: `cellText\`${seq} tokens\``. Bigints, whole numbers and FixedCells
 * are numbers to format; strings are words.
 */
export function cellText(
  words: TemplateStringsArray,
  ...values: readonly (string | number | bigint | Cell)[]
): TextCell {
  const parts: (string | bigint | FixedCell)[] = [];
  words.forEach((word, index) => {
    if (word !== '') parts.push(word);
    if (index < values.length) parts.push(...cellParts(values[index]!));
  });
  return { kind: 'text', parts };
}

function cellParts(value: string | number | bigint | Cell): TextCell['parts'] {
  if (typeof value === 'number') return [Number.isSafeInteger(value) ? BigInt(value) : String(value)];
  if (typeof value === 'string' || typeof value === 'bigint') return [value];
  return value.kind === 'text' ? value.parts : [value];
}

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
