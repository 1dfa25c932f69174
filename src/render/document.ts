/**
 * The report document as the renderers take it: blocks (headings, paragraphs, tables) and
 * figures (charts as SVG) in reading order. src/views/document.ts builds it.
 */
import type { Block } from './table.js';

/** A chart: drawn inline in HTML, saved as `file` next to report.md. */
export interface Figure {
  readonly kind: 'figure';
  /** Stable id: the HTML element id and the SVG file's base name. */
  readonly id: string;
  readonly file: string;
  readonly title: string;
  readonly caption: string;
  readonly svg: string;
}

export type DocumentPart = Block | Figure;

export interface ReportDocument {
  readonly title: string;
  readonly parts: readonly DocumentPart[];
}

/** The figures in document order, for writing their SVG files. */
export function documentFigures(document: ReportDocument): Figure[] {
  return document.parts.filter((part): part is Figure => part.kind === 'figure');
}
