import CliTable from 'cli-table3';
import { displayText } from './cell_text.js';
import type { Block, Table } from './table.js';

/** Blocks for a terminal: tables drawn by cli-table3, prose as plain lines. */
export function renderTextBlocks(blocks: readonly Block[]): string {
  return blocks.map(renderTextBlock).join('\n\n') + '\n';
}

function renderTextBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return block.level === 1 ? `${block.text}\n${'='.repeat(block.text.length)}` : block.text;
    case 'paragraph':
      return block.text;
    case 'list':
      return block.items.map((item) => `- ${item}`).join('\n');
    case 'table':
      return renderTextTable(block.table);
  }
}

export function renderTextTable(table: Table): string {
  const drawn = new CliTable({
    head: table.columns.map((column) => column.header),
    colAligns: table.columns.map((column) => column.align ?? 'left'),
    // No colours: output is often piped or captured, and escape codes would corrupt it.
    style: { head: [], border: [], compact: true },
  });
  for (const row of [...table.rows, ...(table.totals ?? [])]) drawn.push(row.map(displayText));
  const parts = [table.title, drawn.toString(), ...(table.notes ?? [])];
  return parts.filter((part): part is string => part !== undefined).join('\n');
}
