import { plainText } from './cell_text.js';
import type { Block, Table } from './table.js';

/**
 * CSV per RFC 4180: CRLF line ends, a header row, and a field quoted when it holds a comma, a
 * double quote, CR or LF (embedded quotes doubled). Counts are plain digits so spreadsheets
 * and scripts read them exactly. Only tables are data: prose blocks are left out, and several
 * tables are separated by one empty line.
 */
export function renderCsvBlocks(blocks: readonly Block[]): string {
  const tables = blocks.flatMap((block) => (block.kind === 'table' ? [block.table] : []));
  return tables.map(renderCsvTable).join('\r\n');
}

export function renderCsvTable(table: Table): string {
  const lines = [
    table.columns.map((column) => column.header),
    ...[...table.rows, ...(table.totals ?? [])].map((row) => row.map(plainText)),
  ];
  return lines.map((fields) => fields.map(csvField).join(',') + '\r\n').join('');
}

export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
