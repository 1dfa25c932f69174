/** A Vega-Lite chart drawn to SVG by Vega without a browser (renderer 'none'). */
import type { TopLevelSpec } from 'vega-lite';

/**
 * The spec drawn to a standalone SVG string. Vega numbers clip paths and gradients from 1 in
 * every view, so two charts inlined in one page would share ids: `idPrefix` makes them unique.
 */
export async function renderChartSvg(spec: TopLevelSpec, idPrefix = ''): Promise<string> {
  // Loaded here, not at the top: vega takes ~0.4 s to load and only `report` draws charts.
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return idPrefix === '' ? svg : prefixSvgIds(svg, idPrefix);
  } finally {
    view.finalize();
  }
}

function prefixSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_match, id: string) => `id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_match, id: string) => `url(#${prefix}${id})`);
}
