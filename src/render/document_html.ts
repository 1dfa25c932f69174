/**
 * report.html: one self-contained page. The charts are inline SVG and the style sheet is inline,
 * so the file opens offline, from any directory, with nothing to fetch.
 */
import { displayText } from './cell_text.js';
import type { DocumentPart, DrawnFigure, ReportDocument } from './document.js';
import type { Alignment, Block, Cell, Table } from './table.js';

const STYLE = `
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1.1rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; vertical-align: top; }
th { background: #f4f4f4; } tfoot td { font-weight: 600; }
td.right, th.right { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; } td.center, th.center { text-align: center; }
.mark-ok { color: #1a7f37; } .mark-bad { color: #c62828; font-weight: 600; } .mark-formula { color: #6e6e6e; }
figure { margin: 1.5rem 0; overflow-x: auto; } figcaption { color: #555; font-size: 13px; }
p.note { color: #555; font-size: 13px; margin: .2rem 0; }
code { font: 13px ui-monospace, "SF Mono", Menlo, Consolas, monospace; background: #f4f4f4; padding: 0 .2rem; }
`.trim();

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

export function renderDocumentHtml(document: ReportDocument<DrawnFigure>): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(document.title)}</title>`,
    `<style>\n${STYLE}\n</style>`,
    '</head>',
    '<body>',
    ...document.parts.map(renderPart),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function renderPart(part: DocumentPart<DrawnFigure>): string {
  if (part.kind === 'figure') {
    return [
      `<figure id="${escapeHtml(part.id)}" data-chart="${escapeHtml(part.id)}">`,
      part.svg,
      `<figcaption>${escapeHtml(part.title)}. ${escapeHtml(part.caption)}</figcaption>`,
      '</figure>',
    ].join('\n');
  }
  return renderBlockHtml(part);
}

/** One block as HTML, as report.html writes it (the web page shows reports block by block). */
export function renderBlockHtml(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `<h${block.level}>${escapeHtml(block.text)}</h${block.level}>`;
    case 'paragraph':
      return `<p>${inlineHtml(block.text)}</p>`;
    case 'list':
      return `<ul>\n${block.items.map((item) => `<li>${inlineHtml(item)}</li>`).join('\n')}\n</ul>`;
    case 'table':
      return renderTable(block.table);
  }
}

function renderTable(table: Table): string {
  const align = (index: number): Alignment => table.columns[index]?.align ?? 'left';
  const cell = (tag: 'td' | 'th', value: Cell, index: number) => {
    const text = displayText(value);
    const classes = [align(index) === 'left' ? '' : align(index), markClass(text)].filter((c) => c !== '');
    const attribute = classes.length === 0 ? '' : ` class="${classes.join(' ')}"`;
    return `<${tag}${attribute}>${inlineHtml(text)}</${tag}>`;
  };
  const row = (cells: readonly Cell[]) => `<tr>${cells.map((value, index) => cell('td', value, index)).join('')}</tr>`;
  const lines = [
    '<table>',
    ...(table.title === undefined ? [] : [`<caption>${escapeHtml(table.title)}</caption>`]),
    `<thead><tr>${table.columns.map((column, index) => cell('th', column.header, index)).join('')}</tr></thead>`,
    `<tbody>\n${table.rows.map(row).join('\n')}\n</tbody>`,
    ...(table.totals === undefined || table.totals.length === 0
      ? []
      : [`<tfoot>${table.totals.map(row).join('')}</tfoot>`]),
    '</table>',
    ...(table.notes ?? []).map((note) => `<p class="note">${escapeHtml(note)}</p>`),
  ];
  return lines.join('\n');
}

/** Escaped text with Markdown's `code` spans (the one inline markup the report's prose uses) as <code>. */
function inlineHtml(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** Verification marks are coloured so a mismatch cannot be missed. */
function markClass(text: string): string {
  if (text.startsWith('✓')) return 'mark-ok';
  if (text.startsWith('✗')) return 'mark-bad';
  if (text === 'formula only') return 'mark-formula';
  return '';
}
