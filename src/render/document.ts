/**
 * The report document as the renderers take it: blocks (headings, paragraphs, tables) and
 * figures (charts as Vega-Lite specs) in reading order. src/views/document.ts builds it;
 * drawDocument draws its charts, and document_markdown.ts and document_html.ts write it.
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderChartSvg } from './chart_svg.js';
import type { Block } from './table.js';

/** A chart: drawn inline in HTML, saved as `file` next to report.md. */
export interface Figure {
  readonly kind: 'figure';
  /** Stable id: the HTML element id, the SVG file's base name and the prefix of the SVG's own ids. */
  readonly id: string;
  readonly file: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

/** A figure with its chart drawn. */
export interface DrawnFigure extends Figure {
  readonly svg: string;
}

export type DocumentPart<F extends Figure = Figure> = Block | F;

export interface ReportDocument<F extends Figure = Figure> {
  readonly title: string;
  readonly parts: readonly DocumentPart<F>[];
}

/** Every figure drawn to SVG; the SVG's ids are prefixed with the figure's id, so one page can hold them all. */
export async function drawDocument(document: ReportDocument): Promise<ReportDocument<DrawnFigure>> {
  const parts: DocumentPart<DrawnFigure>[] = [];
  for (const part of document.parts) {
    parts.push(part.kind === 'figure' ? { ...part, svg: await renderChartSvg(part.spec, `${part.id}-`) } : part);
  }
  return { title: document.title, parts };
}

/** The figures in document order, for writing their SVG files. */
export function documentFigures<F extends Figure>(document: ReportDocument<F>): F[] {
  return document.parts.filter((part): part is F => part.kind === 'figure');
}
