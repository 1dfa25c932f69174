import { documentFigures, drawDocument, type ReportDocument } from './document.js';
import { renderDocumentHtml } from './document_html.js';
import { renderDocumentMarkdown } from './document_markdown.js';
import type { OutputFile } from './write_report_files.js';

/** What `report` writes: report.md, report.html (charts inline) and each chart as an SVG file beside them. */
export async function reportFiles(document: ReportDocument): Promise<OutputFile[]> {
  const drawn = await drawDocument(document);
  return [
    { name: 'report.md', content: renderDocumentMarkdown(drawn) },
    { name: 'report.html', content: renderDocumentHtml(drawn) },
    ...documentFigures(drawn).map((figure) => ({ name: figure.file, content: figure.svg })),
  ];
}
