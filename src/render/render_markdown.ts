import { displayText } from './cell_text.js';
import type { Alignment, Block, Table } from './table.js';

/** Blocks as GitHub-flavoured Markdown: pipe tables with alignment rows, totals in bold. */
export function renderMarkdownBlocks(blocks: readonly Block[]): string {
  return blocks.map(renderMarkdownBlock).join('\n\n') + '\n';
}

function renderMarkdownBlock(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `${'#'.repeat(block.level)} ${block.text}`;
    case 'paragraph':
      return block.text;
    case 'list':
      return block.items.map((item) => `- ${item}`).join('\n');
    case 'table':
      return renderMarkdownTable(block.table);
  }
}

const ALIGNMENT_RULE: Record<Alignment, string> = { left: ':---', right: '---:', center: ':---:' };

export function renderMarkdownTable(table: Table): string {
  const line = (cells: readonly string[]) => `| ${cells.map(markdownCell).join(' | ')} |`;
  const lines = [
    ...(table.title === undefined ? [] : [`**${table.title}**`, '']),
    line(table.columns.map((column) => column.header)),
    `|${table.columns.map((column) => ALIGNMENT_RULE[column.align ?? 'left']).join('|')}|`,
    ...table.rows.map((row) => line(row.map(displayText))),
    ...(table.totals ?? []).map((row) => line(row.map((cell) => boldText(displayText(cell))))),
    ...(table.notes === undefined || table.notes.length === 0 ? [] : ['', ...table.notes]),
  ];
  return lines.join('\n');
}

function markdownCell(text: string): string {
  // A pipe would end the cell and a newline the row.
  return text.replaceAll('|', '\\|').replace(/\r?\n/g, '<br>');
}

function boldText(text: string): string {
  return text === '' ? '' : `**${text}**`;
}
