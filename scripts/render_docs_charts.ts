/**
 * Draws the README's two charts into docs/ with the same code and data as `flopledger report`:
 *   docs/flop-shares-by-size.svg     stacked FLOP shares, GPT-2 small/medium/large/xl at T = 1024
 *   docs/flop-shares-by-context.svg  FLOP shares of GPT-2 XL from 1K to 64K tokens
 * Run after a build: `npm run build && node dist/scripts/render_docs_charts.js`.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/core/package_root.js';
import { FIGURE_FILES } from '../src/views/document.js';
import { collectReportData, renderShareCharts } from '../src/views/report_data.js';

const docsDir = join(packageRoot(), 'docs');
const charts = await renderShareCharts(collectReportData());
mkdirSync(docsDir, { recursive: true });
for (const [file, svg] of [
  [FIGURE_FILES.sharesBySize, charts.sharesBySize],
  [FIGURE_FILES.sharesByContext, charts.sharesByContext],
] as const) {
  // Written beside the target and renamed, so an interrupted run never leaves half an SVG.
  const target = join(docsDir, file);
  const staging = `${target}.tmp-${process.pid}`;
  writeFileSync(staging, svg);
  renameSync(staging, target);
  process.stdout.write(`wrote ${target}\n`);
}
