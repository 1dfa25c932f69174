/**
 * Draws the README's three charts into docs/ with the same code and data as `flopledger report`:
 *   docs/flop-shares-by-size.svg     stacked FLOP shares, GPT-2 small/medium/large/xl at T = 1024
 *   docs/flop-shares-by-context.svg  FLOP shares of GPT-2 XL from 1K to 64K tokens
 *   docs/roofline.svg                GPT-2 XL's modules on the A100 80 GB roofline
 * Run after a build: `npm run build && node dist/scripts/render_docs_charts.js`.
 */
import { join } from 'node:path';
import { packageRoot } from '../src/core/package_root.js';
import { documentFigures, drawDocument } from '../src/render/document.js';
import { writeFilesAtomically } from '../src/render/write_report_files.js';
import { buildReportDocument, FIGURE_FILES } from '../src/views/document.js';
import { collectReportData } from '../src/views/report_data.js';

const CHARTS: readonly string[] = [FIGURE_FILES.sharesBySize, FIGURE_FILES.sharesByContext, FIGURE_FILES.roofline];

// The report's own figures, drawn as the report draws them; no run is traced for the charts.
const document = buildReportDocument({ ...collectReportData(), verifications: [] });
const figures = documentFigures(await drawDocument(document)).filter((figure) => CHARTS.includes(figure.file));
// The charts replace the old ones together, or none does.
const written = await writeFilesAtomically(
  join(packageRoot(), 'docs'),
  figures.map((figure) => ({ name: figure.file, content: figure.svg })),
  'docs',
);
for (const path of written) process.stdout.write(`wrote ${path}\n`);
