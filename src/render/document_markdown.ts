import type { ReportDocument } from './document.js';
import { renderMarkdownBlocks } from './render_markdown.js';

/** report.md: GitHub-flavoured Markdown; each chart is an image of the SVG file saved beside it. */
export function renderDocumentMarkdown(document: ReportDocument): string {
  const chunks = document.parts.map((part) =>
    part.kind === 'figure'
      ? `![${part.title}](${part.file})\n\n*${part.caption}*`
      : renderMarkdownBlocks([part]).trimEnd(),
  );
  return chunks.join('\n\n') + '\n';
}
