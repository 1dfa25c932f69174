import { toJsonText } from './json_text.js';
import { renderCsvBlocks } from './render_csv.js';
import { renderMarkdownBlocks } from './render_markdown.js';
import { renderTextBlocks } from './render_text_table.js';
import type { Report } from './table.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'markdown'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The one place a report becomes text. */
export function renderReport(report: Report, format: OutputFormat): string {
  switch (format) {
    case 'table':
      return renderTextBlocks(report.blocks);
    case 'json':
      return toJsonText(report.json) + '\n';
    case 'csv':
      return renderCsvBlocks(report.blocks);
    case 'markdown':
      return renderMarkdownBlocks(report.blocks);
  }
}
